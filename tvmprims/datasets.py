"""MNIST-format data sets (MNIST, Fashion-MNIST) read from their IDX files into numpy.

IDX layout (big-endian): magic ``0x00000803`` (images) or ``0x00000801`` (labels), then the
dimensions as uint32 (count, rows, cols for images; count for labels), then uint8 data. Files
may be raw or gzip-compressed, named as the originals (``train-images-idx3-ubyte[.gz]``,
``t10k-labels-idx1-ubyte[.gz]``, ...), in ``root`` itself or in the layout torchvision uses
(``root/MNIST/raw``, ``root/FashionMNIST/raw``).

Offline, the default ``root`` is Fashion-MNIST as Debian's ``dataset-fashion-mnist`` package
installs it (``/usr/share/datasets/fashion-mnist``); ``$TVMPRIMS_MNIST_ROOT`` overrides it.
With ``download=True`` and a network, torchvision fetches MNIST into ``root``.
"""

import gzip
import os
from pathlib import Path

import numpy as np

__all__ = ["load_mnist", "default_root", "read_idx", "MNISTFormatError", "FASHION_MNIST_ROOT"]

FASHION_MNIST_ROOT = "/usr/share/datasets/fashion-mnist"
_PREFIX = {"train": "train", "test": "t10k"}
_MAGIC = {"images": 0x803, "labels": 0x801}
_SUBDIRS = ("", "raw", "MNIST/raw", "FashionMNIST/raw")


class MNISTFormatError(ValueError):
    """An IDX file is malformed: wrong magic number, truncated, or inconsistent counts."""


def default_root():
    """``$TVMPRIMS_MNIST_ROOT`` if set, else Debian's Fashion-MNIST directory."""
    return os.environ.get("TVMPRIMS_MNIST_ROOT") or FASHION_MNIST_ROOT


def _find(root, split, kind):
    name = f"{_PREFIX[split]}-{kind}-idx{3 if kind == 'images' else 1}-ubyte"
    tried = []
    for sub in _SUBDIRS:
        for suffix in ("", ".gz"):
            path = Path(root, sub, name + suffix)
            if path.is_file():
                return path
            tried.append(str(path))
    raise FileNotFoundError(
        f"no {split} {kind} file {name}[.gz] under {root} (looked in {', '.join(_SUBDIRS[1:])} "
        f"too). Install Debian's dataset-fashion-mnist, set TVMPRIMS_MNIST_ROOT, or pass "
        f"download=True with a network")


def read_idx(path, kind):
    """Read one IDX file of ``kind`` ``"images"`` (n, rows, cols) or ``"labels"`` (n,)."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as e:  # gzip: truncated or not gzip at all
        raise MNISTFormatError(f"{path}: cannot read ({e})") from None
    ndim = 3 if kind == "images" else 1
    header = 4 + 4 * ndim
    if len(data) < header:
        raise MNISTFormatError(f"{path}: truncated header ({len(data)} bytes)")
    magic = int.from_bytes(data[:4], "big")
    if magic != _MAGIC[kind]:
        raise MNISTFormatError(f"{path}: magic number {magic:#010x}, expected "
                               f"{_MAGIC[kind]:#010x} for IDX {kind}")
    dims = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(dims))
    if len(data) - header != expected:
        raise MNISTFormatError(f"{path}: {len(data) - header} bytes of data, expected {expected} "
                               f"for shape {dims} (truncated or padded file)")
    return np.frombuffer(data, np.uint8, offset=header).reshape(dims)


def load_mnist(root=None, split="train", download=False):
    """``(images uint8 (n, 28, 28), labels uint8 (n,))`` of an MNIST-format data set.

    ``split``: ``"train"`` or ``"test"``. Raises ``FileNotFoundError`` when the files are
    missing and :class:`MNISTFormatError` when they are malformed.
    """
    if split not in _PREFIX:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    root = Path(root or default_root())
    if download:
        _download(root)
    images = read_idx(_find(root, split, "images"), "images")
    labels = read_idx(_find(root, split, "labels"), "labels")
    if len(images) != len(labels):
        raise MNISTFormatError(f"{root}: {len(images)} {split} images but {len(labels)} labels")
    if labels.size and labels.max() > 9:
        raise MNISTFormatError(f"{root}: label {labels.max()} out of range 0..9")
    return images, labels


def _download(root):
    try:
        import torchvision
    except ImportError:
        raise RuntimeError("download=True needs torchvision, which is not installed; put the "
                           "IDX files under root instead") from None
    for train in (True, False):
        torchvision.datasets.MNIST(str(root), train=train, download=True)
