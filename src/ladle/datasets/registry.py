"""The standard datasets: where their files are published, their checksums, and how to read them.

Checksums are SHA-256 sums of the published files (as TensorFlow Datasets pins them); USPS, which
it does not carry, is pinned by the MD5 sums torchvision uses. ``mirrors`` are tried in order.
CIFAR is read from its binary version (no pickles are loaded).

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
    return splits, {"class_names": classes["label"]}


def _cifar100(paths, opts):
    """Both label sets are stored; ``labels="coarse"`` makes the coarse one the ``label`` column."""
    (archive,) = paths.values()
    splits, classes = formats.read_cifar(archive)
    main = opts.get("labels", "fine")
    other = "fine" if main == "coarse" else "coarse"
    columns = {split: {"image": c["image"], "label": c[main], f"label_{other}": c[other]}
               for split, c in splits.items()}
    return columns, {"class_names": classes[main], f"class_names_{other}": classes[other]}


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
        ("https://storage.googleapis.com/cvdf-datasets/mnist/",
         "https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
        (RemoteFile("train-images-idx3-ubyte.gz",
                    sha256="440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
         RemoteFile("train-labels-idx1-ubyte.gz",
                    sha256="3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
         RemoteFile("t10k-images-idx3-ubyte.gz",
                    sha256="8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
         RemoteFile("t10k-labels-idx1-ubyte.gz",
                    sha256="f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6")),
        _mnist_like(DIGITS), tuple(DIGITS)),
    "fashion_mnist": DatasetSpec(
        "fashion_mnist", ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        (RemoteFile("train-images-idx3-ubyte.gz",
                    sha256="3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"),
         RemoteFile("train-labels-idx1-ubyte.gz",
                    sha256="a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"),
         RemoteFile("t10k-images-idx3-ubyte.gz",
                    sha256="346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"),
         RemoteFile("t10k-labels-idx1-ubyte.gz",
                    sha256="67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5")),
        _mnist_like(FASHION), tuple(FASHION)),
    "cifar10": DatasetSpec(
        "cifar10", ("https://www.cs.toronto.edu/~kriz/",),
        (RemoteFile("cifar-10-binary.tar.gz",
                    sha256="c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"),), _cifar10),
    "cifar100": DatasetSpec(
        "cifar100", ("https://www.cs.toronto.edu/~kriz/",),
        (RemoteFile("cifar-100-binary.tar.gz",
                    sha256="58a81ae192c23a4be8b1804d68e518ed807d710a4eb253b1f2a199162a40d8ec"),), _cifar100,
        options={"labels": "fine"}),
    "svhn": DatasetSpec(
        "svhn", ("http://ufldl.stanford.edu/housenumbers/",),
        (RemoteFile("train_32x32.mat",
                    sha256="435e94d69a87fde4fd4d7f3dd208dfc32cb6ae8af2240d066de1df7508d083b8"),
         RemoteFile("test_32x32.mat",
                    sha256="cdce80dfb2a2c4c6160906d0bd7c68ec5a99d7ca4831afa54f09182025b6a75b"),
         RemoteFile("extra_32x32.mat", optional=True,
                    sha256="a133a4beb38a00fcdda90c9489e0c04f900b660ce8a316a5e854838379a71eb3")),
        _svhn, tuple(DIGITS)),
    "stl10": DatasetSpec(
        "stl10", ("http://ai.stanford.edu/~acoates/stl10/",),
        (RemoteFile("stl10_binary.tar.gz",
                    sha256="f31fd99273a1acb8609c8db427cebb1de3f71de77758cdc0e22956e1289b9866"),), _stl10),
    "usps": DatasetSpec(
        "usps", ("https://www.csie.ntu.edu.tw/~cjlin/libsvmtools/datasets/multiclass/",),
        (RemoteFile("usps.bz2", md5="ec16c51db3855ca6c91edd34d0e9b197"),
         RemoteFile("usps.t.bz2", md5="8ea070ee2aca1ac39742fdd1ef5ed118")),
        _usps, tuple(DIGITS)),
}
