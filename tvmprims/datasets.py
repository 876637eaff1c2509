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
import math
import os
from pathlib import Path

import numpy as np

__all__ = ["load_mnist", "default_root", "read_idx", "MNISTFormatError", "FASHION_MNIST_ROOT",
           "MAX_ITEMS", "IMAGE_SHAPE"]

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


#: Largest number of items accepted in one file (MNIST has 60000; the IDX format allows more,
#: but a count beyond this is a damaged header, not a data set to allocate memory for).
MAX_ITEMS = 10_000_000
#: Image size of MNIST-format data sets.
IMAGE_SHAPE = (28, 28)


def _read_exactly(f, n):
    """``n`` bytes from ``f`` (fewer only at its end), read in blocks: a gzip stream is
    decompressed no further than needed."""
    chunks, left = [], n
    while left:
        chunk = f.read(min(left, 1 << 24))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_idx(path, kind):
    """Read one IDX file of ``kind`` ``"images"`` (n, 28, 28) or ``"labels"`` (n,).

    The header is read and checked first (magic number, 28x28 images, a count of at most
    :data:`MAX_ITEMS`); then exactly the data it announces is read, so a small gzip file
    claiming gigabytes is rejected before it is decompressed. Raises
    :class:`MNISTFormatError` for a bad header, missing data or data beyond the announced size.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    ndim = 3 if kind == "images" else 1
    header_size = 4 + 4 * ndim
    try:
        with opener(path, "rb") as f:
            header = _read_exactly(f, header_size)
            if len(header) < header_size:
                raise MNISTFormatError(f"{path}: truncated header ({len(header)} bytes)")
            magic = int.from_bytes(header[:4], "big")
            if magic != _MAGIC[kind]:
                raise MNISTFormatError(f"{path}: magic number {magic:#010x}, expected "
                                       f"{_MAGIC[kind]:#010x} for IDX {kind}")
            dims = tuple(int.from_bytes(header[4 + 4 * i:8 + 4 * i], "big")
                         for i in range(ndim))
            if kind == "images" and dims[1:] != IMAGE_SHAPE:
                raise MNISTFormatError(f"{path}: images of {dims[1]}x{dims[2]} pixels, "
                                       f"expected {IMAGE_SHAPE[0]}x{IMAGE_SHAPE[1]}")
            if dims[0] > MAX_ITEMS:
                raise MNISTFormatError(f"{path}: header announces {dims[0]} items, more than "
                                       f"the {MAX_ITEMS} accepted (damaged header?)")
            expected = math.prod(dims)  # Python ints: no overflow
            data = _read_exactly(f, expected)
            extra = len(f.read(1))
    except (OSError, EOFError) as e:  # gzip: truncated or not gzip at all
        raise MNISTFormatError(f"{path}: cannot read ({e})") from None
    if len(data) != expected or extra:
        found = f"{len(data)}" if not extra else f"more than {expected}"
        raise MNISTFormatError(f"{path}: {found} bytes of data, expected {expected} "
                               f"for shape {dims} (truncated or padded file)")
    return np.frombuffer(data, np.uint8).reshape(dims)


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
