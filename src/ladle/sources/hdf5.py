"""HDF5Source: samples from an HDF5 store (PyTables tables and array nodes), the embedded default.

Reads PyTables tables (compound rows, one field per column; the ketos layout ``id``, ``data``,
``filename``, ``offset``, ``label``) and array nodes (Array/CArray/EArray; one field each; a group
of equal-length array nodes is one source). A PyTables query selects rows
(``where="label == 1"``); a separate annotation table is joined on ``data_index``, one-to-many, as a
ragged field.

Reads are chunk-aware: the requested rows are sorted, rows of one chunk are read in one call (HDF5
reads and decompresses whole chunks), and the requested order is restored; Blosc/Blosc2 chunks are
decoded directly (:mod:`ladle.sources.hdf5_chunks`), once per read. ``block_size`` is the chunk
length, so ``order="block"`` shuffles whole chunks. HDF5 is not thread-safe: every PyTables call
holds one process-wide lock, so reader threads are safe.

The file opens lazily in each process: a source pickles as (path, node, options), never as a
handle, so it works in forked or spawned workers and Dask tasks. ``close()``, ``with`` and garbage
collection close the files it opened.

Example:
    >>> import os, tempfile
    >>> import numpy as np
    >>> from ladle.store import write_store
    >>> from ladle.sources.hdf5 import HDF5Source
    >>> path = os.path.join(tempfile.mkdtemp(), "store.h5")
    >>> _ = write_store(path, {"data": np.arange(12.0).reshape(6, 2), "label": np.arange(6) % 2},
    ...                 progress=False)
    >>> with HDF5Source(path, where="label == 1") as src:
    ...     len(src), src.read(np.array([2, 0]))["data"].tolist()
    (3, [[10.0, 11.0], [2.0, 3.0]])
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, replace
from typing import Any, Mapping, Sequence

import numpy as np
import tables

from .._checks import as_index_array, check_int
from . import hdf5_open as _h
from .base import Field, Source, contiguous_runs
from .hdf5_open import MissingNodeError, StoreError

__all__ = ["HDF5Source", "MissingNodeError", "ReadStats", "StoreError"]

#: More runs than this in one read of an unfiltered table: read the rows as one point selection.
POINT_RUNS = 8


@dataclass
class ReadStats:
    """Storage reads a source made in this process: calls, and rows fetched (gap rows included).

    Example:
        >>> ReadStats().reads
        0
    """

    reads: int = 0
    rows: int = 0


def _decode(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray) and value.dtype.kind == "S":
        return [v.decode("utf-8", "replace") for v in value.tolist()]
    if isinstance(value, np.ndarray) and value.dtype.kind == "U":
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


class HDF5Source(Source):
    """Samples from a PyTables table or from array nodes of an HDF5 file.

    Args:
        path_or_table: the store's path, or an open PyTables node (a ``tables.Table``, an array
            node or a group of them), which is used as it is in this process and reopened by
            path elsewhere.
        node: the table, the array node, a group of array nodes, or a list of array-node paths
            (default ``"/data"``; leave None when passing a node).
        fields: the columns (or array nodes) to return; None for all.
        where: a PyTables query selecting the rows (tables only), e.g. ``"(label == 1) & (offset
            > 0.5)"``; the source's sample ``i`` is then the ``i``-th matching row (see
            :attr:`rows`).
        annotations: path of an annotation table with ``data_index`` (the data row) and annotation
            columns (``label``, ``start``, ``end``, ...), several rows per instance allowed.
        annotation_fields: the annotation columns to return; None for all but ``data_index``.
        annotations_field: name of the ragged field holding the annotations.
        max_gap: for reads through HDF5, join runs separated by at most this many unwanted rows;
            None: the rows wanted from one compressed (or checksummed) chunk are read in one call,
            and plain data joins gaps of up to 64 KiB.
        chunk_cache: HDF5 chunk-cache bytes; None: 0 when every node is chunked without filters
            (HDF5 then reads the wanted rows straight into ladle's buffer), else PyTables' default.
        direct_chunks: decode Blosc/Blosc2-compressed chunks with python-blosc2 straight from
            their raw bytes (two to three times faster than PyTables' own path for tables);
            False always reads through HDF5.

    The annotations field is an object array with one entry per sample: a NumPy structured array
    of that instance's annotations (dtype: the annotation columns), of length 0 for an instance
    without any, e.g. ``batch["annotations"][0]["label"]``.

    Example:
        >>> import tempfile, os
        >>> from ladle.store import write_store
        >>> path = os.path.join(tempfile.mkdtemp(), "s.h5")
        >>> _ = write_store(path, {"x": np.zeros((4, 3), np.float32)}, layout="arrays",
        ...                 progress=False)
        >>> src = HDF5Source(path)
        >>> src.fields["x"], src.read(np.array([3, 1]))["x"].shape
        (Field(dtype=dtype('float32'), shape=(3,)), (2, 3))
        >>> src.close()
    """

    def __init__(self, path_or_table: str | os.PathLike | tables.Node, node: Any = None,
                 fields: Sequence[str] | str | None = None, where: str | None = None,
                 annotations: str | None = None, annotation_fields: Sequence[str] | None = None,
                 annotations_field: str = "annotations", max_gap: int | None = None,
                 chunk_cache: int | None = None, direct_chunks: bool = True):
        given = None
        if isinstance(path_or_table, tables.Node):
            if node is not None:
                raise ValueError(f"node={node!r} was given with an open node "
                                 f"{path_or_table._v_pathname!r}; give one or the other")
            given = path_or_table
            h5 = given._v_file
            if not h5.isopen:
                raise ValueError(f"the node {given._v_pathname!r} belongs to a closed file")
            if h5.mode != "r":
                h5.flush()  # other processes reopen the file by path: let them see the same rows
            path, nodes, listed = h5.filename, (given._v_pathname,), False
        elif isinstance(path_or_table, (str, os.PathLike)):
            path = os.fspath(path_or_table)
            node = "/data" if node is None else node
            listed = not isinstance(node, str)
            nodes = (node,) if not listed else tuple(node)
            if not all(isinstance(p, str) for p in nodes):
                raise TypeError(f"node={node!r} must be a path such as '/data' or a list of paths")
        else:
            raise TypeError(f"path_or_table={path_or_table!r} must be a file path or an open "
                            "PyTables node (tables.Table, an array node or a group)")
        if where is not None and not isinstance(where, str):
            raise TypeError(f"where={where!r} must be a PyTables query string such as 'label == 1'")
        if isinstance(fields, str):
            fields = (fields,)
        self.max_gap = None if max_gap is None else check_int("max_gap", max_gap, 0)
        if chunk_cache is not None:
            chunk_cache = check_int("chunk_cache", chunk_cache, 0)
        self.annotations_field = str(annotations_field)
        path = os.path.abspath(path)
        spec = _h.Spec(path, nodes, None if fields is None else tuple(fields), where, annotations,
                       None if annotation_fields is None else tuple(annotation_fields),
                       chunk_cache, _h.signature(path) if os.path.exists(path) else (0, 0),
                       listed, bool(direct_chunks))
        if given is not None:
            opened = _h.Opened(spec, h5=given._v_file, node=given)
        else:
            opened = _h.open_spec(spec)
        if chunk_cache is None:
            auto = self._auto_cache(opened.leaves)
            spec = replace(spec, chunk_cache=auto)
            if auto is not None and given is None:
                opened.close()
                opened = _h.open_spec(spec)
            opened.spec = spec
        self._spec = spec
        self._state: _h.Opened | None = opened
        self._own = given is None
        self._pid: int | None = os.getpid()
        self._scratch = threading.local()
        self.stats = ReadStats()
        try:
            self._describe(opened)
        except BaseException:
            if self._own:
                opened.close()
            raise

    # ------------------------------------------------------------------ description
    @staticmethod
    def _auto_cache(leaves: tuple) -> int | None:
        chunked = all(getattr(leaf, "chunkshape", None) for leaf in leaves)
        return 0 if chunked and not any(_h.has_filters(leaf) for leaf in leaves) else None

    def _describe(self, st: _h.Opened) -> None:
        spec = self._spec
        self.kind = st.kind
        if st.kind == "table":
            table = st.leaves[0]
            available = {n: Field(table.dtype.fields[n][0].base, table.dtype.fields[n][0].shape)
                         for n in table.dtype.names}
            leaf_of = {n: 0 for n in available}
        else:
            available, leaf_of = {}, {}
            for i, leaf in enumerate(st.leaves):
                name = leaf._v_name
                if name in available:
                    raise ValueError(f"two array nodes are named {name!r}; fields need unique "
                                     "names")
                available[name] = Field(np.dtype(leaf.atom.dtype.base),
                                        tuple(int(s) for s in leaf.shape[1:]))
                leaf_of[name] = i
        chosen = list(available) if spec.fields is None else list(spec.fields)
        missing = [f for f in chosen if f not in available]
        if missing:
            raise ValueError(f"fields {missing} are not in {spec.nodes[0]!r}; fields there: "
                             f"{list(available)}")
        if not chosen:
            raise ValueError("fields=[] selects nothing; give at least one field, or None for all")
        self._fields = {n: available[n] for n in chosen}
        self._leaf_of = {n: leaf_of[n] for n in chosen}
        if st.annotations is not None:
            if self.annotations_field in self._fields:
                raise ValueError(f"annotations_field={self.annotations_field!r} is also a data "
                                 "field; choose another name")
            self._fields[self.annotations_field] = Field(np.dtype(object), ())
        self._n = int(st.nrows if st.rows is None else st.rows.size)
        used = sorted(set(self._leaf_of.values()))
        self._used = used
        self._gaps = {}
        chunk_rows = []
        for i in used:
            leaf = st.leaves[i]
            row_bytes = int(leaf.rowsize) if st.kind == "table" else int(
                leaf.atom.dtype.itemsize * int(np.prod(leaf.shape[1:], dtype=np.int64)))
            self._gaps[i] = _h.max_gap_for(leaf, row_bytes, self.max_gap)
            if getattr(leaf, "chunkshape", None):
                chunk_rows.append(int(leaf.chunkshape[0]))
        self.block_size = min(chunk_rows) if chunk_rows else None

    # ------------------------------------------------------------------ protocol
    def __len__(self) -> int:
        return self._n

    @property
    def fields(self) -> Mapping[str, Field]:
        return self._fields

    @property
    def path(self) -> str:
        """Absolute path of the store."""
        return self._spec.path

    @property
    def node(self) -> str | tuple[str, ...]:
        """The node read (a path, or the array-node paths given as a list)."""
        return self._spec.nodes if self._spec.listed else self._spec.nodes[0]

    @property
    def where(self) -> str | None:
        """The row query, if any."""
        return self._spec.where

    @property
    def rows(self) -> np.ndarray:
        """Row ids in the node of the source's samples (``arange(len)`` without ``where``).

        Example:
            >>> HDF5Source.rows.__doc__.split()[0]
            'Row'
        """
        st = self._opened()
        return np.arange(self._n, dtype=np.int64) if st.rows is None else st.rows.copy()

    @property
    def attrs(self) -> dict[str, Any]:
        """The node's attributes (byte strings decoded), e.g. ``attrs["class_names"]``."""
        st = self._opened()
        with _h.hdf5_lock:
            spec = self._spec
            owner = st.leaves[0]._v_parent if spec.listed else st.h5.get_node(spec.nodes[0])
            return {k: _decode(owner._v_attrs[k]) for k in owner._v_attrs._f_list("user")}

    def read(self, indices: np.ndarray) -> dict[str, Any]:
        """Read the samples at ``indices`` (any order, repeats allowed), in that order.

        Example:
            >>> HDF5Source.read.__doc__.split()[0]
            'Read'
        """
        idx = as_index_array("indices", indices, self._n)
        st = self._opened()
        rows = idx if st.rows is None else st.rows[idx]
        if not st.isopen:
            raise StoreError(f"the file of {self.node!r} was closed by its owner; pass a path "
                             "instead of an open node to let ladle manage the file")
        out = self._read_rows(st, rows)
        if st.annotations is not None:
            out[self.annotations_field] = st.annotations.lookup(rows)
        return out

    # ------------------------------------------------------------------ reading
    def _read_rows(self, st: _h.Opened, rows: np.ndarray) -> dict[str, np.ndarray]:
        n = rows.size
        if n == 0:
            return {k: np.empty((0,) + f.shape, f.dtype) for k, f in self._fields.items()
                    if k in self._leaf_of}
        out: dict[str, np.ndarray] = {}
        via_hdf5 = []
        for i in self._used:
            decoder = st.decoder(i)
            if decoder is None:
                via_hdf5.append(i)
            else:  # compressed chunks: decoded one by one, rows copied straight to their places
                out.update(self._read_decoded(st, i, decoder, rows))
        if via_hdf5:
            out.update(self._read_hdf5(st, via_hdf5, rows))
        return {name: out[name] for name in self._leaf_of}

    def _read_decoded(self, st: _h.Opened, i: int, decoder: Any,
                      rows: np.ndarray) -> dict[str, np.ndarray]:
        names = [name for name, j in self._leaf_of.items() if j == i]
        outputs = [(np.empty((rows.size,) + self._fields[name].shape, self._fields[name].dtype),
                    name if st.kind == "table" else None) for name in names]
        try:
            chunks = decoder.gather(rows, outputs, _h.hdf5_lock)
        except (tables.HDF5ExtError, RuntimeError, ValueError) as exc:
            first = int(rows.min())
            raise StoreError(
                f"reading rows {first}..{int(rows.max())} of {st.leaves[i]._v_pathname} in "
                f"{st.spec.path!r} failed: the file is truncated or corrupt "
                f"({_h._first_line(exc)})") from exc
        with _h.hdf5_lock:
            self.stats.reads += chunks
            self.stats.rows += chunks * decoder.chunk_rows
        return {name: arr for name, (arr, _) in zip(names, outputs)}

    def _read_hdf5(self, st: _h.Opened, used: list[int], rows: np.ndarray) -> dict[str, np.ndarray]:
        n = rows.size
        inverse = None
        if n == 1 or (np.all(rows[1:] > rows[:-1])):
            uniq = rows  # already sorted and unique: the block is the result
        else:
            uniq, inverse = np.unique(rows, return_inverse=True)
            inverse = inverse.reshape(-1)
        blocks: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}
        takes: dict[int, np.ndarray | None] = {}
        for i in used:
            leaf, gap = st.leaves[i], self._gaps[i]
            starts, stops = contiguous_runs(uniq, gap)
            if (starts.size > POINT_RUNS and st.kind == "table" and not _h.has_filters(leaf)
                    and hasattr(leaf, "_read_elements")):
                # scattered plain rows: one HDF5 point selection costs less than a call per run
                # (filtered chunks are read one run per chunk instead, so each is decoded once)
                blocks[i] = (self._read_points(st, i, uniq), inverse)
                continue
            total = int((stops - starts).sum())
            # the block is the answer only for arrays read in order without gaps; otherwise it is
            # a reused scratch buffer (no page faults per batch) that the answer is gathered from
            fresh = st.kind == "arrays" and inverse is None and total == n
            block = self._read_runs(st, i, starts, stops, total, fresh)
            if gap not in takes:
                takes[gap] = self._positions(uniq, inverse, starts, stops, total)
            blocks[i] = (block, takes[gap])
        out = {}
        for name, i in self._leaf_of.items():
            if i not in blocks:
                continue
            block, take = blocks[i]
            if st.kind == "table":
                col = block[name]
                out[name] = col.copy() if take is None else col[take]
            else:
                out[name] = block if take is None else block[take]
        return out

    def _buffer(self, st: _h.Opened, i: int, rows: int, fresh: bool) -> np.ndarray:
        """An array for ``rows`` rows of leaf ``i``: new, or this thread's reused scratch."""
        leaf = st.leaves[i]
        dtype = leaf.dtype if st.kind == "table" else leaf.atom.dtype
        shape = () if st.kind == "table" else tuple(int(s) for s in leaf.shape[1:])
        if fresh:
            return np.empty((rows,) + shape, dtype)
        bufs = getattr(self._scratch, "bufs", None)
        if bufs is None:
            bufs = self._scratch.bufs = {}
        buf = bufs.get(i)
        if buf is None or len(buf) < rows or buf.dtype != dtype or buf.shape[1:] != shape:
            buf = bufs[i] = np.empty((rows,) + shape, dtype)
        return buf[:rows]

    @staticmethod
    def _positions(uniq: np.ndarray, inverse: np.ndarray | None, starts: np.ndarray,
                   stops: np.ndarray, total: int) -> np.ndarray | None:
        """Where each requested row lies in the block of concatenated runs (None: in place)."""
        if total == uniq.size:
            return inverse
        run_of = np.searchsorted(starts, uniq, side="right") - 1
        run_offset = np.concatenate(([0], np.cumsum(stops - starts)[:-1]))
        where = run_offset[run_of] + (uniq - starts[run_of])
        return where if inverse is None else where[inverse]

    def _read_points(self, st: _h.Opened, i: int, rows: np.ndarray) -> np.ndarray:
        table = st.leaves[i]
        block = self._buffer(st, i, rows.size, fresh=False)
        with _h.hdf5_lock:
            try:
                table._read_elements(np.ascontiguousarray(rows, dtype=np.int64), block)
            except tables.HDF5ExtError as exc:
                raise StoreError(
                    f"reading {rows.size} rows (first {int(rows[0])}) of {table._v_pathname} in "
                    f"{st.spec.path!r} failed: the file is truncated or corrupt "
                    f"({_h._first_line(exc)})") from exc
            self.stats.reads += 1
            self.stats.rows += rows.size
        return block

    def _read_runs(self, st: _h.Opened, i: int, starts: np.ndarray, stops: np.ndarray,
                   total: int, fresh: bool) -> np.ndarray:
        leaf = st.leaves[i]
        block = self._buffer(st, i, total, fresh)
        a, b = int(starts[0]), int(stops[-1])
        try:
            with _h.hdf5_lock:
                pos = 0
                for a, b in zip(starts.tolist(), stops.tolist()):
                    leaf.read(a, b, out=block[pos:pos + b - a])
                    pos += b - a
            reads = len(starts)
        except tables.HDF5ExtError as exc:
            raise StoreError(
                f"reading rows {a}..{b - 1} of {leaf._v_pathname} in {st.spec.path!r} failed: "
                f"the file is truncated or corrupt ({_h._first_line(exc)})") from exc
        with _h.hdf5_lock:
            self.stats.reads += reads
            self.stats.rows += total
        return block

    # ------------------------------------------------------------------ processes and files
    def _opened(self) -> _h.Opened:
        st = self._state
        pid = os.getpid()
        if st is not None and st.pid == pid and st.isopen:
            return st
        with _h.hdf5_lock:  # one thread opens, the others wait and share
            st = self._state
            if st is not None and st.pid == pid and st.isopen:
                return st
            return self._reopen(pid)

    def _reopen(self, pid: int) -> _h.Opened:
        if self._pid == pid:  # the creating process: closed by close() (or by the user): reopen
            st = _h.open_spec(self._spec)
            st.check_signature()
            self._own = True
        else:  # a forked or unpickled copy: this process's shared handle
            st = _h.pooled(self._spec)
            self._own = False
        self._state = st
        return st

    def close(self) -> None:
        """Close the file this source opened (reopened lazily on the next read).

        Example:
            >>> HDF5Source.close.__doc__.split()[0]
            'Close'
        """
        st, self._state = self._state, None
        if st is not None and self._own:
            st.close()

    def __del__(self) -> None:
        try:
            if getattr(self, "_own", False) and self._state is not None:
                self._state.close()
        except Exception:  # pragma: no cover - interpreter shutdown
            pass

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_state"] = None
        state["_own"] = False
        state["_pid"] = None
        del state["_scratch"]
        state["stats"] = ReadStats()
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._scratch = threading.local()

    def __repr__(self) -> str:
        where = "" if self.where is None else f", where={self.where!r}"
        fields = ", ".join(f"{k}: {f.dtype}{list(f.shape)}" for k, f in self._fields.items())
        return (f"HDF5Source({self.path!r}, node={self.node!r}{where}, len={self._n}, "
                f"{{{fields}}})")
