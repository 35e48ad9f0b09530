"""Readers for the standard datasets' published file formats, into uint8 NCHW arrays and int64 labels.

Each reader takes the downloaded files and returns ``{split: (images, labels)}`` with images
``uint8 (N, C, H, W)`` and labels ``int64 (N,)``.

Example:
    >>> import gzip, io, struct, numpy as np
    >>> raw = struct.pack(">IIII", 0x803, 2, 2, 2) + bytes(range(8))
    >>> read_idx(io.BytesIO(gzip.compress(raw))).shape
    (2, 2, 2)
"""

from __future__ import annotations

import bz2
import gzip
import tarfile
from pathlib import Path
from typing import BinaryIO

import numpy as np

__all__ = ["read_cifar", "read_idx", "read_mnist", "read_stl10", "read_svhn", "read_usps"]

_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(f: BinaryIO | str | Path) -> np.ndarray:
    """Read an IDX file (MNIST's format), gzipped or not.

    Example:
        >>> import io, struct
        >>> read_idx(io.BytesIO(struct.pack(">II", 0x801, 3) + b"\\x01\\x02\\x03")).tolist()
        [1, 2, 3]
    """
    data = f.read() if hasattr(f, "read") else Path(f).read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError("not an IDX file: the magic number must start with two zero bytes")
    code, ndim = data[2], data[3]
    if code not in _IDX_DTYPES:
        raise ValueError(f"IDX type code 0x{code:02x} is not one of {sorted(_IDX_DTYPES)}")
    dims = np.frombuffer(data, ">u4", count=ndim, offset=4).astype(int)
    dtype = np.dtype(_IDX_DTYPES[code])
    expected = 4 + 4 * ndim + int(np.prod(dims)) * dtype.itemsize
    if len(data) != expected:
        raise ValueError(f"IDX file has {len(data)} bytes, its header {tuple(dims)} needs {expected}; "
                         "the file is truncated or corrupt: delete it and download again")
    arr = np.frombuffer(data, dtype, offset=4 + 4 * ndim).reshape(dims)
    return arr.astype(dtype.newbyteorder("="))


def read_mnist(files: dict[str, Path]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """MNIST / Fashion-MNIST: four IDX files → ``{"train", "test"}`` with images (N, 1, 28, 28).

    Example:
        >>> read_mnist  # doctest: +ELLIPSIS
        <function read_mnist at ...>
    """
    out = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        x = read_idx(files[f"{prefix}-images-idx3-ubyte.gz"])
        y = read_idx(files[f"{prefix}-labels-idx1-ubyte.gz"])
        if len(x) != len(y):
            raise ValueError(f"{split}: {len(x)} images but {len(y)} labels")
        out[split] = (np.ascontiguousarray(x[:, None]), y.astype(np.int64))
    return out


def _member(tar: tarfile.TarFile, name: str) -> bytes:
    f = tar.extractfile(name)
    if f is None:
        raise ValueError(f"{name} is missing from the archive {tar.name}")
    return f.read()


def read_cifar(archive: Path) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, list[str]]]:
    """CIFAR-10 or CIFAR-100, binary version (``cifar-10-binary.tar.gz``) → label sets and images.

    Records are one label byte (CIFAR-100: coarse then fine) and 3,072 pixel bytes (R, G, B planes
    of 32×32). Returns ``{split: columns}`` with ``image`` uint8 (N, 3, 32, 32) and ``label``
    (CIFAR-10) or ``fine`` and ``coarse`` (CIFAR-100) int64 columns, and the class names of each
    label set. No pickles are loaded.

    Example:
        >>> read_cifar  # doctest: +ELLIPSIS
        <function read_cifar at ...>
    """
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
        if "cifar-10-batches-bin/batches.meta.txt" in names:
            root, label_sets = "cifar-10-batches-bin", ("label",)
            files = {"train": [f"data_batch_{i}.bin" for i in range(1, 6)],
                     "test": ["test_batch.bin"]}
            classes = {"label": _member(tar, f"{root}/batches.meta.txt").decode().split()}
        elif "cifar-100-binary/fine_label_names.txt" in names:
            root, label_sets = "cifar-100-binary", ("coarse", "fine")
            files = {"train": ["train.bin"], "test": ["test.bin"]}
            classes = {k: _member(tar, f"{root}/{k}_label_names.txt").decode().split()
                       for k in label_sets}
        else:
            raise ValueError(f"{archive} is neither cifar-10-binary nor cifar-100-binary")
        record = len(label_sets) + 3072
        out = {}
        for split, members in files.items():
            raw = b"".join(_member(tar, f"{root}/{m}") for m in members)
            if len(raw) % record:
                raise ValueError(f"{archive}: the {split} records are truncated ({len(raw)} bytes "
                                 f"is not a multiple of {record}); download the archive again")
            rows = np.frombuffer(raw, np.uint8).reshape(-1, record)
            columns = {k: rows[:, i].astype(np.int64) for i, k in enumerate(label_sets)}
            columns["image"] = np.ascontiguousarray(rows[:, len(label_sets):]).reshape(-1, 3, 32, 32)
            out[split] = columns
    return out, classes


def read_svhn(files: dict[str, Path]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """SVHN cropped digits (``*_32x32.mat``, read with SciPy) → images (N, 3, 32, 32); label 10 → 0.

    Example:
        >>> read_svhn  # doctest: +ELLIPSIS
        <function read_svhn at ...>
    """
    from scipy.io import loadmat

    out = {}
    for name, path in files.items():
        split = name.split("_")[0]
        mat = loadmat(path)
        x = np.ascontiguousarray(np.transpose(mat["X"], (3, 2, 0, 1)), dtype=np.uint8)
        y = mat["y"].reshape(-1).astype(np.int64)
        y[y == 10] = 0
        out[split] = (x, y)
    return out


def read_stl10(archive: Path, unlabeled: bool = False) -> tuple[dict, list[str]]:
    """STL-10 binary tar.gz → ``train``/``test`` (and ``unlabeled``) images (N, 3, 96, 96), labels 0..9.

    Unlabeled images get label -1.

    Example:
        >>> read_stl10  # doctest: +ELLIPSIS
        <function read_stl10 at ...>
    """
    def images(raw: bytes) -> np.ndarray:
        # stored column-major per channel: (N, 3, 96, 96) with H and W swapped
        return np.ascontiguousarray(np.frombuffer(raw, np.uint8).reshape(-1, 3, 96, 96)
                                    .transpose(0, 1, 3, 2))

    with tarfile.open(archive) as tar:
        def read(name: str) -> bytes:
            f = tar.extractfile(f"stl10_binary/{name}")
            if f is None:
                raise ValueError(f"stl10_binary/{name} is missing from {archive}")
            return f.read()

        classes = read("class_names.txt").decode().split()
        out = {}
        for split in ("train", "test"):
            x = images(read(f"{split}_X.bin"))
            y = np.frombuffer(read(f"{split}_y.bin"), np.uint8).astype(np.int64) - 1
            out[split] = (x, y)
        if unlabeled:
            x = images(read("unlabeled_X.bin"))
            out["unlabeled"] = (x, np.full(len(x), -1, np.int64))
    return out, classes


def read_usps(files: dict[str, Path]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """USPS (libsvm format, bz2: ``label 1:v ... 256:v`` with v in [-1, 1]) → (N, 1, 16, 16) uint8.

    Example:
        >>> raw = bz2.compress(b"3 " + b" ".join(b"%d:1" % i for i in range(1, 257)) + b"\\n")
        >>> x, y = _parse_usps(raw)
        >>> x.shape, int(x.max()), y.tolist()
        ((1, 1, 16, 16), 255, [2])
    """
    out = {}
    for name, path in files.items():
        split = "test" if name.endswith(".t.bz2") else "train"
        out[split] = _parse_usps(Path(path).read_bytes())
    return out


def _parse_usps(raw: bytes) -> tuple[np.ndarray, np.ndarray]:
    text = bz2.decompress(raw).decode()
    lines = [ln.split() for ln in text.splitlines() if ln.strip()]
    y = np.array([int(float(ln[0])) - 1 for ln in lines], np.int64)
    x = np.zeros((len(lines), 256), np.float64)
    for i, ln in enumerate(lines):
        for item in ln[1:]:
            k, v = item.split(":")
            x[i, int(k) - 1] = float(v)
    x = np.clip(np.rint((x + 1.0) * 127.5), 0, 255).astype(np.uint8)
    return x.reshape(-1, 1, 16, 16), y
