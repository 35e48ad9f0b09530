"""Opening stores for :class:`~ladle.sources.hdf5.HDF5Source`: errors, lock, per-process handles.

HDF5 (as PyTables builds it) is not thread-safe, so every PyTables call ladle makes holds
:data:`hdf5_lock`. A source opens its file lazily in each process: the spec (:class:`Spec`) travels
to workers, and :func:`pooled` gives each process one open handle per spec, reused by every copy of
the source that arrives there (a process pool unpickles the source for every batch).

Example:
    >>> from ladle.sources.hdf5_open import StoreError
    >>> issubclass(StoreError, OSError)
    True
"""

from __future__ import annotations

import atexit
import os
import threading
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np
import tables

__all__ = ["MissingNodeError", "Opened", "Spec", "StoreError", "hdf5_lock", "open_spec", "pooled"]

#: Held around every PyTables call ladle makes (HDF5 is not thread-safe).
hdf5_lock = threading.RLock()
_POOL: dict["Spec", "Opened"] = {}
_LIVE: "weakref.WeakSet[Opened]" = weakref.WeakSet()
_ARRAY_KINDS = (tables.Array,)  # Array, CArray and EArray
GAP_BYTES = 1 << 16  # rows of a gap worth reading rather than issuing another read (unchunked data)


class StoreError(OSError):
    """An HDF5 store that cannot be opened or read: not HDF5, truncated, corrupt, or changed.

    Example:
        >>> str(StoreError("cannot open 'x.h5'"))
        "cannot open 'x.h5'"
    """


class MissingNodeError(StoreError, LookupError):
    """The node asked for is not in the store (the message lists the nodes that are).

    Example:
        >>> isinstance(MissingNodeError("no /data"), LookupError)
        True
    """


def _after_fork() -> None:
    global hdf5_lock, _POOL
    hdf5_lock = threading.RLock()  # a lock held by another thread at fork time would never be freed
    _POOL = {}  # the parent's handles belong to the parent; children open their own


os.register_at_fork(after_in_child=_after_fork)


@dataclass(frozen=True)
class Spec:
    """What a source reads, picklable and hashable: the file, the node(s) and the options.

    Example:
        >>> Spec("/tmp/s.h5", ("/data",), None, None, None, None, None, (0, 0)).nodes
        ('/data',)
    """

    path: str
    nodes: tuple[str, ...]
    fields: tuple[str, ...] | None
    where: str | None
    annotations: str | None
    annotation_fields: tuple[str, ...] | None
    chunk_cache: int | None
    signature: tuple[int, int]
    listed: bool = False  # nodes given as a list (of array nodes), even a list of one
    direct: bool = True  # decode Blosc/Blosc2 chunks directly (see hdf5_chunks)


def signature(path: str) -> tuple[int, int]:
    """``(mtime_ns, size)`` of a file: a store changing under a source is an error, not a surprise.

    Example:
        >>> signature(__file__)[1] > 0
        True
    """
    st = os.stat(path)
    return (st.st_mtime_ns, st.st_size)


def _first_line(exc: BaseException) -> str:
    """The root cause of an HDF5 error: the innermost message of its back trace, on one line."""
    lines = [ln.strip() for ln in str(exc).splitlines()]
    messages = [ln for i, ln in enumerate(lines)
                if ln and i and lines[i - 1].startswith("File ")]  # 'File "H5F.c", ...' then why
    if messages:
        return messages[-1][:200]
    useful = [ln for ln in lines if ln]
    return (useful[-1] if useful else type(exc).__name__)[:200]


def open_file(path: str, chunk_cache: int | None = None) -> tables.File:
    """Open ``path`` read-only, turning every failure into one clear error.

    Example:
        >>> open_file("/no/such/store.h5")
        Traceback (most recent call last):
        ...
        FileNotFoundError: HDF5 store '/no/such/store.h5' does not exist; check the path
    """
    if not os.path.exists(path):
        raise FileNotFoundError(f"HDF5 store {path!r} does not exist; check the path")
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path!r} is a directory; give the path of an HDF5 store file")
    kwargs = {} if chunk_cache is None else {"chunk_cache_size": int(chunk_cache)}
    try:
        with hdf5_lock:
            return tables.open_file(path, "r", **kwargs)
    except (tables.HDF5ExtError, OSError, ValueError, RuntimeError) as exc:
        raise StoreError(f"cannot open {path!r} as an HDF5 store: it is not an HDF5 file, or it is "
                         f"truncated or corrupt ({_first_line(exc)})") from exc


def list_leaves(h5: tables.File, limit: int = 20) -> str:
    """The first ``limit`` leaves of a file, for error messages.

    Example:
        >>> list_leaves.__name__
        'list_leaves'
    """
    names = [leaf._v_pathname for leaf in h5.walk_nodes("/", "Leaf")]
    shown = ", ".join(names[:limit]) + (", ..." if len(names) > limit else "")
    return shown or "none: the file is empty"


def get_node(h5: tables.File, path: str) -> Any:
    """``h5.get_node(path)``, or :class:`MissingNodeError` listing the leaves that exist.

    Example:
        >>> get_node.__name__
        'get_node'
    """
    try:
        return h5.get_node(path)
    except (tables.NoSuchNodeError, ValueError):
        raise MissingNodeError(f"node {path!r} is not in {h5.filename!r}; leaves there: "
                               f"{list_leaves(h5)}") from None


def resolve(h5: tables.File, node: Any) -> tuple[str, tuple[Any, ...]]:
    """``("table", (table,))`` or ``("arrays", (array, ...))`` for a node path, a group or a list.

    Example:
        >>> resolve.__name__
        'resolve'
    """
    if isinstance(node, (list, tuple)):
        if not node:
            raise ValueError("node=[] names no array nodes; give a node path such as '/data'")
        leaves = tuple(get_node(h5, p) for p in node)
        for leaf in leaves:
            if not isinstance(leaf, _ARRAY_KINDS) or isinstance(leaf, tables.VLArray):
                raise ValueError(f"node {leaf._v_pathname!r} is a {type(leaf).__name__}; a list "
                                 "of nodes must name array nodes (Array, CArray, EArray)")
        return "arrays", leaves
    obj = get_node(h5, node)
    if isinstance(obj, tables.Table):
        return "table", (obj,)
    if isinstance(obj, tables.VLArray):
        raise ValueError(f"node {node!r} is a VLArray (variable-length rows), which ladle does not "
                         "read; store fixed-shape rows in a Table or a CArray/EArray")
    if isinstance(obj, _ARRAY_KINDS):
        return "arrays", (obj,)
    if isinstance(obj, tables.Group):
        leaves = [obj._v_leaves[k] for k in sorted(obj._v_leaves)]
        tables_in = [leaf._v_pathname for leaf in leaves if isinstance(leaf, tables.Table)]
        if tables_in:
            raise ValueError(f"node {node!r} is a group holding tables {tables_in}; give a table's "
                             f"path, e.g. node={tables_in[0]!r}")
        arrays = [leaf for leaf in leaves if isinstance(leaf, _ARRAY_KINDS)
                  and not isinstance(leaf, tables.VLArray)]
        if not arrays or len(arrays) != len(leaves):
            held = [leaf._v_name for leaf in leaves] or "none"
            raise ValueError(f"node {node!r} is a group; ladle reads a group whose leaves are all "
                             f"array nodes, but it holds {held}")
        return "arrays", tuple(arrays)
    raise ValueError(f"node {node!r} is a {type(obj).__name__}; give a Table, an array node or a "
                     "group of array nodes")


def max_gap_for(leaf: Any, row_bytes: int, override: int | None) -> int:
    """Unwanted rows worth reading between two wanted ones, so that fewer reads are issued.

    A filtered chunk (compressed or checksummed) is decoded whole, so all the rows wanted from it
    are read in one call (gaps up to the chunk length); plain data is read straight from the file,
    so gaps are read only when small (up to about 64 KiB, and never past a chunk).

    Example:
        >>> max_gap_for(None, 100, override=3), max_gap_for(None, 1024, None)
        (3, 64)
    """
    if override is not None:
        return override
    chunks = getattr(leaf, "chunkshape", None)
    budget = GAP_BYTES // max(row_bytes, 1)
    if not chunks:
        return budget
    chunk_gap = max(int(chunks[0]) - 1, 0)
    return chunk_gap if has_filters(leaf) else min(chunk_gap, budget)


def has_filters(leaf: Any) -> bool:
    """Whether a leaf's chunks pass through filters (compression or checksums), so decode whole.

    Example:
        >>> has_filters(None)
        False
    """
    filters = getattr(leaf, "filters", None)
    return bool(filters is not None and (filters.complevel or filters.fletcher32))


class Annotations:
    """A one-to-many annotation table joined on ``data_index`` by sort + searchsorted.

    The table (chosen columns) is held in memory, sorted by ``data_index`` (stably: an instance's
    annotations keep their table order). :meth:`lookup` gives each data row its annotations as a
    structured array, empty for a row that has none.

    Example:
        >>> a = Annotations(np.array([(1, 7), (0, 5), (1, 8)],
        ...                          dtype=[("data_index", "u4"), ("label", "u1")]), None, 3)
        >>> [x["label"].tolist() for x in a.lookup(np.array([1, 2, 0]))]
        [[7, 8], [], [5]]
    """

    def __init__(self, data: np.ndarray, fields: tuple[str, ...] | None, n_rows: int,
                 where: str = "the annotation table"):
        names = data.dtype.names or ()
        if "data_index" not in names:
            raise ValueError(f"{where} has no 'data_index' column (columns: {list(names)}); the "
                             "annotation table needs data_index, the row of the data table")
        keys = data["data_index"]
        if not np.issubdtype(keys.dtype, np.integer):
            raise ValueError(f"{where}: data_index has dtype {keys.dtype}; it must be integer")
        keys = keys.astype(np.int64)
        if keys.size and (keys.min() < 0 or keys.max() >= n_rows):
            bad = int(keys.min()) if keys.min() < 0 else int(keys.max())
            count = int(((keys < 0) | (keys >= n_rows)).sum())
            raise ValueError(f"{where}: {count} annotation(s) point outside the data table "
                             f"(data_index={bad}, the table has {n_rows} rows); fix the store")
        chosen = tuple(n for n in names if n != "data_index") if fields is None else fields
        missing = [f for f in chosen if f not in names]
        if missing:
            raise ValueError(f"annotation_fields {missing} are not in {where}; columns: "
                             f"{list(names)}")
        order = np.argsort(keys, kind="stable")
        self.keys = keys[order]
        dtype = np.dtype([(n, data.dtype.fields[n][0]) for n in chosen])
        self.values = np.empty(order.size, dtype)
        for n in chosen:
            self.values[n] = data[n][order]
        self.dtype = dtype

    def lookup(self, rows: np.ndarray) -> np.ndarray:
        """One structured array per row (object array of length ``len(rows)``)."""
        if len(rows) == 0:
            return np.empty(0, dtype=object)
        lo = np.searchsorted(self.keys, rows, side="left")
        hi = np.searchsorted(self.keys, rows, side="right")
        counts = hi - lo
        ends = np.cumsum(counts)
        pos = np.repeat(lo - (ends - counts), counts) + np.arange(int(ends[-1]) if ends.size else 0)
        parts = np.split(self.values[pos], ends[:-1])
        out = np.empty(len(rows), dtype=object)
        for i, part in enumerate(parts):  # one step per instance, never per annotation
            out[i] = part
        return out


class Opened:
    """A store opened in this process: file, leaves, row selection and annotation index.

    Example:
        >>> Opened.__name__
        'Opened'
    """

    def __init__(self, spec: Spec, h5: tables.File | None = None, owned: bool = True,
                 node: Any = None):
        self.spec = spec
        self.owned = owned and h5 is None
        self.pid = os.getpid()
        self.h5 = None
        self.h5 = h5 if h5 is not None else open_file(spec.path, spec.chunk_cache)
        try:
            with hdf5_lock:
                self._setup(node)
        except BaseException:
            self.close()
            raise
        _LIVE.add(self)

    def _setup(self, node: Any) -> None:
        spec = self.spec
        target = node if node is not None else (list(spec.nodes) if spec.listed
                                                else spec.nodes[0])
        self.kind, self.leaves = resolve(self.h5, target)
        for leaf in self.leaves:
            if getattr(leaf, "maindim", 0) != 0 or not leaf.shape:
                raise ValueError(f"node {leaf._v_pathname!r} (shape {leaf.shape}) grows along axis "
                                 f"{getattr(leaf, 'maindim', 0)}; ladle reads samples along the "
                                 "first axis: store one sample per row")
        lengths = {leaf._v_pathname: int(leaf.nrows) for leaf in self.leaves}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"array nodes of one source need equal lengths, got {lengths}")
        self.nrows = next(iter(lengths.values()))
        self.rows: np.ndarray | None = None
        if spec.where is not None:
            if self.kind != "table":
                raise ValueError(f"where={spec.where!r} needs a table node; {spec.nodes[0]!r} "
                                 "holds arrays (select rows with order=Subset(ids) instead)")
            table = self.leaves[0]
            try:
                self.rows = table.get_where_list(spec.where, sort=True).astype(np.int64)
            except Exception as exc:  # PyTables raises SyntaxError, NameError, TypeError, ...
                raise ValueError(
                    f"where={spec.where!r} is not a valid PyTables query on {table._v_pathname} "
                    f"(columns: {list(table.colnames)}): {type(exc).__name__}: {exc}") from exc
            if self.rows.size == 0:
                raise ValueError(f"where={spec.where!r} selects none of the {self.nrows} rows of "
                                 f"{table._v_pathname}; nothing to read")
        self._decoders: dict[int, Any] = {}
        self.annotations: Annotations | None = None
        if spec.annotations is not None:
            annot = get_node(self.h5, spec.annotations)
            if not isinstance(annot, tables.Table):
                raise ValueError(f"annotations={spec.annotations!r} is a {type(annot).__name__}; "
                                 "it must be a table with a data_index column")
            self.annotations = Annotations(annot.read(), spec.annotation_fields, self.nrows,
                                           f"annotation table {spec.annotations!r}")

    def decoder(self, i: int) -> Any:
        """The direct chunk decoder of leaf ``i`` (None: read through HDF5)."""
        try:
            return self._decoders[i]
        except KeyError:
            pass
        from .hdf5_chunks import chunk_decoder

        with hdf5_lock:
            if i not in self._decoders:
                self._decoders[i] = (chunk_decoder(self.leaves[i], hdf5_lock)
                                     if self.spec.direct else None)
        return self._decoders[i]

    @property
    def isopen(self) -> bool:
        return bool(self.h5.isopen)

    def check_signature(self) -> None:
        """Refuse a file that changed since the source was created (its rows may have moved)."""
        now = signature(self.spec.path)
        if now != self.spec.signature:
            raise StoreError(f"{self.spec.path!r} changed since the source was created (size or "
                             "modification time differ); create the source again")

    def close(self) -> None:
        """Close the file if this process opened it (a handle the user gave is left open)."""
        h5 = getattr(self, "h5", None)
        if self.owned and h5 is not None and self.pid == os.getpid():
            with hdf5_lock:
                if h5.isopen:
                    h5.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # pragma: no cover - interpreter shutdown
            pass


def pooled(spec: Spec) -> Opened:
    """This process's shared open store for ``spec`` (opened on first use).

    Example:
        >>> pooled.__name__
        'pooled'
    """
    opened = _POOL.get(spec)
    if opened is None or not opened.isopen:
        opened = Opened(spec)
        opened.check_signature()
        _POOL[spec] = opened
    return opened


def open_spec(spec: Spec) -> Opened:
    """A fresh open store owned by the caller (closed by ``close()`` or garbage collection).

    Example:
        >>> open_spec.__name__
        'open_spec'
    """
    return Opened(spec)


@atexit.register
def _close_all() -> None:  # registered after PyTables' own hook, so it runs first: no warnings
    for opened in list(_LIVE):
        try:
            opened.close()
        except Exception:  # pragma: no cover - interpreter shutdown
            pass
