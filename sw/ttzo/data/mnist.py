"""MNIST from the standard IDX files, checked against their published SHA-256 digests.

Search order for the files: an explicit folder, ``$TTZO_DATA`` (the folder itself or its
``mnist/`` subfolder), the user cache (``$XDG_CACHE_HOME/ttzo/mnist``, default
``~/.cache/ttzo/mnist``); if none has them, they are downloaded from the standard mirrors into the
cache. Files may be gzip-compressed (``.gz``) or not; the digest is of the uncompressed bytes.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["MNIST", "MNISTError", "FILES", "MIRRORS", "load_mnist", "find_mnist", "read_idx"]

#: Uncompressed file name -> SHA-256 of its uncompressed bytes.
FILES = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

#: Mirrors that serve ``<name>.gz``, tried in order.
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)


class MNISTError(RuntimeError):
    """MNIST files are missing, damaged or cannot be fetched."""


@dataclass(frozen=True)
class MNIST:
    """The MNIST images (``uint8``, ``(n, 28, 28)``) and labels (``uint8``, ``(n,)``)."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "ttzo" / "mnist"


def _candidates(folder: Path, name: str) -> list[Path]:
    return [folder / name, folder / f"{name}.gz"]


def _has_all(folder: Path) -> bool:
    return all(any(p.is_file() for p in _candidates(folder, n)) for n in FILES)


def find_mnist(data_dir: str | os.PathLike | None = None) -> Path | None:
    """The first folder in the search order that holds all four files, or ``None``."""
    if data_dir is not None:  # a folder the user named is the only one looked at
        if not Path(data_dir).is_dir():
            raise MNISTError(f"MNIST folder {data_dir} does not exist")
        if _has_all(Path(data_dir)):
            return Path(data_dir)
        raise MNISTError(
            f"{data_dir} does not hold the four MNIST files ({', '.join(FILES)}, optionally .gz)"
        )
    folders: list[Path] = []
    env = os.environ.get("TTZO_DATA")
    if env:
        folders += [Path(env), Path(env) / "mnist"]
    folders.append(cache_dir())
    for folder in folders:
        if _has_all(folder):
            return folder
    return None


def _read_bytes(path: Path, compressed: bool | None = None) -> bytes:
    """The uncompressed content of ``path`` (gzip if ``compressed``, default: by suffix)."""
    if compressed is None:
        compressed = path.suffix == ".gz"
    try:
        if compressed:
            with gzip.open(path, "rb") as fh:
                return fh.read()
        return path.read_bytes()
    except (EOFError, OSError, zlib.error) as err:
        raise MNISTError(f"{path} is damaged or truncated ({err})") from None


def _verify(source: str, name: str, data: bytes) -> None:
    digest = hashlib.sha256(data).hexdigest()
    if digest != FILES[name]:
        raise MNISTError(
            f"{source} has SHA-256 {digest}, expected {FILES[name]}: the file is damaged or not "
            f"the standard {name}; delete it to fetch it again"
        )


def read_idx(data: bytes, source: str = "IDX data") -> np.ndarray:
    """Parse an IDX file of unsigned bytes (MNIST's format) into an array."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise MNISTError(f"{source} is not an IDX file (bad magic number)")
    if data[2] != 0x08:
        raise MNISTError(f"{source} holds IDX type {data[2]:#04x}; only unsigned bytes (0x08)")
    ndim = data[3]
    header = 4 + 4 * ndim
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    expected = header + int(np.prod(dims))
    if len(data) != expected:
        raise MNISTError(
            f"{source} has {len(data)} bytes but its header {dims} needs {expected}: truncated?"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def _load_file(folder: Path, name: str) -> np.ndarray:
    path = next(p for p in _candidates(folder, name) if p.is_file())
    data = _read_bytes(path)
    _verify(str(path), name, data)
    return read_idx(data, str(path))


def download_mnist(target: Path, mirrors: Sequence[str] = MIRRORS, timeout: float = 30.0) -> Path:
    """Fetch the four files into ``target``, verifying each before it is moved into place."""
    target.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        if any(p.is_file() for p in _candidates(target, name)):
            continue
        errors = []
        for mirror in mirrors:
            url = f"{mirror}{name}.gz"
            fd, tmp = tempfile.mkstemp(dir=target, prefix=f".{name}.", suffix=".part")
            tmp_path = Path(tmp)
            try:
                with os.fdopen(fd, "wb") as out:
                    with urllib.request.urlopen(url, timeout=timeout) as resp:
                        shutil.copyfileobj(resp, out)
                _verify(url, name, _read_bytes(tmp_path, compressed=True))
                os.replace(tmp_path, target / f"{name}.gz")
                break
            except (urllib.error.URLError, OSError, MNISTError) as err:
                errors.append(f"{url}: {err}")
            finally:
                tmp_path.unlink(missing_ok=True)
        else:
            raise MNISTError(
                f"could not download {name}; set TTZO_DATA to a folder with the MNIST files. "
                "Tried:\n  " + "\n  ".join(errors)
            )
    return target


def load_mnist(data_dir: str | os.PathLike | None = None, download: bool = True) -> MNIST:
    """Load MNIST, searching (and if allowed downloading) as described in the module docs.

    Raises
    ------
    MNISTError
        A file is missing, truncated or fails its checksum, or the download failed.
    """
    folder = find_mnist(data_dir)
    if folder is None:
        if not download:
            raise MNISTError(
                f"MNIST not found in $TTZO_DATA or {cache_dir()}, and downloading is disabled"
            )
        folder = download_mnist(cache_dir())
    return MNIST(
        _load_file(folder, "train-images-idx3-ubyte"),
        _load_file(folder, "train-labels-idx1-ubyte"),
        _load_file(folder, "t10k-images-idx3-ubyte"),
        _load_file(folder, "t10k-labels-idx1-ubyte"),
    )
