"""The standard datasets: where their files are published, their checksums, and how to read them.

Checksums are the publishers' MD5 sums (as torchvision and batchup pin them); a ``sha256`` can be
given per file and is then checked too. ``mirrors`` are tried in order.

Example:
    >>> sorted(DATASETS)[:3]
    ['cifar10', 'cifar100', 'fashion_mnist']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from . import formats

__all__ = ["DATASETS", "DatasetSpec", "RemoteFile"]

DIGITS = [str(i) for i in range(10)]
FASHION = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
           "Bag", "Ankle boot"]


@dataclass(frozen=True)
class RemoteFile:
    """One published file: its name, checksums, and whether a default download includes it.

    Example:
        >>> RemoteFile("a.gz", md5="0" * 32).optional
        False
    """

    name: str
    md5: str | None = None
    sha256: str | None = None
    optional: bool = False


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset: mirrors, files, a reader ``(paths, options) -> ({split: columns}, attributes)``.

    Example:
        >>> DATASETS["mnist"].files[0].name
        'train-images-idx3-ubyte.gz'
    """

    name: str
    mirrors: tuple[str, ...]
    files: tuple[RemoteFile, ...]
    reader: Callable[[dict[str, Path], dict], tuple[dict[str, dict[str, np.ndarray]], dict]]
    class_names: tuple[str, ...] = ()
    options: dict = field(default_factory=dict)


Columns = dict[str, np.ndarray]


def _columns(splits: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, Columns]:
    return {split: {"image": x, "label": y} for split, (x, y) in splits.items()}


def _mnist_like(classes):
    return lambda paths, opts: (_columns(formats.read_mnist(paths)), {"class_names": list(classes)})


def _cifar10(paths, opts):
    (archive,) = paths.values()
    splits, classes = formats.read_cifar(archive)
    return _columns(splits), {"class_names": classes}


def _cifar100(paths, opts):
    """Both label sets are stored; ``labels="coarse"`` makes the coarse one the ``label`` column."""
    (archive,) = paths.values()
    fine, fine_names = formats.read_cifar(archive)
    coarse, coarse_names = formats.read_cifar(archive, coarse=True)
    use_coarse = opts.get("labels", "fine") == "coarse"
    main, other = ("coarse", "fine") if use_coarse else ("fine", "coarse")
    labels = {"fine": fine, "coarse": coarse}
    names = {"fine": fine_names, "coarse": coarse_names}
    splits = {split: {"image": x, "label": labels[main][split][1],
                      f"label_{other}": labels[other][split][1]}
              for split, (x, _) in fine.items()}
    return splits, {"class_names": names[main], f"class_names_{other}": names[other]}


def _svhn(paths, opts):
    return _columns(formats.read_svhn(paths)), {"class_names": list(DIGITS)}


def _stl10(paths, opts):
    (archive,) = paths.values()
    splits, classes = formats.read_stl10(archive, unlabeled=opts.get("unlabeled", False))
    return _columns(splits), {"class_names": classes}


def _usps(paths, opts):
    return _columns(formats.read_usps(paths)), {"class_names": list(DIGITS)}


DATASETS: dict[str, DatasetSpec] = {
    "mnist": DatasetSpec(
        "mnist",
        ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
        (RemoteFile("train-images-idx3-ubyte.gz", md5="f68b3c2dcbeaaa9fbdd348bbdeb94873"),
         RemoteFile("train-labels-idx1-ubyte.gz", md5="d53e105ee54ea40749a09fcbcd1e9432"),
         RemoteFile("t10k-images-idx3-ubyte.gz", md5="9fb629c4189551a2d022fa330f9573f3"),
         RemoteFile("t10k-labels-idx1-ubyte.gz", md5="ec29112dd5afa0611ce80d1b7f02629c")),
        _mnist_like(DIGITS), tuple(DIGITS)),
    "fashion_mnist": DatasetSpec(
        "fashion_mnist", ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        (RemoteFile("train-images-idx3-ubyte.gz", md5="8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
         RemoteFile("train-labels-idx1-ubyte.gz", md5="25c81989df183df01b3e8a0aad5dffbe"),
         RemoteFile("t10k-images-idx3-ubyte.gz", md5="bef4ecab320f06d8554ea6380940ec79"),
         RemoteFile("t10k-labels-idx1-ubyte.gz", md5="bb300cfdad3c16e7a12a480ee83cd310")),
        _mnist_like(FASHION), tuple(FASHION)),
    "cifar10": DatasetSpec(
        "cifar10", ("https://www.cs.toronto.edu/~kriz/",),
        (RemoteFile("cifar-10-python.tar.gz", md5="c58f30108f718f92721af3b95e74349a"),), _cifar10),
    "cifar100": DatasetSpec(
        "cifar100", ("https://www.cs.toronto.edu/~kriz/",),
        (RemoteFile("cifar-100-python.tar.gz", md5="eb9058c3a382ffc7106e4002c42a8d85"),), _cifar100,
        options={"labels": "fine"}),
    "svhn": DatasetSpec(
        "svhn", ("http://ufldl.stanford.edu/housenumbers/",),
        (RemoteFile("train_32x32.mat", md5="e26dedcc434d2e4c54c9b2d4a06d8373"),
         RemoteFile("test_32x32.mat", md5="eb5a983be6a315427106f1b164d9cef3"),
         RemoteFile("extra_32x32.mat", md5="a93ce644f1a588dc4d68dda5feec44a7", optional=True)),
        _svhn, tuple(DIGITS)),
    "stl10": DatasetSpec(
        "stl10", ("http://ai.stanford.edu/~acoates/stl10/",),
        (RemoteFile("stl10_binary.tar.gz", md5="91f7769df0f17e558f3565bffb0c7dfb"),), _stl10),
    "usps": DatasetSpec(
        "usps", ("https://www.csie.ntu.edu.tw/~cjlin/libsvmtools/datasets/multiclass/",),
        (RemoteFile("usps.bz2", md5="ec16c51db3855ca6c91edd34d0e9b197"),
         RemoteFile("usps.t.bz2", md5="8ea070ee2aca1ac39742fdd1ef5ed118")),
        _usps, tuple(DIGITS)),
}
