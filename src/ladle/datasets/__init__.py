"""Standard datasets: download, verify, convert to HDF5 stores in a cache directory.

Example:
    >>> from ladle import datasets
    >>> "mnist" in datasets.DATASETS
    True
"""

from .config import data_dir, dataset_dir
from .download import (ChecksumError, DownloadError, download, download_and_verify, extract_tar,
                       file_digest, verify_file)
from .registry import DATASETS, DatasetSpec, RemoteFile

__all__ = ["DATASETS", "ChecksumError", "DatasetSpec", "DownloadError", "RemoteFile", "data_dir",
           "dataset_dir", "download", "download_and_verify", "extract_tar", "file_digest",
           "verify_file"]
