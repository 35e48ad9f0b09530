"""Write HDF5 stores: arrays, a dict of arrays, or a stream of samples, chunked for batch reads.

A store is a PyTables file: by default one table (``layout="table"``, the ketos layout: an ``id``
column equal to the row number, then one column per field) or one extendable array node per field
under a group (``layout="arrays"``). Chunks hold about 1 MiB of rows (``chunk_rows``); compression
is blosc2/lz4 by default (``"zlib"``, ``"none"`` or any PyTables complib). An annotation table
(``data_index`` plus columns, several rows per instance) and node attributes (e.g. class names) go
alongside. The output reads with plain PyTables and h5py (blosc-compressed nodes need
``import hdf5plugin`` first in h5py).

A stream of samples is written in constant memory: samples are buffered one chunk at a time.

Example:
    >>> import os, tempfile
    >>> import numpy as np, tables
    >>> from ladle.store import write_store
    >>> path = os.path.join(tempfile.mkdtemp(), "digits.h5")
    >>> write_store(path, {"data": np.zeros((5, 8, 8), np.float32), "label": np.arange(5)},
    ...             attrs={"class_names": ["a", "b", "c", "d", "e"]}, progress=False)
    5
    >>> with tables.open_file(path) as f:
    ...     f.root.data.col("id").tolist(), f.root.data.coldtypes["data"].shape
    ([0, 1, 2, 3, 4], (8, 8))
"""

from __future__ import annotations

import os
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import tables

from ._checks import check_choice, check_int
from .sources.hdf5_write import attr_value, cast, default_chunk_rows, encode_strings, filters_for

__all__ = ["StoreWriter", "default_chunk_rows", "filters_for", "write_store"]

MIN_STRING_SIZE = 128
WIDE_ROW = 256  # table rows wider than this are compressed without the byte shuffle


class StoreWriter:
    """Append rows to a table or to array nodes, creating them from the first rows written.

    Args:
        path: the HDF5 file.
        node: the table path, or the group holding one array node per field (``layout="arrays"``).
        layout: ``"table"`` (ketos layout, with an ``id`` column) or ``"arrays"``.
        mode: ``"w"`` creates the file (replacing it); ``"a"`` adds to it, appending to ``node`` if
            it exists (its fields must match).
        chunk_rows: rows per chunk; None for about 1 MiB per chunk.
        compression: ``"blosc2:lz4"``, ``"zlib"``, ``"none"`` or any PyTables complib.
        complevel: compression level (1-9).
        fletcher32: store checksums, so that corrupt chunks are detected on read.
        expected_rows: the expected total, for HDF5's index sizing and the default chunk.
        string_size: bytes per string column for streamed samples (default: the longest string of
            the first chunk, at least 128).
        annotations_node: path of the annotation table (default ``node + "_annot"``).

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "s.h5")
        >>> with StoreWriter(path, compression="none") as w:
        ...     for i in range(3):
        ...         w.append_sample({"x": np.full(2, i, np.float32), "label": i})
        >>> w.rows
        3
    """

    def __init__(self, path: str | os.PathLike, node: str = "/data", *, layout: str = "table",
                 mode: str = "w", chunk_rows: int | None = None,
                 compression: str | None = "blosc2:lz4", complevel: int | None = None,
                 fletcher32: bool = False, expected_rows: int | None = None,
                 string_size: int | None = None, annotations_node: str | None = None):
        self.path = os.fspath(path)
        if not isinstance(node, str) or not node.startswith("/") or node == "/":
            raise ValueError(f"node={node!r} must be an absolute node path below the root, "
                             "such as '/data' or '/train/data'")
        self.node = node.rstrip("/")
        self.layout = check_choice("layout", layout, ("table", "arrays"))
        check_choice("mode", mode, ("w", "a"))
        self.chunk_rows = None if chunk_rows is None else check_int("chunk_rows", chunk_rows, 1)
        self.filters = filters_for(compression, complevel, fletcher32)
        self.expected_rows = (None if expected_rows is None
                              else check_int("expected_rows", expected_rows, 0))
        self.string_size = None if string_size is None else check_int("string_size", string_size, 1)
        self.annotations_node = annotations_node or self.node + "_annot"
        parent = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(parent):
            raise FileNotFoundError(f"the folder {parent!r} of the store does not exist; create it")
        self._h5 = tables.open_file(self.path, mode)
        self._schema: dict[str, tuple[np.dtype, tuple[int, ...]]] | None = None
        self._auto_id = False
        self._target: Any = None
        self._annot: tables.Table | None = None
        self._buffer: list[dict[str, np.ndarray]] = []
        self._buffer_rows = 0
        self._written = 0
        if mode == "a":
            self._attach()

    @property
    def rows(self) -> int:
        """Rows in the node, samples still buffered included."""
        return self._written + self._buffer_rows

    # ------------------------------------------------------------------ schema
    def _attach(self) -> None:
        if self.node not in self._h5:
            return
        target = self._h5.get_node(self.node)
        if isinstance(target, tables.Table):
            if self.layout != "table":
                raise ValueError(f"{self.node!r} is a table; append with layout='table'")
            schema = {n: (target.dtype.fields[n][0].base, target.dtype.fields[n][0].shape)
                      for n in target.dtype.names}
            self._written = int(target.nrows)
            self.chunk_rows = int(target.chunkshape[0])
        elif isinstance(target, tables.Group) and self.layout == "arrays":
            arrays = {k: v for k, v in target._v_leaves.items() if isinstance(v, tables.EArray)}
            if not arrays or len(arrays) != len(target._v_leaves):
                raise ValueError(f"{self.node!r} is a group that is not an arrays store (EArrays "
                                 f"only): {sorted(target._v_leaves)}")
            schema = {k: (v.atom.dtype.base, tuple(v.shape[1:])) for k, v in sorted(arrays.items())}
            rows = {int(v.nrows) for v in arrays.values()}
            if len(rows) != 1:
                raise ValueError(f"the arrays of {self.node!r} have different lengths {rows}")
            self._written = rows.pop()
            self.chunk_rows = int(next(iter(arrays.values())).chunkshape[0])
        else:
            raise ValueError(f"{self.node!r} is a {type(target).__name__}; cannot append with "
                             f"layout={self.layout!r}")
        self._target = target
        self._schema = schema
        self._auto_id = "id" in schema and self.layout == "table"
        if self.annotations_node in self._h5:
            self._annot = self._h5.get_node(self.annotations_node)

    def _infer(self, columns: Mapping[str, np.ndarray], streamed: bool) -> None:
        schema = {}
        for name, arr in columns.items():
            dtype = arr.dtype
            if dtype.kind == "S":
                width = max(dtype.itemsize, 1)
                if streamed:
                    width = max(width, MIN_STRING_SIZE)
                if self.string_size is not None:
                    width = max(self.string_size, dtype.itemsize)
                dtype = np.dtype(f"S{width}")
            schema[name] = (dtype, tuple(arr.shape[1:]))
        if self.layout == "table" and "id" not in schema:
            schema = {"id": (np.dtype("uint32"), ()), **schema}
            self._auto_id = True
        self._schema = schema

    def _create(self, n_hint: int) -> None:
        assert self._schema is not None
        row_bytes = sum(d.itemsize * int(np.prod(s, dtype=np.int64))
                        for d, s in self._schema.values())
        expected = self.expected_rows or max(n_hint, 1)
        if self.chunk_rows is None:
            self.chunk_rows = default_chunk_rows(row_bytes, expected)
        where, name = self.node.rsplit("/", 1)
        where = where or "/"
        if self.layout == "table":
            dtype = np.dtype([(n, d, s) for n, (d, s) in self._schema.items()])
            filters = self.filters
            if filters.shuffle and dtype.itemsize > WIDE_ROW:
                # shuffle works on whole rows here: wide rows gain nothing and decode slower
                filters = tables.Filters(filters.complevel, filters.complib, shuffle=False,
                                         fletcher32=filters.fletcher32)
            self._target = self._h5.create_table(where, name, description=dtype,
                                                 filters=filters, expectedrows=expected,
                                                 chunkshape=(self.chunk_rows,), createparents=True)
        else:
            group = self._h5.create_group(where, name, createparents=True)
            for field, (d, s) in self._schema.items():
                self._h5.create_earray(group, field, atom=tables.Atom.from_dtype(d), shape=(0,) + s,
                                       filters=self.filters, expectedrows=expected,
                                       chunkshape=(self.chunk_rows,) + s)
            self._target = group

    def _prepare(self, columns: Mapping[str, Any], streamed: bool,
                 single: bool) -> dict[str, np.ndarray]:
        """Validate and convert one batch of columns (rows along axis 0) without writing."""
        if not isinstance(columns, Mapping):
            raise TypeError(f"a sample must be a dict of field -> value, got "
                            f"{type(columns).__name__}")
        arrays = {}
        for name, value in columns.items():
            arr = np.asarray(value)
            arrays[str(name)] = encode_strings(str(name), arr[None] if single else arr)
        if not arrays:
            raise ValueError("a sample with no fields: give at least one field")
        if self._schema is None:
            self._infer(arrays, streamed)
        schema = self._schema
        given = set(arrays)
        expected = set(schema) - ({"id"} if self._auto_id else set())
        if given != expected and not (self._auto_id and given == set(schema)):
            missing, extra = sorted(expected - given), sorted(given - set(schema))
            raise ValueError(f"fields differ from the store's: missing {missing}, unexpected "
                             f"{extra} (store fields: {sorted(expected)})")
        lengths = {k: len(v) if v.ndim else -1 for k, v in arrays.items()}
        if len(set(lengths.values())) != 1 or -1 in lengths.values():
            raise ValueError(f"columns need one entry per row and equal lengths, got {lengths}")
        out = {}
        for name, arr in arrays.items():
            dtype, shape = schema[name]
            if tuple(arr.shape[1:]) != shape:
                what = "shape" if single else "row shape"
                raise ValueError(f"field {name!r} has {what} {tuple(arr.shape[1:])}, but the "
                                 f"store's is {shape}; every row of a field needs the same shape")
            out[name] = cast(name, arr, dtype)
        return out

    # ------------------------------------------------------------------ writing
    def append(self, columns: Mapping[str, Any]) -> int:
        """Append rows given as columns (field -> array, rows along axis 0); returns rows appended.

        Example:
            >>> import os, tempfile
            >>> w = StoreWriter(os.path.join(tempfile.mkdtemp(), "s.h5"), layout="arrays")
            >>> w.append({"x": np.zeros((4, 2))}), w.append({"x": np.ones((2, 2))}), w.rows
            (4, 2, 6)
            >>> w.close()
        """
        self._flush_samples()
        prepared = self._prepare(columns, streamed=False, single=False)
        return self._write(prepared)

    def append_sample(self, sample: Mapping[str, Any]) -> None:
        """Add one sample (field -> value); checked now, written with its chunk.

        A sample that does not fit (missing field, other shape, value out of the column's range)
        raises here and nothing of it is written, so callers may skip it and go on.
        """
        prepared = self._prepare(sample, streamed=True, single=True)
        self._buffer.append(prepared)
        self._buffer_rows += 1
        if self._target is None and self.chunk_rows is None:
            row_bytes = sum(v.nbytes for v in prepared.values())
            self.chunk_rows = default_chunk_rows(row_bytes, self.expected_rows)
        if self._buffer_rows >= (self.chunk_rows or 1):
            self._flush_samples()

    def _flush_samples(self) -> None:
        if not self._buffer:
            return
        columns = {k: np.concatenate([s[k] for s in self._buffer]) for k in self._buffer[0]}
        self._buffer, self._buffer_rows = [], 0
        self._write(columns)

    def _write(self, columns: dict[str, np.ndarray]) -> int:
        n = len(next(iter(columns.values())))
        if self._target is None:
            self._create(n)
        if n == 0:
            return 0
        if self.layout == "table":
            rec = np.empty(n, dtype=self._target.dtype)
            for name, arr in columns.items():
                rec[name] = arr
            if self._auto_id and "id" not in columns:
                rec["id"] = np.arange(self._written, self._written + n)
            self._target.append(rec)
        else:
            for name, arr in columns.items():
                self._target._v_children[name].append(arr)
        self._written += n
        return n

    def append_annotations(self, columns: Mapping[str, Any]) -> int:
        """Append annotation rows: ``data_index`` (the data row) plus annotation columns.

        Example:
            >>> import os, tempfile
            >>> w = StoreWriter(os.path.join(tempfile.mkdtemp(), "s.h5"))
            >>> w.append({"data": np.zeros((2, 3))})
            2
            >>> w.append_annotations({"data_index": [0, 0, 1], "label": [1, 2, 1]})
            3
            >>> w.close()
        """
        if hasattr(columns, "to_dict") and hasattr(columns, "columns"):  # a pandas DataFrame
            columns = {str(c): columns[c].to_numpy() for c in columns.columns}
        elif isinstance(columns, np.ndarray) and columns.dtype.names:
            columns = {n: columns[n] for n in columns.dtype.names}
        if not isinstance(columns, Mapping) or "data_index" not in columns:
            raise ValueError("annotations need a data_index column (the data row of each "
                             "annotation) plus annotation columns, e.g. {'data_index': [...], "
                             "'label': [...]}")
        self._flush_samples()
        arrays = {str(k): encode_strings(str(k), np.asarray(v)) for k, v in columns.items()}
        n = len(arrays["data_index"])
        di = arrays["data_index"]
        if not np.issubdtype(di.dtype, np.integer) and n:
            raise TypeError(f"data_index must be integers, got dtype {di.dtype}")
        if n and (di.min() < 0 or di.max() >= self.rows):
            bad = int(di.min()) if di.min() < 0 else int(di.max())
            raise ValueError(f"data_index={bad} is outside the {self.rows} data rows written so "
                             "far; write the data rows first, then their annotations")
        if self._annot is None:
            dtype = np.dtype([(k, v.dtype, v.shape[1:]) for k, v in arrays.items()])
            where, name = self.annotations_node.rsplit("/", 1)
            self._annot = self._h5.create_table(where or "/", name, description=dtype,
                                                filters=self.filters, createparents=True)
        rec = np.empty(n, dtype=self._annot.dtype)
        missing = set(rec.dtype.names) - set(arrays)
        if missing or set(arrays) - set(rec.dtype.names):
            raise ValueError(f"annotation columns {sorted(arrays)} differ from the table's "
                             f"{list(rec.dtype.names)}")
        for k, v in arrays.items():
            rec[k] = cast(k, v, rec.dtype.fields[k][0].base)
        self._annot.append(rec)
        return n

    def set_attrs(self, **attrs: Any) -> None:
        """Store attributes on the data node (e.g. ``class_names=[...]``); written now.

        Example:
            >>> StoreWriter.set_attrs.__doc__.split()[0]
            'Store'
        """
        if self._target is None:
            raise ValueError("write rows before attributes: the node is created by the first rows")
        for key, value in attrs.items():
            self._target._v_attrs[key] = attr_value(key, value)

    def flush(self) -> None:
        """Write buffered samples and flush the file."""
        self._flush_samples()
        self._h5.flush()

    def close(self) -> None:
        """Write buffered samples and close the file."""
        if self._h5.isopen:
            try:
                self._flush_samples()
            finally:
                self._h5.close()

    def __enter__(self) -> "StoreWriter":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        h5 = getattr(self, "_h5", None)
        if h5 is not None and h5.isopen:
            h5.close()


def _as_columns(data: Any, names: Sequence[str] | None) -> Mapping[str, Any] | None:
    """Columns for arrays, a dict, a structured array or a DataFrame; None for a sample stream."""
    if isinstance(data, np.ndarray):
        if data.dtype.names:
            return {n: data[n] for n in data.dtype.names}
        return {(names or ["data"])[0]: data}
    if isinstance(data, Mapping):
        return data
    if hasattr(data, "columns") and hasattr(data, "to_numpy"):  # pandas DataFrame
        return {str(c): data[c].to_numpy() for c in data.columns}
    return None


def write_store(path: str | os.PathLike, data: Any, node: str = "/data", *,
                annotations: Any = None, attrs: Mapping[str, Any] | None = None,
                names: Sequence[str] | None = None, progress: bool = True,
                batch_rows: int | None = None, **options: Any) -> int:
    """Write ``data`` to an HDF5 store; returns the rows written.

    Args:
        path: the HDF5 file.
        data: an array (one field, ``"data"``), a dict of arrays, a structured array, a pandas
            DataFrame, or an iterable of samples (dicts of field -> value, or tuples named by
            ``names``), streamed in constant memory.
        node: the table (or group, for ``layout="arrays"``).
        annotations: annotation rows (a dict of columns with ``data_index``, a structured array or
            a DataFrame), written to ``node + "_annot"``.
        attrs: attributes of the data node, e.g. ``{"class_names": [...]}``.
        names: field names for tuple samples (e.g. ``("data", "label")``).
        progress: show a tqdm progress bar.
        batch_rows: rows per write for in-memory data (default: the chunk length).
        **options: :class:`StoreWriter` options (``layout``, ``mode``, ``chunk_rows``,
            ``compression``, ``complevel``, ``fletcher32``, ``string_size``...).

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "s.h5")
        >>> write_store(path, ((np.zeros(3), i % 2) for i in range(10)), names=("data", "label"),
        ...             progress=False)
        10
    """
    from tqdm.auto import tqdm

    columns = _as_columns(data, names)
    if columns is not None:
        columns = {k: v if hasattr(v, "__len__") and hasattr(v, "dtype") else np.asarray(v)
                   for k, v in columns.items()}  # arrays, memmaps, h5py datasets: kept as they are
        lengths = {k: len(v) if np.ndim(v) else -1 for k, v in columns.items()}
        if len(set(lengths.values())) > 1 or -1 in lengths.values():
            raise ValueError(f"columns need one entry per row and equal lengths, got {lengths}")
        total = next(iter(lengths.values()), 0)
        options.setdefault("expected_rows", total)
    elif isinstance(data, (str, bytes)) or not hasattr(data, "__iter__"):
        raise TypeError(f"data={type(data).__name__} must be an array, a dict of arrays, a "
                        "structured array, a DataFrame or an iterable of samples")
    else:
        total = len(data) if hasattr(data, "__len__") else None
    fresh = options.get("mode", "w") == "w"
    try:
        with StoreWriter(path, node, **options) as writer, tqdm(
                total=total, unit="rows", desc=f"writing {os.path.basename(os.fspath(path))}",
                disable=not progress, leave=False) as bar:
            if columns is not None:
                written = _write_columns(writer, columns, total, batch_rows, bar)
            else:
                written = _write_samples(writer, data, names, bar)
            writer.flush()
            if annotations is not None:
                writer.append_annotations(annotations)
            if attrs:
                writer.set_attrs(**attrs)
    except BaseException:
        if fresh and os.path.exists(path):
            os.remove(path)  # a store this call created is not left half-written
        raise
    return written


def _write_columns(writer: StoreWriter, columns: Mapping[str, Any], total: int,
                   batch_rows: int | None, bar: Any) -> int:
    if total == 0:
        return writer.append({k: np.asarray(v) for k, v in columns.items()})
    if writer._schema is None:
        # dtypes and shapes from the first row; string widths from the whole column
        first = {k: np.asarray(v[:1]) for k, v in columns.items()}
        writer._infer({k: encode_strings(k, np.asarray(columns[k]) if a.dtype.kind in "USO"
                                          else a) for k, a in first.items()}, streamed=False)
    step = batch_rows or writer.chunk_rows or default_chunk_rows(
        sum(np.asarray(v[:1]).nbytes for v in columns.values()) or 1, total)
    written = 0
    for start in range(0, total, step):  # slices: memmaps and h5py datasets stream too
        written += writer.append({k: v[start:start + step] for k, v in columns.items()})
        bar.update(min(step, total - start))
    return written


def _write_samples(writer: StoreWriter, data: Iterable, names: Sequence[str] | None,
                   bar: Any) -> int:
    written = 0
    for i, sample in enumerate(data):
        if isinstance(sample, tuple):
            if names is None or len(names) != len(sample):
                raise ValueError(f"sample {i} is a tuple of {len(sample)}; pass names= with one "
                                 "field name per item, or yield dicts")
            sample = dict(zip(names, sample))
        try:
            writer.append_sample(sample)
        except (ValueError, TypeError) as exc:
            raise type(exc)(f"sample {i}: {exc}") from exc
        written += 1
        bar.update(1)
    if written == 0:
        raise ValueError("data is an empty iterable: there are no samples to write")
    return written
