"""tvmprims.datasets.load_mnist on the real Fashion-MNIST files and on corrupt ones."""

import gzip
import shutil
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from tvmprims.datasets import FASHION_MNIST_ROOT, MNISTFormatError, load_mnist, read_idx

REAL = Path(FASHION_MNIST_ROOT)
needs_data = pytest.mark.skipif(not (REAL / "t10k-labels-idx1-ubyte.gz").exists(),
                                reason="Debian's dataset-fashion-mnist is not installed "
                                       "(.ci/run installs it)")


def _idx(magic, dims, data):
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims)
    return header + bytes(data)


def _write(root, split, images, labels, compress=True):
    root.mkdir(parents=True, exist_ok=True)
    prefix = "train" if split == "train" else "t10k"
    files = {f"{prefix}-images-idx3-ubyte": images, f"{prefix}-labels-idx1-ubyte": labels}
    for name, blob in files.items():
        if compress:
            with gzip.open(root / (name + ".gz"), "wb") as f:
                f.write(blob)
        else:
            (root / name).write_bytes(blob)


@needs_data
@pytest.mark.parametrize("split, count", [("train", 60000), ("test", 10000)])
def test_real_fashion_mnist(split, count):
    images, labels = load_mnist(split=split)  # the default root is Debian's Fashion-MNIST
    assert images.shape == (count, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (count,) and labels.dtype == np.uint8
    assert np.bincount(labels).tolist() == [count // 10] * 10  # balanced classes
    assert 60 < images.mean() < 90 and images.max() == 255


@needs_data
def test_raw_and_torchvision_layouts_read_the_same(tmp_path):
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        with gzip.open(REAL / (name + ".gz")) as src, open(raw / name, "wb") as dst:
            shutil.copyfileobj(src, dst)
    images, labels = load_mnist(tmp_path, "test")
    ref_images, ref_labels = load_mnist(REAL, "test")
    np.testing.assert_array_equal(images, ref_images)
    np.testing.assert_array_equal(labels, ref_labels)


def test_small_synthetic_set(tmp_path):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (3, 28, 28), dtype=np.uint8)
    _write(tmp_path, "train", _idx(0x803, (3, 28, 28), pixels.ravel()),
           _idx(0x801, (3,), [7, 0, 9]), compress=False)
    images, labels = load_mnist(tmp_path, "train")
    np.testing.assert_array_equal(images, pixels)
    assert labels.tolist() == [7, 0, 9]


IMAGE = 28 * 28


@pytest.mark.parametrize("images, labels, message", [
    (_idx(0x801, (2, 28, 28), [0] * 2 * IMAGE), _idx(0x801, (2,), [1, 2]),
     r"magic number 0x00000801, expected 0x00000803 for IDX images"),
    (_idx(0x803, (2, 28, 28), [0] * (2 * IMAGE - 1)), _idx(0x801, (2,), [1, 2]),
     r"1567 bytes of data, expected 1568 for shape \(2, 28, 28\)"),
    (_idx(0x803, (2, 28, 28), [0] * (2 * IMAGE + 1)), _idx(0x801, (2,), [1, 2]),
     r"more than 1568 bytes of data, expected 1568 for shape \(2, 28, 28\)"),
    (_idx(0x803, (2, 28, 28), [0] * 2 * IMAGE), _idx(0x801, (2,), [1, 2, 3]),
     r"labels-idx1-ubyte.gz: more than 2 bytes of data"),
    (_idx(0x803, (2, 28, 28), [0] * 2 * IMAGE), _idx(0x801, (3,), [1, 2, 3]),
     r"2 train images but 3 labels"),
    (_idx(0x803, (2, 28, 28), [0] * 2 * IMAGE), b"\x00\x00\x08", r"truncated header \(3 bytes\)"),
    (_idx(0x803, (1, 28, 28), [0] * IMAGE), _idx(0x801, (1,), [12]),
     r"label 12 out of range 0..9"),
    (_idx(0x803, (2, 2, 2), [0] * 8), _idx(0x801, (2,), [1, 2]),
     r"images of 2x2 pixels, expected 28x28"),
    (_idx(0x803, (3, 5, 4), [0] * 60), _idx(0x801, (3,), [1, 2, 3]),
     r"images of 5x4 pixels, expected 28x28"),
    (_idx(0x803, (2, 28, 28), [0] * 2 * IMAGE), _idx(0x801, (2 ** 32 - 1,), [1, 2]),
     r"header announces 4294967295 items, more than the 10000000 accepted"),
    # 10^7 images of 28x28: 7.84e9 bytes, more than 2^32 (computed without overflow)
    (_idx(0x803, (10 ** 7, 28, 28), [0] * 10), _idx(0x801, (2,), [1, 2]),
     r"10 bytes of data, expected 7840000000 for shape \(10000000, 28, 28\)"),
], ids=["magic", "short", "extra", "extra-labels", "counts", "header", "label-range", "2x2",
        "5x4", "count", "overflow"])
def test_corrupt_files(tmp_path, images, labels, message):
    _write(tmp_path, "train", images, labels)
    with pytest.raises(MNISTFormatError, match=message):
        load_mnist(tmp_path, "train")


def test_small_gzip_claiming_much_more_is_not_decompressed(tmp_path):
    """One image in the header, 64 MiB of zeros after it in a 64 KiB gzip file: rejected after
    reading the announced bytes and one more, not after decompressing it all."""
    path = tmp_path / "train-images-idx3-ubyte.gz"
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(_idx(0x803, (1, 28, 28), [0] * IMAGE))
        for _ in range(64):
            f.write(bytes(1 << 20))
    assert path.stat().st_size < 1 << 20
    tracemalloc.start()
    try:
        with pytest.raises(MNISTFormatError, match=r"more than 784 bytes of data, expected 784"):
            read_idx(path, "images")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20


def test_truncated_gzip(tmp_path):
    _write(tmp_path, "train", _idx(0x803, (100, 28, 28), [0] * 78400), _idx(0x801, (100,), [0] * 100))
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(MNISTFormatError, match=r"train-images-idx3-ubyte.gz: cannot read"):
        read_idx(path, "images")


def test_missing_files_and_bad_split(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no test images file t10k-images-idx3-ubyte"):
        load_mnist(tmp_path, "test")
    with pytest.raises(ValueError, match=r"split must be 'train' or 'test', got 'val'"):
        load_mnist(tmp_path, "val")


def test_environment_variable_sets_the_default_root(tmp_path, monkeypatch):
    pixels = np.arange(IMAGE, dtype=np.uint8).reshape(1, 28, 28)
    _write(tmp_path, "test", _idx(0x803, (1, 28, 28), pixels.ravel()), _idx(0x801, (1,), [5]))
    monkeypatch.setenv("TVMPRIMS_MNIST_ROOT", str(tmp_path))
    images, labels = load_mnist(split="test")
    np.testing.assert_array_equal(images, pixels)
    assert labels.tolist() == [5]
