"""IDX reading and writing: round trips,; damaged files are rejected with the fix in the message."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from mlpkit.data.idx import read_idx, read_idx_images, write_idx
from mlpkit.errors import DataError


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_round_trip_keeps_values_shape_and_dtype(tmp_path, suffix, dtype):
    array = (np.arange(2 * 3 * 4) - 5).astype(dtype).reshape(2, 3, 4)
    path = write_idx(tmp_path / f"a-idx3{suffix}", array)
    back = read_idx(path)
    assert back.shape == (2, 3, 4)
    assert back.dtype == np.dtype(dtype)  # native byte order, ready for numpy and torch
    np.testing.assert_array_equal(back, array)


def test_header_is_the_published_mnist_layout(tmp_path):
    # Magic 0x00000801 for uint8 labels, then the count as a big-endian uint32.
    path = write_idx(tmp_path / "labels-idx1-ubyte", np.array([7, 2, 1], dtype=np.uint8))
    assert path.read_bytes() == bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1])


def test_truncated_gz_file_is_a_data_error_saying_to_delete_it(tmp_path):
    path = write_idx(tmp_path / "images-idx3-ubyte.gz", np.zeros((5, 28, 28), dtype=np.uint8))
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(DataError, match="delete it") as info:
        read_idx(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_payload_shorter_than_header_promises_is_a_data_error(tmp_path):
    path = tmp_path / "images-idx3-ubyte.gz"
    header = bytes([0, 0, 8, 3]) + b"".join(n.to_bytes(4, "big") for n in (5, 28, 28))
    with gzip.open(path, "wb") as f:
        f.write(header + bytes(100))  # 5 * 28 * 28 bytes promised
    with pytest.raises(DataError, match=r"needs 3920 payload bytes, file has 100"):
        read_idx(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x00\x00", "too short"),
        (b"PK\x03\x04" + bytes(8), "magic number"),
        (bytes([0, 0, 0x42, 1, 0, 0, 0, 1, 0]), "dtype code 0x42"),
        (bytes([0, 0, 8, 2, 0, 0, 0, 1]), "header needs 12 bytes"),
    ],
)
def test_malformed_header_is_a_data_error(tmp_path, content, message):
    path = tmp_path / "bad-idx1-ubyte"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message):
        read_idx(path)


def test_images_are_scaled_to_unit_range_with_int64_labels(tmp_path):
    images = np.array([[[0, 255], [51, 102]]], dtype=np.uint8)
    write_idx(tmp_path / "x.gz", images)
    write_idx(tmp_path / "y.gz", np.array([9], dtype=np.uint8))
    X, y = read_idx_images(tmp_path / "x.gz", tmp_path / "y.gz", n_classes=10)
    assert X.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_allclose(X, [[[0.0, 1.0], [0.2, 0.4]]], rtol=1e-6)


def test_label_count_or_range_mismatch_is_a_data_error(tmp_path):
    write_idx(tmp_path / "x.gz", np.zeros((3, 2, 2), dtype=np.uint8))
    write_idx(tmp_path / "y2.gz", np.array([0, 1], dtype=np.uint8))
    write_idx(tmp_path / "y3.gz", np.array([0, 1, 10], dtype=np.uint8))
    with pytest.raises(DataError, match="one label each"):
        read_idx_images(tmp_path / "x.gz", tmp_path / "y2.gz")
    with pytest.raises(DataError, match=r"outside 0\.\.9"):
        read_idx_images(tmp_path / "x.gz", tmp_path / "y3.gz", n_classes=10)
