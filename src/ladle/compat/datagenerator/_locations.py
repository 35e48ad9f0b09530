"""Data encoders that load a record's data from a file or a URL (re-exported by :mod:`.encoders`).

Both find a record's data from its ``id`` column, mapped by ``id_mapper`` (None: the id itself),
and hand the content to ``data_encoder``; both pass ``fit`` and ``finalize_batch`` on to it.
URLs are fetched through ladle's core fetcher (fsspec over aiohttp): a batch's URLs concurrently,
with a timeout and retries of transient failures; a failed record is an error naming it and its
URL.

Example:
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp()); _ = (root / "a.txt").write_text("1 2 3")
    >>> enc = FileDataEncoder(lambda f: [int(v) for v in f.read().split()], root,
    ...                       id_mapper=lambda i: i + ".txt")
    >>> enc({"id": "a"})
    [1, 2, 3]
"""

from __future__ import annotations

import json
import os
import re
from typing import Any, Callable
from urllib.parse import urljoin

from ..._checks import check_choice
from ...sources.inventory_io import Fetcher, SampleError, unique_positions
from ._base import DataEncoder
from ._encoding import records as as_records

__all__ = ["FileDataEncoder", "UrlDataEncoder"]

_PROTOCOL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
URL_TYPES = ("text", "json", "binary")


def _identity(value: Any) -> Any:
    return value


class _Located(DataEncoder):
    """Shared parts: the id column, the id mapper, and delegation to the wrapped data encoder."""

    def _setup(self, data_encoder: Any, id_mapper: Callable[[Any], Any] | None, id: str) -> None:
        if data_encoder is not None and not callable(data_encoder):
            raise TypeError(f"data_encoder={data_encoder!r} must be callable: it gets the "
                            "content and returns the sample")
        if id_mapper is not None and not callable(id_mapper):
            raise TypeError(f"id_mapper={id_mapper!r} must be a function id -> file name (or "
                            "None for the id itself)")
        self.data_encoder = data_encoder
        self.id_mapper = _identity if id_mapper is None else id_mapper
        self.id = id

    def _name(self, record: Any) -> str:
        try:
            ident = record[self.id]
        except (KeyError, IndexError):
            keys = list(record.keys()) if hasattr(record, "keys") else record
            raise KeyError(f"{type(self).__name__}(id={self.id!r}): the record has no column "
                           f"{self.id!r}; its columns are {keys}: pass id= the column that names "
                           "the data") from None
        return str(self.id_mapper(ident))

    def decode(self, content: Any) -> Any:
        """The sample made from a record's content: ``data_encoder(content)``, or the content."""
        return content if self.data_encoder is None else self.data_encoder(content)

    def fit(self, inventory: Any) -> "_Located":
        """Fit the wrapped data encoder on the inventory (when it has ``fit``)."""
        fit = getattr(self.data_encoder, "fit", None)
        if fit is not None:
            fit(inventory)
        return self

    def finalize_batch(self, records: list) -> Any:
        """The wrapped data encoder's ``finalize_batch`` (padding), if it has one."""
        finalize = getattr(self.data_encoder, "finalize_batch", None)
        return records if finalize is None else finalize(records)


class FileDataEncoder(_Located):
    """A record's data from the file ``os.path.join(data_path, id_mapper(record[id]))``.

    The open file (text, or binary with ``binary=True``) is passed to ``data_encoder``, which
    returns the sample; without one the sample is the file's content.

    Args:
        data_encoder: ``fn(file) -> sample`` (a function or a callable encoder); its ``fit`` and
            ``finalize_batch`` are used when it has them.
        data_path: the directory of the files (or an fsspec URL such as ``memory://data``).
        id_mapper: ``fn(id) -> file name``; None uses the id itself.
        id: the column of ids.
        binary: open the files in binary mode.
        encoding: text encoding of the files (text mode).

    Example:
        >>> import tempfile, pathlib
        >>> root = pathlib.Path(tempfile.mkdtemp()); _ = (root / "7").write_text("seven")
        >>> FileDataEncoder(None, root)({"id": 7})
        'seven'
    """

    def __init__(self, data_encoder: Any, data_path: Any, id_mapper: Callable[[Any], Any] | None
                 = None, id: str = "id", binary: bool = False, encoding: str = "utf-8"):
        self._setup(data_encoder, id_mapper, id)
        self.data_path = os.fspath(data_path)
        self.binary = bool(binary)
        self.encoding = encoding

    def path(self, record: Any) -> str:
        """The file of ``record``.

        Example:
            >>> FileDataEncoder(None, "/data", lambda i: f"{i}.txt").path({"id": "a"})
            '/data/a.txt'
        """
        name = self._name(record)
        if _PROTOCOL.match(self.data_path):
            return self.data_path.rstrip("/") + "/" + name
        return os.path.join(self.data_path, name)

    def _open(self, path: str) -> Any:
        mode = "rb" if self.binary else "r"
        encoding = None if self.binary else self.encoding
        if _PROTOCOL.match(path):
            import fsspec

            return fsspec.open(path, mode, encoding=encoding).open()
        return open(path, mode, encoding=encoding)

    def decode(self, content: Any) -> Any:
        """The sample made from an open file: ``data_encoder(file)``, or the file's content."""
        return content.read() if self.data_encoder is None else self.data_encoder(content)

    def transform(self, record: Any) -> Any:
        path = self.path(record)
        try:
            handle = self._open(path)
        except FileNotFoundError as exc:
            raise FileNotFoundError(
                f"record {record.get(self.id) if hasattr(record, 'get') else record!r}: no file "
                f"{path!r} (data_path={self.data_path!r}, id={self.id!r}); check data_path and "
                "id_mapper") from exc
        with handle:
            return self.decode(handle)

    def get_size(self, record: Any = None) -> Any:
        """The size in bytes of ``record``'s file; without a record, the wrapped data encoder's
        ``get_size()`` (e.g. the length of its feature vectors).

        Example:
            >>> import tempfile, pathlib
            >>> root = pathlib.Path(tempfile.mkdtemp()); _ = (root / "a").write_bytes(b"abc")
            >>> FileDataEncoder(None, root).get_size({"id": "a"})
            3
        """
        if record is not None:
            path = self.path(record)
            if _PROTOCOL.match(path):
                import fsspec

                fs, inner = fsspec.core.url_to_fs(path)
                return int(fs.size(inner))
            return os.path.getsize(path)
        get_size = getattr(self.data_encoder, "get_size", None)
        if get_size is None:
            raise TypeError(f"get_size() without a record asks the data encoder "
                            f"{self.data_encoder!r}, which has no get_size(); pass a record for "
                            "the size of its file")
        return get_size()

    def __repr__(self) -> str:
        return (f"FileDataEncoder({self.data_encoder!r}, data_path={self.data_path!r}, "
                f"id={self.id!r}, binary={self.binary})")


class UrlDataEncoder(_Located):
    """A record's data from the URL ``urljoin(base_url, id_mapper(record[id]))``.

    ``urljoin`` semantics: ``"a.txt"`` under ``"http://host/data/"`` is ``http://host/data/a.txt``,
    under ``"http://host/data"`` (no trailing slash) it is ``http://host/a.txt``; without a base
    the mapped id must be a full URL. The content (``type="text"``: ``str``, ``"json"``: the parsed
    document, ``"binary"``: ``bytes``) goes to ``data_encoder``. A batch's URLs are fetched
    concurrently (``transform_batch``); ``transform(record)`` fetches one.

    Args:
        data_encoder: ``fn(content) -> sample``; None keeps the content.
        base_url: the base the mapped ids are joined to.
        id_mapper: ``fn(id) -> relative URL``; None uses the id itself.
        headers: HTTP headers sent with every request (e.g. authorisation).
        type: ``"text"``, ``"json"`` or ``"binary"``.
        id: the column of ids.
        timeout: seconds for one request; retries: extra attempts after a transient failure.
        encoding: text encoding of ``type="text"`` content.

    Example:
        >>> UrlDataEncoder(base_url="http://host/data/", id_mapper=lambda i: i + ".json",
        ...                type="json").url({"id": "a"})
        'http://host/data/a.json'
    """

    def __init__(self, data_encoder: Any = None, base_url: str | None = None,
                 id_mapper: Callable[[Any], Any] | None = None, headers: dict | None = None,
                 type: str = "text", id: str = "id", *, timeout: float | None = 30.0,
                 retries: int = 2, encoding: str = "utf-8"):
        self._setup(data_encoder, id_mapper, id)
        self.base_url = None if base_url is None else str(base_url)
        self.headers = dict(headers or {})
        self.type = check_choice("type", type, URL_TYPES)
        self.encoding = encoding
        options = {"headers": self.headers} if self.headers else None
        self._fetcher = Fetcher(timeout=timeout, retries=retries, storage_options=options)

    def url(self, record: Any) -> str:
        """The URL of ``record``."""
        name = self._name(record)
        return name if self.base_url is None else urljoin(self.base_url, name)

    def _content(self, data: bytes) -> Any:
        if self.type == "binary":
            return data
        text = data.decode(self.encoding)
        return json.loads(text) if self.type == "json" else text

    def _sample(self, record: Any, row: int | None, url: str, data: Any) -> Any:
        """The sample of a fetched record. A failed request or undecodable text/JSON is an
        error naming the record (its inventory row when known), its id and its URL; errors of
        ``data_encoder`` itself propagate as they are."""
        ident = record.get(self.id) if hasattr(record, "get") else None
        try:
            if isinstance(data, BaseException):
                raise data
            content = self._content(data)
        except Exception as exc:
            if row is not None:
                raise SampleError(row, url, exc, ident=ident) from exc
            raise RuntimeError(f"record with id {ident!r}: cannot read {url!r}: "
                               f"{type(exc).__name__}: {exc}") from exc
        return self.decode(content)

    def transform(self, record: Any) -> Any:
        url = self.url(record)
        (data,) = self._fetcher.fetch([url])
        return self._sample(record, None, url, data)

    def transform_batch(self, records: Any) -> Any:
        """Fetch the batch's URLs concurrently (each distinct URL once), encode each record's
        content, then ``finalize_batch``."""
        recs = as_records(records)
        if type(self).transform is not UrlDataEncoder.transform:  # a subclass's own transform
            return self.finalize_batch([self.transform(r) for r in recs])
        urls = [self.url(r) for r in recs]
        unique, positions = unique_positions(urls)  # a URL repeated in the batch is read once
        content = self._fetcher.fetch(unique)
        fetched = [content[p] for p in positions.tolist()]
        index = records.index.tolist()
        rows = [i if isinstance(i, int) else pos for pos, i in enumerate(index)]
        samples = [self._sample(r, row, url, data)
                   for r, row, url, data in zip(recs, rows, urls, fetched)]
        return self.finalize_batch(samples)

    def __repr__(self) -> str:
        return (f"UrlDataEncoder({self.data_encoder!r}, base_url={self.base_url!r}, "
                f"type={self.type!r}, id={self.id!r})")
