"""batchup's configuration: where datasets are stored, and verified downloads.

The data directory is the ``data_dir`` key of the ``[paths]`` section of ``~/.batchup.cfg``, else
the ``BATCHUP_HOME`` environment variable, else ``~/.batchup`` (batchup's order). Downloads go
through ladle's :mod:`ladle.datasets.download` (retries, resumption, progress bar).

Example:
    >>> import os
    >>> saved = os.environ.get("BATCHUP_HOME")
    >>> os.environ["BATCHUP_HOME"] = "/tmp/batchup-doc"
    >>> get_data_dir() == "/tmp/batchup-doc" or os.path.exists(os.path.expanduser(CONFIG_PATH))
    True
    >>> if saved is None: del os.environ["BATCHUP_HOME"]
    ... else: os.environ["BATCHUP_HOME"] = saved
"""

from __future__ import annotations

import os

from ..._checks import check_int
from ...datasets.config import config_data_dir

__all__ = ["CONFIG_PATH", "DEFAULT_DATA_DIR", "ENV_NAME", "compute_sha256", "download",
           "download_and_verify", "download_data", "get_data_dir", "get_data_path", "verify_file"]

#: batchup's configuration file.
CONFIG_PATH = os.path.join("~", ".batchup.cfg")
#: the data directory when neither the file nor the environment names one.
DEFAULT_DATA_DIR = os.path.join("~", ".batchup")
#: the environment variable naming the data directory.
ENV_NAME = "BATCHUP_HOME"


def get_data_dir() -> str:
    """The batchup data directory (``~/.batchup.cfg``, then ``$BATCHUP_HOME``, then ``~/.batchup``).

    Example:
        >>> isinstance(get_data_dir(), str)
        True
    """
    value = config_data_dir(CONFIG_PATH)
    if value:
        return os.path.expanduser(value)
    env = os.environ.get(ENV_NAME)
    if env:
        return os.path.expanduser(env)
    return os.path.expanduser(DEFAULT_DATA_DIR)


def get_data_path(filename: str) -> str:
    """``filename`` inside the data directory.

    Example:
        >>> get_data_path("mnist.pkl.gz").endswith("mnist.pkl.gz")
        True
    """
    return os.path.join(get_data_dir(), filename)


def compute_sha256(path: str) -> str:
    """The SHA-256 hex digest of a file.

    Example:
        >>> import tempfile
        >>> f = tempfile.NamedTemporaryFile(delete=False); f.close()
        >>> compute_sha256(f.name)[:8]
        'e3b0c442'
    """
    from ...datasets.download import file_digest

    return file_digest(path, "sha256")


def verify_file(path: str, sha256: str | None) -> bool:
    """True when ``path`` exists and has the given SHA-256 (any file when ``sha256`` is None).

    Example:
        >>> verify_file("/no/such/file", None)
        False
    """
    if not os.path.isfile(path):
        return False
    return sha256 is None or compute_sha256(path) == sha256.lower()


def download(path: str, source_url: str, retries: int = 3) -> str:
    """Download ``source_url`` to ``path`` (parent directories created), retrying failed attempts.

    Example:
        >>> download  # doctest: +ELLIPSIS
        <function download at ...>
    """
    from ...datasets.download import download as _download

    check_int("retries", retries, 0)
    return str(_download(source_url, path, retries=retries))


def download_and_verify(path: str, source_url: str, sha256: str | None,
                        retries: int = 3) -> str:
    """Download unless a verified copy is there; retry while the checksum is wrong.

    A file with the wrong checksum is deleted and fetched again, up to ``retries`` more times;
    then a ``ValueError`` names the file and both checksums.

    Example:
        >>> download_and_verify  # doctest: +ELLIPSIS
        <function download_and_verify at ...>
    """
    retries = check_int("retries", retries, 0)
    if verify_file(path, sha256):
        return path
    got = None
    for _ in range(retries + 1):
        if os.path.exists(path):
            os.remove(path)
        download(path, source_url, retries=retries)
        if verify_file(path, sha256):
            return path
        got = compute_sha256(path)
    os.remove(path)
    raise ValueError(f"{path} downloaded from {source_url} has SHA-256 {got}, expected {sha256}, "
                     f"after {retries + 1} attempts; the file was deleted. Check the URL, or place "
                     "a correct copy at that path by hand")


def download_data(filename: str, source_url: str, sha256: str | None, retries: int = 3) -> str:
    """:func:`download_and_verify` into the data directory; returns the file's path.

    Example:
        >>> download_data  # doctest: +ELLIPSIS
        <function download_data at ...>
    """
    return download_and_verify(get_data_path(filename), source_url, sha256, retries)
