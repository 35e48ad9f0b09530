"""Where datasets are cached: ``$LADLE_HOME``, else ``~/.ladle.cfg`` ``[paths] data_dir``, else ``~/.ladle``.

Example:
    >>> import os
    >>> saved = os.environ.get("LADLE_HOME")
    >>> os.environ["LADLE_HOME"] = "/tmp/ladle-doc"
    >>> str(data_dir())
    '/tmp/ladle-doc'
    >>> if saved is None: del os.environ["LADLE_HOME"]
    ... else: os.environ["LADLE_HOME"] = saved
"""

from __future__ import annotations

import configparser
import os
from pathlib import Path

__all__ = ["CONFIG_FILE", "config_data_dir", "data_dir", "dataset_dir"]

#: The optional configuration file (``[paths] data_dir = ...``).
CONFIG_FILE = Path("~/.ladle.cfg")


def data_dir() -> Path:
    """The cache directory for downloads and converted stores (not created here).

    Order of precedence: the ``LADLE_HOME`` environment variable, the ``data_dir`` key of the
    ``[paths]`` section of ``~/.ladle.cfg``, then ``~/.ladle``.

    Example:
        >>> isinstance(data_dir(), Path)
        True
    """
    env = os.environ.get("LADLE_HOME")
    if env:
        return Path(env).expanduser()
    value = config_data_dir(CONFIG_FILE)
    if value:
        return Path(value).expanduser()
    return Path("~/.ladle").expanduser()


def config_data_dir(path: str | os.PathLike) -> str | None:
    """The ``data_dir`` key of the ``[paths]`` section of a config file, or None.

    None when the file or the key is missing; a file that does not parse is an error.

    Example:
        >>> config_data_dir("/no/such/file.cfg") is None
        True
    """
    cfg_path = Path(path).expanduser()
    if not cfg_path.is_file():
        return None
    parser = configparser.ConfigParser()
    try:
        parser.read(cfg_path)
    except configparser.Error as exc:
        raise ValueError(f"{cfg_path} is not a valid config file ({exc}); expected a '[paths]' "
                         "section with 'data_dir = /some/dir'") from None
    return parser.get("paths", "data_dir", fallback=None) or None


def dataset_dir(name: str) -> Path:
    """The directory of one dataset inside :func:`data_dir`, created if needed.

    Example:
        >>> dataset_dir("mnist").name
        'mnist'
    """
    path = data_dir() / name
    path.mkdir(parents=True, exist_ok=True)
    return path
