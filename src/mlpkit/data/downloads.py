"""Data sets downloaded on first use, checked against published checksums and cached on disk.

Each data set is a ``DownloadSpec`` in ``DOWNLOADABLE``: the raw files (with mirrors and
checksums) plus the function that turns them into ``LoadedData``. The cache holds the raw files
untouched, one folder per data set, so a user can also put them there by hand.

>>> data = load_downloadable("fashion_mnist")  # doctest: +SKIP
>>> data.X.shape, data.test[0].shape  # doctest: +SKIP
((60000, 784), (10000, 784))
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import logging
import os
import tarfile
import urllib.request
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataError, DataNotFoundError, DownloadError
from ..io.atomic import atomic_write
from .idx import read_idx_images
from .source import LoadedData, Task

logger = logging.getLogger(__name__)

_CHUNK = 1 << 20
_ALGORITHMS = {"sha256": 64, "md5": 32}  # algorithm -> hex digest length


@dataclass(frozen=True)
class RemoteFile:
    """One file of a data set: its name in the cache, where to get it, and its checksum.

    ``checksum`` is ``"sha256:<hex>"`` or ``"md5:<hex>"``; ``urls`` are tried in order.
    """

    filename: str
    urls: tuple[str, ...]
    checksum: str


@dataclass(frozen=True)
class DownloadSpec:
    """A downloadable data set. ``load`` turns the cached raw files into ``LoadedData``."""

    name: str
    task: Task
    description: str
    files: tuple[RemoteFile, ...]
    load: Callable[[DownloadSpec, Mapping[str, Path]], LoadedData]
    class_names: tuple[str, ...] | None = None
    val_size: int | None = None
    samples: int | None = None  # training plus official test samples, as published
    features: int | None = None


def default_cache_dir() -> Path:
    """``$MLPKIT_DATA`` if set, else ``~/.cache/mlpkit``.

    >>> default_cache_dir()  # doctest: +SKIP
    PosixPath('/home/me/.cache/mlpkit')
    """
    env = os.environ.get("MLPKIT_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "mlpkit"


def _spec(name: str | DownloadSpec) -> DownloadSpec:
    if isinstance(name, DownloadSpec):
        return name
    if name not in DOWNLOADABLE:
        raise ConfigError(
            f"unknown downloadable data set {name!r}; choose one of: {', '.join(DOWNLOADABLE)}"
        )
    return DOWNLOADABLE[name]


def _folder(spec: DownloadSpec, cache_dir: Path | str | None) -> Path:
    return (
        Path(cache_dir if cache_dir is not None else default_cache_dir()).expanduser() / spec.name
    )


def is_cached(name: str | DownloadSpec, cache_dir: Path | str | None = None) -> bool:
    """Whether every raw file of data set ``name`` is in the cache (checksums not checked).

    >>> is_cached("mnist", cache_dir="/tmp/empty")  # doctest: +SKIP
    False
    """
    spec = _spec(name)
    folder = _folder(spec, cache_dir)
    return all((folder / f.filename).is_file() for f in spec.files)


def _split_checksum(checksum: str) -> tuple[str, str]:
    algorithm, _, digest = checksum.lower().partition(":")
    if _ALGORITHMS.get(algorithm) != len(digest):
        raise ConfigError(f"checksum {checksum!r} is not 'sha256:<64 hex>' or 'md5:<32 hex>'")
    return algorithm, digest


def file_checksum(path: Path | str, algorithm: str = "sha256") -> str:
    """The checksum of a file in the ``"algorithm:hex"`` form that specs use.

    >>> file_checksum("cal_housing.tgz")  # doctest: +SKIP
    'sha256:aaa5c9a6...'
    """
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return f"{algorithm}:{h.hexdigest()}"


class _ChecksumMismatch(Exception):
    """A download that arrived whole but with another checksum; it never reaches its name."""

    def __init__(self, digest: str) -> None:
        super().__init__(digest)
        self.digest = digest


def _download(url: str, out, algorithm: str, expected: str, timeout: float) -> None:
    """Stream ``url`` into the open file ``out``, checking its checksum as it arrives."""
    digest = hashlib.new(algorithm)
    request = urllib.request.Request(url, headers={"User-Agent": "mlpkit"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        while chunk := response.read(_CHUNK):
            digest.update(chunk)
            out.write(chunk)
    if digest.hexdigest() != expected:
        raise _ChecksumMismatch(digest.hexdigest())


def fetch(
    urls: str | Sequence[str], destination: Path | str, checksum: str, *, timeout: float = 60.0
) -> Path:
    """Download a file, trying each URL in turn, and check it before it appears at ``destination``.

    The data goes to a temporary file in the same folder and is renamed into place only once its
    checksum matches, so ``destination`` never holds a partial or wrong file.

    >>> fetch("https://example.org/a.gz", "/tmp/a.gz", "sha256:" + "0" * 64)  # doctest: +SKIP
    """
    urls = (urls,) if isinstance(urls, str) else tuple(urls)
    if not urls:
        raise ConfigError(f"no URL given for {destination}; pass at least one")
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    algorithm, expected = _split_checksum(checksum)
    failures: list[str] = []
    mismatch: DownloadError | None = None
    for url in urls:
        try:
            logger.info("downloading %s to %s", url, destination)
            atomic_write(
                destination, lambda out, url=url: _download(url, out, algorithm, expected, timeout)
            )
            logger.info("saved %s (%d bytes)", destination, destination.stat().st_size)
            if failures:  # said here, not per failure: when every mirror fails, the error does
                logger.warning("downloaded %s from %s after: %s", destination.name, url, failures)
            return destination
        except _ChecksumMismatch as bad:
            # A bad copy on one mirror is a reason to try the next one.
            mismatch = DownloadError(
                f"checksum mismatch for {destination.name} from {url}: expected "
                f"{algorithm}:{expected}, got {algorithm}:{bad.digest}; try again later "
                f"or put a good copy at {destination}"
            )
            logger.warning("%s", mismatch)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            # URLError, timeouts, resets and truncated HTTP bodies all land here.
            failures.append(f"{url} ({getattr(exc, 'reason', exc)})")
            logger.info("could not download %s: %s", url, exc)
    if mismatch is not None:
        raise mismatch
    raise DownloadError(
        f"could not download {destination.name} from {', '.join(failures)}; "
        f"download it by hand and put it at {destination}"
    )


def load_downloadable(
    name: str | DownloadSpec, cache_dir: Path | str | None = None, download: bool = True
) -> LoadedData:
    """Load a downloadable data set, downloading its missing files into the cache first.

    ``name`` is a key of ``DOWNLOADABLE`` (or a ``DownloadSpec``, e.g. one pointing at a mirror).

    >>> data = load_downloadable("mnist", cache_dir="~/data")  # doctest: +SKIP
    >>> data.X.shape, data.image_shape, data.val_size  # doctest: +SKIP
    ((60000, 784), (28, 28), 5000)
    """
    spec = _spec(name)
    folder = _folder(spec, cache_dir)
    paths: dict[str, Path] = {}
    for remote in spec.files:
        path = folder / remote.filename
        if not path.is_file():
            if not download:
                raise DataNotFoundError(
                    f"data set {spec.name!r} is not downloaded: {path} is missing; call with "
                    f"download=True or put the file from {remote.urls[0]} there"
                )
            try:
                fetch(remote.urls, path, remote.checksum)
            except DownloadError as exc:
                others = [f.filename for f in spec.files if f is not remote]
                missing = [name for name in others if not (folder / name).is_file()]
                if not missing:
                    raise
                raise DownloadError(
                    f"{exc}; {spec.name} also needs {', '.join(missing)} in that folder"
                ) from None
        elif file_checksum(path, _split_checksum(remote.checksum)[0]) != remote.checksum.lower():
            # Cheap (tens of ms) and catches files truncated or replaced since they were cached.
            fix = (
                "delete it so it is downloaded again"
                if download
                else f"put a good copy from {remote.urls[0]} there (downloads are off)"
            )
            raise DataError(f"{path} does not match its checksum {remote.checksum}; {fix}")
        paths[remote.filename] = path
    logger.info("loading %s from %s", spec.name, folder)
    return spec.load(spec, paths)


# --- turning raw files into LoadedData -----------------------------------------------------


def _load_idx(spec: DownloadSpec, paths: Mapping[str, Path]) -> LoadedData:
    train_x, train_y, test_x, test_y = (paths[f.filename] for f in spec.files)
    X, y = read_idx_images(train_x, train_y, n_classes=len(spec.class_names or ()))
    X_test, y_test = read_idx_images(test_x, test_y, n_classes=len(spec.class_names or ()))
    shape = tuple(int(n) for n in X.shape[1:])
    return LoadedData(
        name=spec.name,
        X=X.reshape(len(X), -1),  # an MLP sees one feature per pixel
        y=y,
        task=spec.task,
        feature_names=[f"px_{r}_{c}" for r in range(shape[0]) for c in range(shape[1])],
        class_names=list(spec.class_names or ()),
        image_shape=shape,
        test=(X_test.reshape(len(X_test), -1), y_test),
        val_size=spec.val_size,
        description=spec.description,
    )


def _load_cal_housing(spec: DownloadSpec, paths: Mapping[str, Path]) -> LoadedData:
    path = paths[spec.files[0].filename]
    try:
        with tarfile.open(path, mode="r:gz") as tar:
            raw = np.loadtxt(tar.extractfile("CaliforniaHousing/cal_housing.data"), delimiter=",")
    except (tarfile.TarError, KeyError, EOFError, zlib.error, ValueError) as exc:
        raise DataError(f"cannot read {path} ({exc}); delete it so it is downloaded again") from exc
    # Columns: longitude, latitude, housing_median_age, total_rooms, total_bedrooms, population,
    # households, median_income, median_house_value. Per-household averages as scikit-learn.
    lon, lat, age, rooms, bedrooms, population, households, income, value = raw.T
    X = np.column_stack([income, age, rooms / households, bedrooms / households, population,
                         population / households, lat, lon])  # fmt: skip
    return LoadedData(
        name=spec.name,
        X=X.astype(np.float32),
        y=(value / 100000.0).astype(np.float32),  # MedHouseVal in units of $100,000
        task=spec.task,
        feature_names=list(_HOUSING_FEATURES),
        description=spec.description,
    )


# fmt: off
_HOUSING_FEATURES = ("MedInc", "HouseAge", "AveRooms", "AveBedrms", "Population", "AveOccup",
                     "Latitude", "Longitude")
_COVTYPE_FEATURES = (
    "Elevation", "Aspect", "Slope", "Horizontal_Distance_To_Hydrology",
    "Vertical_Distance_To_Hydrology", "Horizontal_Distance_To_Roadways", "Hillshade_9am",
    "Hillshade_Noon", "Hillshade_3pm", "Horizontal_Distance_To_Fire_Points",
    *(f"Wilderness_Area_{i}" for i in range(4)), *(f"Soil_Type_{i}" for i in range(40)),
)
# fmt: on


def _load_covtype(spec: DownloadSpec, paths: Mapping[str, Path]) -> LoadedData:
    path = paths[spec.files[0].filename]
    try:
        # pandas parses the 581,012 rows several times faster than numpy.genfromtxt.
        raw = pd.read_csv(path, header=None, compression="gzip").to_numpy()
    except (EOFError, gzip.BadGzipFile, zlib.error, ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"cannot read {path} ({exc}); delete it so it is downloaded again") from exc
    if raw.ndim != 2 or raw.shape[1] != 55 or not np.isin(raw[:, -1], range(1, 8)).all():
        raise DataError(
            f"{path} is not 54 features plus a cover type 1..7 per row; delete it so it is "
            "downloaded again"
        )
    return LoadedData(
        name=spec.name,
        X=raw[:, :-1].astype(np.float32),
        y=raw[:, -1].astype(np.int64) - 1,  # cover types 1..7 become classes 0..6
        task=spec.task,
        feature_names=list(_COVTYPE_FEATURES),
        class_names=list(spec.class_names or ()),
        description=spec.description,
    )


# --- the registry ------------------------------------------------------------------------------

_IDX_NAMES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
              "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")  # fmt: skip


def _idx_files(mirrors: Sequence[str], md5s: Sequence[str]) -> tuple[RemoteFile, ...]:
    return tuple(
        RemoteFile(name, tuple(m + name for m in mirrors), f"md5:{md5}")
        for name, md5 in zip(_IDX_NAMES, md5s, strict=True)
    )


# Checksums are the published ones: MD5 for (Fashion-)MNIST as in torchvision and the
# Fashion-MNIST README (in _IDX_NAMES order); SHA-256 for the archives scikit-learn downloads.
# Mirrors come second; the checksum makes sure every mirror serves the same bytes.
# fmt: off
DOWNLOADABLE: dict[str, DownloadSpec] = {
    "mnist": DownloadSpec(
        "mnist", "classification",
        "MNIST handwritten digits: 28x28 grayscale, 60,000 train and 10,000 test images.",
        _idx_files(["https://ossci-datasets.s3.amazonaws.com/mnist/",
                    "https://storage.googleapis.com/cvdf-datasets/mnist/"],
                   ["f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
                    "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c"]),
        _load_idx, class_names=tuple(str(d) for d in range(10)), val_size=5000,
        samples=70000, features=784,
    ),
    "fashion_mnist": DownloadSpec(
        "fashion_mnist", "classification",
        "Fashion-MNIST (Zalando): 28x28 grayscale clothing, 60,000 train and 10,000 test images.",
        _idx_files(["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/"
                    "data/fashion/"],
                   ["8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
                    "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310"]),
        _load_idx,
        class_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                     "Sneaker", "Bag", "Ankle boot"),
        val_size=5000, samples=70000, features=784,
    ),
    "california_housing": DownloadSpec(
        "california_housing", "regression",
        "California housing (1990 census): 20,640 block groups; target median house value "
        "in $100,000.",
        (RemoteFile("cal_housing.tgz",
                    ("https://ndownloader.figshare.com/files/5976036",
                     "https://www.dcc.fc.up.pt/~ltorgo/Regression/cal_housing.tgz"),
                    "sha256:aaa5c9a6afe2225cc2aed2723682ae403280c4a3695a2ddda4ffb5d8215ea681"),),
        _load_cal_housing, samples=20640, features=8,
    ),
    "covtype": DownloadSpec(
        "covtype", "classification",
        "Forest cover type (UCI): 581,012 cells of 30x30 m, 54 features, 7 cover types.",
        (RemoteFile("covtype.data.gz",
                    ("https://ndownloader.figshare.com/files/5976039",
                     "https://archive.ics.uci.edu/ml/machine-learning-databases/covtype/"
                     "covtype.data.gz"),
                    "sha256:614360d0257557dd1792834a85a1cdebfadc3c4f30b011d56afee7ffb5b15771"),),
        _load_covtype,
        class_names=("Spruce/Fir", "Lodgepole Pine", "Ponderosa Pine", "Cottonwood/Willow",
                     "Aspen", "Douglas-fir", "Krummholz"),
        samples=581012, features=54,
    ),
}
# fmt: on
