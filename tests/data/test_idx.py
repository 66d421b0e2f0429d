import gzip

import numpy as np
import pytest
from references import write_idx

from lowcap.data.idx import read_idx
from lowcap.errors import DataError


@pytest.mark.parametrize("name", ["images-idx3-ubyte", "images-idx3-ubyte.gz"])
def test_roundtrip(tmp_path, name):
    array = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    write_idx(tmp_path / name, array)
    np.testing.assert_array_equal(read_idx(tmp_path / name, 3), array)


def test_header_is_the_idx_layout(tmp_path):
    write_idx(tmp_path / "labels", np.array([1, 2, 3], dtype=np.uint8))
    raw = (tmp_path / "labels").read_bytes()
    assert raw == bytes([0, 0, 8, 1, 0, 0, 0, 3, 1, 2, 3])


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\x01\x02\x08\x01\x00\x00\x00\x01\x05", "bad magic"),
        (bytes([0, 0, 0x0D, 1, 0, 0, 0, 1, 5]), "type code"),
        (bytes([0, 0, 8, 1, 0, 0, 0, 4, 5]), "payload has 1 bytes"),
        (bytes([0, 0, 8, 3, 0, 0, 0, 1]), "3 dimensions"),
        (b"", "bad magic"),
    ],
)
def test_malformed_idx_names_the_file(tmp_path, payload, reason):
    path = tmp_path / "broken-idx1-ubyte"
    path.write_bytes(payload)
    with pytest.raises(DataError, match=reason) as info:
        read_idx(path, 1)
    assert str(path) in str(info.value)


def test_truncated_gzip_names_the_file(tmp_path):
    path = tmp_path / "labels.gz"
    path.write_bytes(gzip.compress(bytes([0, 0, 8, 1, 0, 0, 0, 3, 1, 2, 3]))[:-6])
    with pytest.raises(DataError, match="cannot read") as info:
        read_idx(path, 1)
    assert str(path) in str(info.value)
