"""MNIST loader: search order, checksums, damaged files, downloads from a mirror."""

from __future__ import annotations

import functools
import gzip
import http.server
import shutil
import threading

import numpy as np
import pytest

from ttzo.data import MNISTError, load_mnist
from ttzo.data import mnist as mnist_mod


def test_loads_shared_copy_with_verified_checksums(mnist_dir):
    data = load_mnist(mnist_dir, download=False)
    assert data.train_images.shape == (60000, 28, 28) and data.train_images.dtype == np.uint8
    assert data.test_images.shape == (10000, 28, 28)
    assert data.train_labels[:8].tolist() == [5, 0, 4, 1, 9, 2, 1, 3]
    assert np.bincount(data.test_labels).tolist()[:3] == [980, 1135, 1032]


@pytest.fixture
def copy_of_mnist(tmp_path, mnist_dir):
    target = tmp_path / "mnist"
    shutil.copytree(mnist_dir, target)
    return target


def test_checksum_mismatch_is_named(copy_of_mnist):
    path = copy_of_mnist / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress(path.read_bytes()))
    raw[100] = (raw[100] + 1) % 10
    path.write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(MNISTError, match=r"t10k-labels-idx1-ubyte.gz has SHA-256 [0-9a-f]{64}, "
                                         r"expected ff7bcfd4"):
        load_mnist(copy_of_mnist, download=False)


def test_truncated_file_is_reported(copy_of_mnist):
    path = copy_of_mnist / "train-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(MNISTError, match="train-labels-idx1-ubyte.gz is damaged or truncated"):
        load_mnist(copy_of_mnist, download=False)


def test_uncompressed_files_are_accepted(copy_of_mnist):
    for gz in copy_of_mnist.glob("*.gz"):
        gz.with_suffix("").write_bytes(gzip.decompress(gz.read_bytes()))
        gz.unlink()
    assert load_mnist(copy_of_mnist, download=False).test_labels.shape == (10000,)


def test_idx_parser_rejects_bad_headers():
    with pytest.raises(MNISTError, match="bad magic"):
        mnist_mod.read_idx(b"\x01\x00\x08\x01\x00\x00\x00\x01\x05")
    with pytest.raises(MNISTError, match="truncated"):
        mnist_mod.read_idx(b"\x00\x00\x08\x01\x00\x00\x00\x05\x01\x02")


def test_search_order_env_then_cache(tmp_path, monkeypatch, copy_of_mnist):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("TTZO_DATA", str(copy_of_mnist.parent))  # finds the mnist/ subfolder
    assert mnist_mod.find_mnist() == copy_of_mnist
    monkeypatch.delenv("TTZO_DATA")
    assert mnist_mod.find_mnist() is None
    with pytest.raises(MNISTError, match="downloading is disabled"):
        load_mnist(download=False)
    with pytest.raises(MNISTError, match="does not hold the four MNIST files"):
        mnist_mod.find_mnist(tmp_path)


@pytest.fixture
def mirror(mnist_dir, tmp_path):
    """A loopback HTTP server serving a copy of the files, one of them damaged."""
    served = tmp_path / "served"
    shutil.copytree(mnist_dir, served)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def test_download_verifies_and_falls_back_between_mirrors(tmp_path, mirror):
    served, url = mirror
    bad = served / "bad"
    bad.mkdir()
    for f in served.glob("*.gz"):
        (bad / f.name).write_bytes(gzip.compress(b"not mnist"))
    target = tmp_path / "cache"
    mnist_mod.download_mnist(target, mirrors=[url + "bad/", "http://127.0.0.1:9/", url])
    assert sorted(p.name for p in target.iterdir()) == sorted(f"{n}.gz" for n in mnist_mod.FILES)
    assert load_mnist(target, download=False).train_labels[0] == 5


def test_download_failure_keeps_nothing_partial(tmp_path, mirror):
    served, url = mirror
    (served / "t10k-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b truncated")
    target = tmp_path / "cache"
    with pytest.raises(MNISTError, match="could not download t10k-images-idx3-ubyte"):
        mnist_mod.download_mnist(target, mirrors=[url])
    names = sorted(p.name for p in target.iterdir())
    assert "t10k-images-idx3-ubyte.gz" not in names
    assert not any(n.endswith(".part") for n in names)
