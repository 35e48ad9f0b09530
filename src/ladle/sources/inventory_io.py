"""Where an inventory's data lives and how it is fetched: locations, fsspec, timeouts, retries.

A :class:`Locator` turns a row's value (a path relative to a root, an id mapped to a file name, a
URL) into a full location; paths that would escape the root are refused when the source is built.
A :class:`Fetcher` reads the locations of a batch through fsspec: local files, ``file://``,
``http(s)://`` (concurrently, with a timeout) and any filesystem fsspec knows (``s3://``, ``gs://``
... once their package is installed), retrying transient failures a bounded number of times.

Example:
    >>> Locator.for_root("/data").resolve("cats/1.png")
    '/data/cats/1.png'
    >>> Locator.for_base_url("http://host/img/").resolve("1.png")
    'http://host/img/1.png'
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from typing import Any, Sequence
from urllib.parse import urljoin

import numpy as np

__all__ = ["Fetcher", "Locator", "SampleError", "SampleWarning", "check_relative", "is_retryable"]

_PROTOCOL = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")
_SUSPECT = ("..", ":", "\n/", "\n\\", "\n~")
_ESCAPES_LINES = re.compile(r"(^|[/\\])\.\.([/\\]|$)|^[/\\~]|^[A-Za-z]:|://", re.MULTILINE)


class SampleError(RuntimeError):
    """A row whose data could not be read or decoded: names the row, its id, location and cause.

    Example:
        >>> str(SampleError(7, "/data/x.png", FileNotFoundError("no such file"), ident="x"))
        "row 7 (id 'x'): cannot read '/data/x.png': FileNotFoundError: no such file"
    """

    def __init__(self, row: int, location: str | None, cause: BaseException | str,
                 ident: Any = None, field: str | None = None):
        self.row, self.location, self.ident, self.field = int(row), location, ident, field
        cause_text = cause if isinstance(cause, str) else f"{type(cause).__name__}: {cause}"
        who = f"row {self.row}" + ("" if ident is None else f" (id {ident!r})")
        what = "cannot read" if location is not None else "cannot decode"
        where = f" {location!r}" if location is not None else ""
        field_text = "" if field is None else f" for field {field!r}"
        super().__init__(f"{who}: {what}{where}{field_text}: {cause_text}")
        self.cause_text = cause_text

    def __reduce__(self):
        # the cause travels as text: exceptions of HTTP clients do not always pickle
        return (SampleError, (self.row, self.location, self.cause_text, self.ident, self.field))


class SampleWarning(UserWarning):
    """Emitted once per replaced sample with ``on_error="warn"``.

    Example:
        >>> issubclass(SampleWarning, UserWarning)
        True
    """


def check_relative(values: Any, what: str, root: str) -> None:
    """Refuse paths that escape a root: ``..`` components, absolute paths, drives, URLs, ``~``.

    ``values`` is a list of strings or a :class:`~ladle.sources.inventory_columns.StringColumn`.

    Example:
        >>> check_relative(["a/b.png", "c.png"], "column 'path'", "/data")
        >>> check_relative(["../etc/passwd"], "column 'path'", "/data")
        Traceback (most recent call last):
        ...
        ValueError: column 'path' of row 0 is '../etc/passwd', which escapes root='/data'; ...
    """
    column = hasattr(values, "text")  # a StringColumn
    text = values.text() if column else "\n".join(values)
    if not (text.startswith(("/", "\\", "~")) or any(s in text for s in _SUSPECT)):
        return  # substring scans in C find nothing suspicious: the common case
    if _ESCAPES_LINES.search(text) is None:
        return
    for i, value in enumerate(values.strings() if column else values):
        if _ESCAPES_LINES.search(value):
            raise ValueError(f"{what} of row {i} is {value!r}, which escapes root={root!r}; give "
                             "paths relative to the root, without '..' components, '~' or a "
                             "leading '/'")


class Locator:
    """Turns a row's value into a full location.

    * ``for_root(root)``: a path below ``root`` (a directory or any fsspec URL), joined with ``/``;
    * ``for_base_url(base)``: a URL joined to ``base`` with URL semantics (``urllib.parse.urljoin``:
      ``"a.png"`` under ``"http://h/x/"`` is ``"http://h/x/a.png"``, under ``"http://h/x"`` it is
      ``"http://h/a.png"``; an absolute URL replaces the base);
    * ``plain()``: the value itself (absolute paths, URLs; relative paths from the current
      directory).

    Example:
        >>> Locator.for_base_url("http://h/x").resolve("a.png")
        'http://h/a.png'
    """

    def __init__(self, kind: str, base: str | None):
        self.kind, self.base = kind, base

    @classmethod
    def for_root(cls, root: Any) -> "Locator":
        root = os.fspath(root)
        if root.startswith("file://"):
            root = root[len("file://"):]
        if not _PROTOCOL.match(root):
            root = os.path.abspath(os.path.expanduser(root))
        return cls("root", root.rstrip("/") or "/")

    @classmethod
    def for_base_url(cls, base_url: str) -> "Locator":
        return cls("url", str(base_url))

    @classmethod
    def plain(cls) -> "Locator":
        return cls("plain", os.getcwd())

    def resolve(self, value: str) -> str:
        if self.kind == "root":
            return f"{self.base}/{value}" if self.base != "/" else "/" + value
        if self.kind == "url":
            return urljoin(self.base, value)
        if value.startswith("file://"):
            return value[len("file://"):]
        if _PROTOCOL.match(value) or os.path.isabs(value):
            return value
        return os.path.join(self.base, value)

    def __repr__(self) -> str:
        return f"Locator({self.kind!r}, {self.base!r})"


def is_retryable(exc: BaseException) -> bool:
    """Transient failures (timeouts, connection errors, HTTP 5xx/408/429) are retried; others not.

    Example:
        >>> is_retryable(TimeoutError()), is_retryable(FileNotFoundError())
        (True, False)
    """
    if isinstance(exc, (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError,
                        ValueError, TypeError, ImportError)):
        return False
    status = getattr(exc, "status", None)
    if isinstance(status, int):
        return status >= 500 or status in (408, 429)
    return (isinstance(exc, (TimeoutError, ConnectionError, OSError))
            or type(exc).__module__.split(".")[0] == "aiohttp")


def _protocol(location: str) -> str:
    m = _PROTOCOL.match(location)
    return "file" if m is None else m.group(1).lower()


class Fetcher:
    """Reads locations through fsspec, a batch at a time, with a timeout and bounded retries.

    Args:
        timeout: seconds for one request of a remote file (None: no limit).
        retries: extra attempts for a transient failure (timeout, connection error, HTTP 5xx).
        retry_wait: seconds before the first retry; doubled for each further one.
        storage_options: keyword arguments for the fsspec filesystems of remote locations.
        concurrency: requests in flight at once on an asynchronous filesystem (HTTP, object stores).

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.txt"; _ = p.write_bytes(b"hi")
        >>> Fetcher().fetch([str(p), str(p) + ".missing"])[0]
        b'hi'
    """

    def __init__(self, timeout: float | None = 30.0, retries: int = 2, retry_wait: float = 0.5,
                 storage_options: dict | None = None, concurrency: int = 32):
        if timeout is not None and not timeout > 0:
            raise ValueError(f"timeout={timeout!r} must be a positive number of seconds or None")
        if int(retries) < 0:
            raise ValueError(f"retries={retries!r} must be >= 0")
        if int(concurrency) < 1:
            raise ValueError(f"concurrency={concurrency!r} must be >= 1")
        self.timeout, self.retries, self.retry_wait = timeout, int(retries), float(retry_wait)
        self.storage_options = dict(storage_options or {})
        self.concurrency = int(concurrency)

    def filesystem(self, protocol: str) -> Any:
        """The fsspec filesystem of ``protocol`` (instances are cached by fsspec, per process)."""
        import fsspec

        if protocol == "file":
            return fsspec.filesystem("file")
        options = dict(self.storage_options)
        if protocol in ("http", "https") and "client_kwargs" not in options:
            try:
                import aiohttp
            except ImportError as exc:
                raise ImportError("reading http(s) URLs needs aiohttp: pip install ladle[http]") \
                    from exc
            options["client_kwargs"] = {"timeout": aiohttp.ClientTimeout(total=self.timeout)}
        try:
            return fsspec.filesystem(protocol, **options)
        except ImportError as exc:
            raise ImportError(f"reading {protocol}:// locations needs fsspec's {protocol} support: "
                              f"{exc}") from exc

    # ------------------------------------------------------------------ bytes
    def fetch(self, locations: Sequence[str]) -> list[Any]:
        """The content of each location, or the exception that reading it raised (after retries)."""
        out: list[Any] = [None] * len(locations)
        groups: dict[str, list[int]] = {}
        for i, loc in enumerate(locations):
            groups.setdefault(_protocol(loc), []).append(i)
        for protocol, positions in groups.items():
            try:
                fs = self.filesystem(protocol)
            except Exception as exc:
                for i in positions:
                    out[i] = exc
                continue
            paths = [locations[i] for i in positions]
            for i, res in zip(positions, self._with_retries(fs, paths)):
                out[i] = res
        return out

    def _with_retries(self, fs: Any, paths: list[str]) -> list[Any]:
        results: list[Any] = [None] * len(paths)
        pending = list(range(len(paths)))
        for attempt in range(self.retries + 1):
            got = self._cat(fs, [paths[i] for i in pending])
            again = []
            for i, res in zip(pending, got):
                results[i] = res
                if isinstance(res, BaseException) and attempt < self.retries and is_retryable(res):
                    again.append(i)
            pending = again
            if not pending:
                break
            time.sleep(self.retry_wait * 2 ** attempt)
        return results

    def _cat(self, fs: Any, paths: list[str]) -> list[Any]:
        from fsspec.implementations.local import LocalFileSystem

        if isinstance(fs, LocalFileSystem):  # read the files directly: the same, minus overhead
            return [_read_local(p) for p in paths]
        if not getattr(fs, "async_impl", False):
            out: list[Any] = []
            for p in paths:
                try:
                    out.append(fs.cat_file(p))
                except Exception as exc:
                    out.append(exc)
            return out
        from fsspec.asyn import sync

        return sync(fs.loop, _cat_all, fs, paths, self.timeout, self.concurrency)

    # ------------------------------------------------------------------ files
    def open(self, location: str) -> Any:
        """An open binary file for ``location`` (retried like :meth:`fetch`)."""
        fs = self.filesystem(_protocol(location))
        for attempt in range(self.retries + 1):
            try:
                return fs.open(location, "rb")
            except Exception as exc:
                if attempt >= self.retries or not is_retryable(exc):
                    raise
                time.sleep(self.retry_wait * 2 ** attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def __repr__(self) -> str:
        return (f"Fetcher(timeout={self.timeout}, retries={self.retries}, "
                f"concurrency={self.concurrency})")


def _read_local(path: str) -> Any:
    """A local file's bytes: what fsspec's LocalFileSystem does, minus its per-call overhead."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except Exception as exc:
        return exc


async def _cat_all(fs: Any, paths: list[str], timeout: float | None, limit: int) -> list[Any]:
    sem = asyncio.Semaphore(limit)

    async def one(path: str) -> Any:
        async with sem:
            try:
                if timeout is None:
                    return await fs._cat_file(path)
                return await asyncio.wait_for(fs._cat_file(path), timeout)
            except asyncio.TimeoutError as exc:
                return TimeoutError(f"no complete response within timeout={timeout} s"
                                    + (f" ({exc})" if str(exc) else ""))
            except Exception as exc:
                return exc

    return list(await asyncio.gather(*(one(p) for p in paths)))


def unique_positions(locations: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """(unique locations, position of each input in them), so repeats are read once.

    Example:
        >>> unique_positions(["a", "b", "a"])
        (['a', 'b'], array([0, 1, 0]))
    """
    index: dict[str, int] = {}
    pos = np.array([index.setdefault(loc, len(index)) for loc in locations], dtype=np.int64)
    return list(index), pos
