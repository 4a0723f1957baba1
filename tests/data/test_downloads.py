"""Downloadable data sets, end to end without a network.

Each test writes tiny files in the real formats, then runs the real download code on them through
``file://`` URLs with their real checksums: the same code path as a download from the web.
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import tarfile

import numpy as np
import pytest

from mlpkit.data.downloads import (
    DOWNLOADABLE,
    DownloadSpec,
    RemoteFile,
    default_cache_dir,
    fetch,
    file_checksum,
    is_cached,
    load_downloadable,
)
from mlpkit.data.idx import write_idx
from mlpkit.errors import ConfigError, DataError, DataNotFoundError, DownloadError


def local_spec(name: str, source, **urls_by_file) -> DownloadSpec:
    """The registered spec of ``name`` with its files served from ``source`` (file:// URLs).

    Checksums use the same algorithm as the published ones (MD5 for IDX, SHA-256 otherwise).
    """
    files = []
    for remote in DOWNLOADABLE[name].files:
        path = source / remote.filename
        urls = urls_by_file.get(remote.filename, (path.as_uri(),))
        algorithm = remote.checksum.partition(":")[0]
        files.append(RemoteFile(remote.filename, tuple(urls), file_checksum(path, algorithm)))
    return dataclasses.replace(DOWNLOADABLE[name], files=tuple(files))


@pytest.fixture
def idx_source(tmp_path):
    """Tiny MNIST-format files: 12 training and 5 test images of 28x28, labels 0..9."""
    rng = np.random.default_rng(0)
    source = tmp_path / "source"
    source.mkdir()
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (12, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte.gz": np.arange(12, dtype=np.uint8) % 10,
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte.gz": np.array([9, 0, 4, 2, 7], dtype=np.uint8),
    }
    arrays["train-images-idx3-ubyte.gz"][0, 0, :2] = [0, 255]  # both ends of the range
    for filename, array in arrays.items():
        write_idx(source / filename, array)
    return source, arrays


@pytest.mark.parametrize(
    ("name", "first_class", "last_class"),
    [("fashion_mnist", "T-shirt/top", "Ankle boot"), ("mnist", "0", "9")],
)
def test_image_data_set_downloads_and_loads(tmp_path, idx_source, name, first_class, last_class):
    source, arrays = idx_source
    cache = tmp_path / "cache"
    data = load_downloadable(local_spec(name, source), cache_dir=cache)

    assert is_cached(name, cache_dir=cache)
    assert (cache / name / "train-images-idx3-ubyte.gz").read_bytes() == (
        source / "train-images-idx3-ubyte.gz"
    ).read_bytes()
    assert data.X.shape == (12, 784) and data.X.dtype == np.float32
    assert data.X.min() == 0.0 and data.X.max() == 1.0
    expected = arrays["train-images-idx3-ubyte.gz"].reshape(12, -1) / 255.0
    np.testing.assert_allclose(data.X, expected, rtol=1e-6)
    assert data.y.dtype == np.int64
    np.testing.assert_array_equal(data.y, arrays["train-labels-idx1-ubyte.gz"])
    X_test, y_test = data.test
    assert X_test.shape == (5, 784) and X_test.dtype == np.float32
    np.testing.assert_array_equal(y_test, [9, 0, 4, 2, 7])
    assert data.task == "classification" and data.n_outputs == 10
    assert (data.class_names[0], data.class_names[-1]) == (first_class, last_class)
    assert data.image_shape == (28, 28) and data.val_size == 5000
    assert data.feature_names[0] == "px_0_0" and data.feature_names[29] == "px_1_1"
    assert len(data.feature_names) == 784


def test_second_load_comes_from_the_cache(tmp_path, idx_source):
    source, _ = idx_source
    spec = local_spec("fashion_mnist", source)
    first = load_downloadable(spec, cache_dir=tmp_path / "cache")
    for path in source.iterdir():
        path.unlink()  # any fetch would now fail
    second = load_downloadable(spec, cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(first.X, second.X)
    np.testing.assert_array_equal(first.test[1], second.test[1])


def test_not_cached_and_download_false_names_path_and_url(tmp_path, idx_source):
    spec = local_spec("mnist", idx_source[0])
    with pytest.raises(DataNotFoundError) as info:
        load_downloadable(spec, cache_dir=tmp_path / "cache", download=False)
    message = str(info.value)
    assert str(tmp_path / "cache" / "mnist" / "train-images-idx3-ubyte.gz") in message
    assert spec.files[0].urls[0] in message
    assert not (tmp_path / "cache" / "mnist").exists()


def test_checksum_mismatch_leaves_nothing_behind(tmp_path):
    source = tmp_path / "covtype.data.gz"
    source.write_bytes(gzip.compress(b"1,2,3\n"))
    folder = tmp_path / "cache"
    folder.mkdir()
    wrong = "sha256:" + "0" * 64
    with pytest.raises(DownloadError) as info:
        fetch(source.as_uri(), folder / "covtype.data.gz", wrong)
    message = str(info.value)
    assert "covtype.data.gz" in message and wrong in message
    assert file_checksum(source) in message  # the checksum actually got
    assert list(folder.iterdir()) == []  # neither the file nor a temporary one


def test_failed_download_keeps_the_previous_file(tmp_path):
    (tmp_path / "new").write_bytes(b"new")
    destination = tmp_path / "data.bin"
    destination.write_bytes(b"old")
    with pytest.raises(DownloadError):
        fetch((tmp_path / "new").as_uri(), destination, "md5:" + "0" * 32)
    assert destination.read_bytes() == b"old"


def test_unreachable_urls_say_where_to_put_the_file(tmp_path, idx_source):
    dead = [(tmp_path / "nowhere.gz").as_uri(), "http://127.0.0.1:9/train-images-idx3-ubyte.gz"]
    spec = local_spec("mnist", idx_source[0], **{"train-images-idx3-ubyte.gz": dead})
    with pytest.raises(DownloadError) as info:
        load_downloadable(spec, cache_dir=tmp_path / "cache")
    message = str(info.value)
    assert "\n" not in message
    assert dead[0] in message and dead[1] in message
    assert f"put it at {tmp_path / 'cache' / 'mnist' / 'train-images-idx3-ubyte.gz'}" in message
    assert message.endswith(
        "mnist also needs train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
        "t10k-labels-idx1-ubyte.gz in that folder"
    )
    assert not (tmp_path / "cache" / "mnist" / "train-images-idx3-ubyte.gz").exists()


def test_mirror_is_used_when_the_primary_url_fails(tmp_path, idx_source):
    source, _ = idx_source
    good = (source / "t10k-labels-idx1-ubyte.gz").as_uri()
    urls = [(tmp_path / "gone").as_uri(), good]
    spec = local_spec("mnist", source, **{"t10k-labels-idx1-ubyte.gz": urls})
    data = load_downloadable(spec, cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(data.test[1], [9, 0, 4, 2, 7])


def test_truncated_idx_file_is_a_data_error(tmp_path, idx_source):
    source, _ = idx_source
    path = source / "train-images-idx3-ubyte.gz"
    # Cut inside the payload and re-compress: a well-formed gzip of a short IDX file.
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes())[:-100]))
    with pytest.raises(DataError, match="delete it so it is downloaded again") as info:
        load_downloadable(local_spec("mnist", source), cache_dir=tmp_path / "cache")
    assert "train-images-idx3-ubyte.gz" in str(info.value)


def test_cached_file_damaged_later_is_a_data_error(tmp_path, idx_source):
    spec = local_spec("mnist", idx_source[0])
    load_downloadable(spec, cache_dir=tmp_path / "cache")
    cached = tmp_path / "cache" / "mnist" / "t10k-images-idx3-ubyte.gz"
    cached.write_bytes(cached.read_bytes()[:50])
    with pytest.raises(DataError, match="delete it") as info:
        load_downloadable(spec, cache_dir=tmp_path / "cache")
    assert str(cached) in str(info.value)


def test_unknown_name_lists_the_valid_ones(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_downloadable("mnits", cache_dir=tmp_path)
    for name in ("mnist", "fashion_mnist", "california_housing", "covtype"):
        assert name in str(info.value)
    with pytest.raises(ConfigError):
        is_cached("mnits", cache_dir=tmp_path)


def test_cache_dir_comes_from_mlpkit_data(tmp_path, monkeypatch, idx_source):
    monkeypatch.setenv("MLPKIT_DATA", str(tmp_path / "env-cache"))
    assert default_cache_dir() == tmp_path / "env-cache"
    spec = local_spec("mnist", idx_source[0])
    assert not is_cached(spec)
    load_downloadable(spec)
    assert is_cached("mnist")
    assert (tmp_path / "env-cache" / "mnist" / "t10k-labels-idx1-ubyte.gz").is_file()


def test_cache_dir_defaults_to_home_cache(tmp_path, monkeypatch):
    monkeypatch.delenv("MLPKIT_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / ".cache" / "mlpkit"


def test_every_registered_file_has_a_mirror_and_a_published_checksum():
    for name, spec in DOWNLOADABLE.items():
        assert spec.name == name
        for remote in spec.files:
            assert len(remote.urls) >= 2, remote
            assert all(url.startswith(("https://", "http://")) for url in remote.urls)
            algorithm, _, digest = remote.checksum.partition(":")
            assert {"md5": 32, "sha256": 64}[algorithm] == len(digest)
            int(digest, 16)


# --- tabular data sets, checked against scikit-learn's own fetchers on the same files ----------


def test_california_housing_matches_scikit_learn(tmp_path, monkeypatch):
    from sklearn.datasets import _california_housing, fetch_california_housing
    from sklearn.datasets._base import RemoteFileMetadata

    rng = np.random.default_rng(1)
    n = 15
    households = rng.integers(50, 900, n)
    rows = np.column_stack([
        rng.uniform(-124.3, -114.3, n), rng.uniform(32.5, 42.0, n), rng.integers(1, 53, n),
        households * rng.uniform(2, 8, n), households * rng.uniform(0.5, 1.5, n),
        households * rng.uniform(1, 5, n), households, rng.uniform(0.5, 15, n),
        rng.integers(15000, 500001, n),
    ])  # fmt: skip
    text = "\n".join(",".join(f"{v:.6f}" for v in row) for row in rows).encode()
    source = tmp_path / "source"
    source.mkdir()
    with tarfile.open(source / "cal_housing.tgz", "w:gz") as tar:
        info = tarfile.TarInfo("CaliforniaHousing/cal_housing.data")
        info.size = len(text)
        tar.addfile(info, io.BytesIO(text))

    data = load_downloadable(local_spec("california_housing", source), cache_dir=tmp_path / "c")

    archive = source / "cal_housing.tgz"
    sha256 = file_checksum(archive).partition(":")[2]
    meta = RemoteFileMetadata(filename="cal_housing.tgz", url=archive.as_uri(), checksum=sha256)
    monkeypatch.setattr(_california_housing, "ARCHIVE", meta)
    oracle = fetch_california_housing(data_home=tmp_path / "sklearn")

    assert data.task == "regression"
    assert data.X.dtype == np.float32 and data.y.dtype == np.float32
    assert data.feature_names == list(oracle.feature_names)
    np.testing.assert_allclose(data.X, oracle.data, rtol=1e-6)
    np.testing.assert_allclose(data.y, oracle.target, rtol=1e-6)


def test_covtype_matches_scikit_learn_with_classes_from_zero(tmp_path, monkeypatch):
    from sklearn.datasets import _covtype, fetch_covtype
    from sklearn.datasets._base import RemoteFileMetadata

    rng = np.random.default_rng(2)
    n = 21
    rows = np.column_stack([
        rng.integers(1800, 3900, (n, 10)), np.eye(4, dtype=int)[rng.integers(0, 4, n)],
        np.eye(40, dtype=int)[rng.integers(0, 40, n)], np.arange(n) % 7 + 1,
    ])  # fmt: skip
    text = "\n".join(",".join(str(v) for v in row) for row in rows) + "\n"
    source = tmp_path / "source"
    source.mkdir()
    (source / "covtype.data.gz").write_bytes(gzip.compress(text.encode()))

    data = load_downloadable(local_spec("covtype", source), cache_dir=tmp_path / "c")

    archive = source / "covtype.data.gz"
    sha256 = file_checksum(archive).partition(":")[2]
    meta = RemoteFileMetadata(filename="covtype.data.gz", url=archive.as_uri(), checksum=sha256)
    monkeypatch.setattr(_covtype, "ARCHIVE", meta)
    oracle = fetch_covtype(data_home=tmp_path / "sklearn", shuffle=False)

    assert data.X.shape == (n, 54) and data.X.dtype == np.float32
    assert data.feature_names == list(oracle.feature_names)
    np.testing.assert_array_equal(data.X, oracle.data)
    assert data.y.dtype == np.int64
    np.testing.assert_array_equal(data.y, oracle.target - 1)
    assert data.class_names[0] == "Spruce/Fir" and data.n_outputs == 7
    assert data.test is None
