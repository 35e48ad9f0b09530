"""Standard datasets: download, verify, convert to HDF5 stores in a cache directory, read fast.

MNIST, Fashion-MNIST, CIFAR-10, CIFAR-100 (fine or coarse labels), SVHN (``extra=True`` for the
extra split), STL-10 (``unlabeled=True``), USPS, and scikit-learn's bundled digits (offline).
Files go to ``$LADLE_HOME`` (or ``~/.ladle.cfg`` ``[paths] data_dir``, or ``~/.ladle``).

Example:
    >>> from ladle import datasets
    >>> ds = datasets.digits(n_val=100)
    >>> batch = next(iter(ds.loader("train", batch_size=32, seed=0)))
    >>> batch["image"].shape, batch["image"].dtype.name
    ((32, 1, 8, 8), 'float32')
"""

from .api import (Dataset, ScaledSplit, cifar10, cifar100, digits, fashion_mnist, load, mnist,
                  prepare, stl10, svhn, usps)
from .config import data_dir, dataset_dir
from .download import (ChecksumError, DownloadError, download, download_and_verify, extract_tar,
                       file_digest, verify_file)
from .registry import DATASETS, DatasetSpec, RemoteFile

__all__ = ["DATASETS", "ChecksumError", "Dataset", "DatasetSpec", "DownloadError", "RemoteFile",
           "ScaledSplit", "cifar10", "cifar100", "data_dir", "dataset_dir", "digits", "download",
           "download_and_verify", "extract_tar", "fashion_mnist", "file_digest", "load", "mnist",
           "prepare", "stl10", "svhn", "usps", "verify_file"]
