"""ketos' ``BatchGenerator`` on ladle's core (re-exported by :mod:`.data_feeding`).

Reading goes through a core source (:class:`~ladle.sources.hdf5.HDF5Source` over the open table,
or :class:`~ladle.ArraySource` over ``x`` and ``y``); batching through a core
:class:`~ladle.Loader` with ``last_batch="merge"`` and ``n_extend``. The layer supplies only the
index order, drawn from the global ``np.random`` exactly when ketos draws it: one
``np.random.shuffle`` of a copy of the ids at construction (with ``shuffle=True``) and one per
refresh, right after an epoch's last batch is taken.

Example:
    >>> import numpy as np
    >>> gen = BatchGenerator(batch_size=3, x=np.arange(11.0), y=np.arange(11) % 2,
    ...                      return_batch_ids=True)
    >>> [next(gen)[0] for _ in range(gen.n_batches)]
    [[0, 1, 2], [3, 4, 5], [6, 7, 8, 9, 10]]
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import tables

from ..._checks import as_index_array, check_int
from ...loader import Loader
from ...sampling import Order
from ...sources.array import ArraySource
from ...sources.hdf5 import HDF5Source
from ...sources.hdf5_open import Annotations, hdf5_lock

__all__ = ["BATCH_SIZE_WARNING", "BatchGenerator"]

#: ketos' warning, word for word, when ``batch_size`` exceeds the instances available.
BATCH_SIZE_WARNING = ("The batch size is greater than the number of instances available. "
                      "Setting batch_size to n_instances.")


class _CurrentOrder(Order):
    """The generator's current id order, whatever epoch number the Loader asks for.

    The generator moves its Loader to a new epoch number whenever the order changes, so the
    Loader's per-epoch plan cache never serves a stale order.
    """

    def __init__(self, indices: np.ndarray):
        self.indices = indices

    def __call__(self, n: int, seed: int, epoch: int) -> np.ndarray:
        return self.indices

    def length(self, n: int) -> int:
        return int(self.indices.size)

    def __repr__(self) -> str:
        return f"ketos order ({self.indices.size} ids)"


def _structured(data: Mapping[str, np.ndarray], names: Sequence[str]) -> np.ndarray:
    """Columns ``names`` of ``data`` as one structured array (``X[0]['spec']``, ``X[0][0]``)."""
    first = data[names[0]]
    dtype = np.dtype([(n, data[n].dtype, data[n].shape[1:]) for n in names])
    out = np.empty(len(first), dtype)
    for n in names:
        out[n] = data[n]
    return out


def _as_ids(name: str, value: Any, n_rows: int) -> np.ndarray:
    """Row ids as int64, refusing what is not a 1-D list of integers in ``[0, n_rows)``."""
    try:
        return as_index_array(name, np.asarray(value), n_rows).copy()
    except IndexError as exc:
        raise IndexError(f"{exc}; ids are row numbers of the data table (or of x), so each must "
                         f"be in [0, {n_rows})") from None


class BatchGenerator:
    """ketos' endless batch generator over an open PyTables table or in-memory arrays.

    Call ``next(gen)`` ``gen.n_batches`` times per epoch; it never raises StopIteration. Batches
    are ``(X, Y)``, or ``(ids, X, Y)`` with ``return_batch_ids=True`` (``ids`` a list of row
    numbers). ``n_batches = n_instances // batch_size``; the remainder is appended to the last
    batch (11 instances, batch 3: 3, 3, 5 instances).

    Args:
        batch_size: instances per batch; one larger than the instances available warns (ketos'
            message) and is lowered to ``n_instances``.
        data_table: the open ``tables.Table`` holding the data (table mode).
        annot_in_data_table: whether the ``y_field`` columns are in ``data_table`` (True) or in
            ``annot_table`` (False).
        annot_table: a table of annotations with a ``data_index`` column (the data row),
            any number per instance; Y is then a list per instance of its annotations.
        x: in-memory data (used with ``y``; then no table is read).
        y: in-memory labels, one per row of ``x``.
        select_indices: the row ids to use, in this order (default: the table's ``id`` column,
            or all rows of ``x``).
        output_transform_func: ``f(X, Y) -> (X, Y)`` applied to every batch.
        x_field: the data column, or a list of columns (X is then a structured array).
        y_field: the label column, or a list of columns.
        shuffle: shuffle the ids once at construction with the global ``np.random``.
        refresh_on_epoch_end: draw a new order (shuffled if ``shuffle``) after every epoch.
        return_batch_ids: yield ``(ids, X, Y)`` instead of ``(X, Y)``.
        filter: a PyTables condition such as ``"label == 0"``; the ids of the matching rows are
            used and ``select_indices`` is ignored (as in ketos).
        n_extend: each batch also gets the last ``n_extend`` ids of the previous batch and the
            first ``n_extend`` of the next one (not the appended remainder).

    Attributes:
        n_instances: ids per epoch. n_batches: batches per epoch. batch_count: the batch the next
        ``next()`` yields. from_memory: True in in-memory mode. data, annot: the tables (None in
        memory). x, y: the arrays (None in table mode). y_field: always a list.

    Example:
        >>> import numpy as np
        >>> gen = BatchGenerator(batch_size=6, x=np.zeros((20, 4)), y=np.zeros(20), n_extend=2,
        ...                      return_batch_ids=True)
        >>> [(ids[0], ids[-1], X.shape) for ids, X, Y in (next(gen) for _ in range(3))]
        [(0, 7, (8, 4)), (4, 13, (10, 4)), (10, 19, (10, 4))]
    """

    def __init__(self, batch_size: int, data_table: tables.Table | None = None,
                 annot_in_data_table: bool = True, annot_table: tables.Table | None = None,
                 x: Any = None, y: Any = None, select_indices: Any = None,
                 output_transform_func: Callable[[Any, Any], tuple[Any, Any]] | None = None,
                 x_field: str | Sequence[str] = "data", y_field: str | Sequence[str] = "label",
                 shuffle: bool = False, refresh_on_epoch_end: bool = False,
                 return_batch_ids: bool = False, filter: str | None = None, n_extend: int = 0):
        batch_size = check_int("batch_size", batch_size, 1)
        self._n_extend = check_int("n_extend", n_extend, 0)
        if output_transform_func is not None and not callable(output_transform_func):
            raise TypeError(f"output_transform_func={output_transform_func!r} must be a function "
                            "f(X, Y) -> (X, Y), or None")
        if (x is None) != (y is None):
            given = "x" if y is None else "y"
            raise ValueError(f"only {given} was given: pass both x and y to batch in-memory "
                             "arrays, or neither and a data_table")
        self.from_memory = x is not None
        self.annot_in_data_table = bool(annot_in_data_table)
        self.filter = filter
        self.x_field = x_field
        self.y_field = [y_field] if isinstance(y_field, str) else list(y_field)
        if not self.y_field:
            raise ValueError("y_field=[] names no label column; give a column name such as 'label'")
        self.label_field = self.y_field[0]
        self._annotations: Annotations | None = None
        if self.from_memory:
            if data_table is not None:
                raise ValueError("both x/y and data_table were given: pass x and y for in-memory "
                                 "data, or data_table (not both)")
            if filter is not None:
                raise ValueError(f"filter={filter!r} queries a data_table, but the data are in "
                                 "memory (x, y): select rows with select_indices instead")
            self.data = self.annot = None
            self.x, self.y = x, y
            self._source: Any = ArraySource(x=x, y=y)
            n_rows = len(self._source)
            select = np.arange(n_rows, dtype=np.int64) if select_indices is None else select_indices
        else:
            self.x = self.y = None
            self.data, self.annot = self._check_tables(data_table, annot_table)
            self._source = HDF5Source(data_table, fields=self._read_fields())
            n_rows = int(data_table.nrows)
            if filter is not None:
                select = self._query(filter)
            elif select_indices is None:
                select = (data_table.col("id") if "id" in data_table.colnames
                          else np.arange(n_rows, dtype=np.int64))
            else:
                select = select_indices
            if not self.annot_in_data_table:
                self._annotations = self._annotation_index(None)
        self._n_rows = n_rows
        self.select_indices = _as_ids("select_indices", select, n_rows)
        self.n_instances = int(self.select_indices.size)
        if self.n_instances == 0:
            why = (f"filter={filter!r} matches no row of the table" if filter is not None
                   else "select_indices is empty" if select_indices is not None
                   else "the data have no rows")
            raise ValueError(f"nothing to batch: {why}; select at least one instance")
        self.shuffle = shuffle
        self.refresh_on_epoch_end = refresh_on_epoch_end
        self.return_batch_ids = return_batch_ids
        self.output_transform_func = output_transform_func
        self.batch_count = 0
        self._version = 0
        self._order = _CurrentOrder(self._draw_order())
        self._set_batch_size(batch_size)

    # ------------------------------------------------------------------ set-up
    def _check_tables(self, data_table: Any, annot_table: Any) -> tuple[Any, Any]:
        if data_table is None:
            raise ValueError("give data_table (an open tables.Table), or x and y for in-memory "
                             "data")
        if not isinstance(data_table, tables.Table):
            raise TypeError(f"data_table={data_table!r} must be a tables.Table, e.g. "
                            "open_table(h5, '/train/data')")
        x_fields = [self.x_field] if isinstance(self.x_field, str) else list(self.x_field)
        if not x_fields:
            raise ValueError("x_field=[] names no data column; give a column name such as 'data'")
        self._check_columns("x_field", x_fields, data_table)
        if self.annot_in_data_table:
            self._check_columns("y_field", self.y_field, data_table)
        else:
            if annot_table is None:
                raise ValueError("annot_in_data_table=False needs annot_table, the table of "
                                 "annotations with a data_index column")
            if not isinstance(annot_table, tables.Table):
                raise TypeError(f"annot_table={annot_table!r} must be a tables.Table")
            self._check_columns("annot_table's data_index", ["data_index"], annot_table)
            self._check_columns("y_field", self.y_field, annot_table)
        return data_table, annot_table

    @staticmethod
    def _check_columns(what: str, names: Sequence[str], table: tables.Table) -> None:
        missing = [n for n in names if n not in table.colnames]
        if missing:
            raise ValueError(f"{what}: columns {missing} are not in {table._v_pathname}; its "
                             f"columns are {list(table.colnames)}")

    def _read_fields(self) -> list[str]:
        names = [self.x_field] if isinstance(self.x_field, str) else list(self.x_field)
        if self.annot_in_data_table:
            names += self.y_field
        return list(dict.fromkeys(names))

    def _query(self, condition: Any) -> np.ndarray:
        if not isinstance(condition, str):
            raise TypeError(f"filter={condition!r} must be a PyTables condition such as "
                            "'label == 0'")
        table = self.data
        with hdf5_lock:
            try:
                rows = table.get_where_list(condition, sort=True)
            except Exception as exc:  # PyTables raises NameError, SyntaxError, TypeError, ...
                raise ValueError(f"filter={condition!r} is not a valid PyTables condition on "
                                 f"{table._v_pathname} (columns {list(table.colnames)}): "
                                 f"{type(exc).__name__}: {exc}") from exc
            if "id" in table.colnames and len(rows):
                return table.read_coordinates(rows, field="id")
        return np.asarray(rows, dtype=np.int64)

    def _annotation_index(self, rows: np.ndarray | None) -> Annotations:
        """The core's sorted join of the annotation table (or of its ``rows``) on data_index."""
        annot = self.annot
        names = list(dict.fromkeys(["data_index", *self.y_field]))
        with hdf5_lock:
            if rows is None:
                cols = {n: annot.col(n) for n in names}
            else:
                recs = annot.read_coordinates(rows)
                cols = {n: recs[n] for n in names}
        return Annotations(_structured(cols, names), tuple(self.y_field), int(self.data.nrows),
                           f"annot_table {annot._v_pathname}")

    def _draw_order(self) -> np.ndarray:
        """ketos' ``__update_indices__``: a copy of the ids, shuffled by the global RNG."""
        order = self.select_indices.copy()
        if self.shuffle:
            np.random.shuffle(order)
        return order

    def _set_batch_size(self, batch_size: int, stacklevel: int = 2) -> None:
        if batch_size > self.n_instances:
            warnings.warn(BATCH_SIZE_WARNING, UserWarning, stacklevel=stacklevel + 1)
            batch_size = self.n_instances
        self._batch_size = batch_size
        self.n_batches = self.n_instances // batch_size
        self._loader = Loader(self._source, batch_size, order=self._order, last_batch="merge",
                              n_extend=self._n_extend, epochs=None, seed=0)
        self._loader.set_epoch(self._version)
        self.batch_count = 0

    def _set_order(self, order: np.ndarray) -> None:
        self._order.indices = order
        self._version += 1
        self._loader.set_epoch(self._version)  # a new epoch number: no stale cached plan

    # ------------------------------------------------------------------ attributes
    @property
    def batch_size(self) -> int:
        """Instances per batch (before the remainder is appended and before ``n_extend``).

        Setting it re-cuts the batches of the current order (``n_batches`` follows, and the
        batch count restarts); a value above ``n_instances`` warns and is lowered, as at
        construction.
        """
        return self._batch_size

    @batch_size.setter
    def batch_size(self, value: int) -> None:
        self._set_batch_size(check_int("batch_size", value, 1))

    @property
    def n_extend(self) -> int:
        """Ids taken from each neighbouring batch."""
        return self._n_extend

    @property
    def data_indices(self) -> np.ndarray:
        """The id order of the current epoch (ketos' attribute; see :meth:`get_indices`)."""
        return self._order.indices

    # ------------------------------------------------------------------ ketos API
    def __iter__(self) -> BatchGenerator:
        return self

    def __next__(self) -> tuple:
        ids, raw = self._read(self.batch_count)
        self.batch_count += 1
        if self.batch_count > self.n_batches - 1:
            self.reset()  # ketos refreshes here, before the batch is transformed
        X, Y = self._finish(ids, raw)
        return (ids.tolist(), X, Y) if self.return_batch_ids else (X, Y)

    def reset(self, indices: Any = None) -> None:
        """Restart at the first batch; draw a new order when ``refresh_on_epoch_end`` is set and
        some batch was taken, or use ``indices`` (all the ids, in this exact order).

        Example:
            >>> gen = BatchGenerator(batch_size=2, x=np.arange(4), y=np.arange(4),
            ...                      return_batch_ids=True)
            >>> gen.reset(indices=[3, 2, 1, 0]); next(gen)[0]
            [3, 2]
        """
        if indices is not None:
            order = _as_ids("indices", indices, self._n_rows)
            if order.size != self.n_instances:
                raise ValueError(f"indices has {order.size} ids but the generator has "
                                 f"n_instances={self.n_instances}; give all the ids in the new "
                                 "order, or create a BatchGenerator with select_indices= for a "
                                 "different selection")
            self._set_order(order)
        elif self.refresh_on_epoch_end and self.batch_count > 0:
            self._set_order(self._draw_order())
        self.batch_count = 0

    def get_indices(self) -> np.ndarray:
        """The ids in the order used for this epoch's batches (a copy).

        Example:
            >>> BatchGenerator(batch_size=2, x=np.arange(3), y=np.arange(3)).get_indices().tolist()
            [0, 1, 2]
        """
        return self._order.indices.copy()

    def get_samples(self, indices: Any, annot_indices: Any = None) -> tuple[Any, Any]:
        """``(X, Y)`` for the instances ``indices`` (row ids), transformed as batches are.

        ``annot_indices`` (annotation-table mode) restricts Y to those rows of the annotation
        table, grouped by instance; by default every annotation of each instance is used.

        Example:
            >>> gen = BatchGenerator(batch_size=2, x=np.arange(5) * 10, y=np.arange(5))
            >>> X, Y = gen.get_samples([4, 0]); X.tolist(), Y.tolist()
            ([40, 0], [4, 0])
        """
        ids = _as_ids("indices", indices, self._n_rows)
        annotations = None
        if annot_indices is not None:
            if self._annotations is None:
                raise ValueError("annot_indices= selects rows of an annotation table, but this "
                                 "generator has none (annot_in_data_table=True or in-memory "
                                 "data): leave annot_indices out")
            rows = _as_ids("annot_indices", annot_indices, int(self.annot.nrows))
            annotations = self._annotation_index(rows)
        return self._finish(ids, self._source.read(ids), annotations)

    def set_return_batch_ids(self, v: bool) -> None:
        """Yield ``(ids, X, Y)`` (True) or ``(X, Y)`` (False).

        Example:
            >>> gen = BatchGenerator(batch_size=2, x=np.arange(4), y=np.arange(4))
            >>> gen.set_return_batch_ids(True); len(next(gen))
            3
        """
        self.return_batch_ids = v

    def set_shuffle(self, v: bool) -> None:
        """Shuffle (True) or not the orders drawn from now on (at refreshes and resets).

        Example:
            >>> gen = BatchGenerator(batch_size=2, x=np.arange(4), y=np.arange(4))
            >>> gen.set_shuffle(True); gen.shuffle
            True
        """
        self.shuffle = v

    # ------------------------------------------------------------------ reading
    def _read(self, number: int) -> tuple[np.ndarray, Mapping[str, Any]]:
        """Ids and raw columns of batch ``number`` of the current order."""
        batch = self._loader[number]
        return batch.indices, batch

    def _finish(self, ids: np.ndarray, raw: Mapping[str, Any],
                annotations: Annotations | None = None) -> tuple[Any, Any]:
        """ketos' X and Y from raw columns, then ``output_transform_func``."""
        if self.from_memory:
            X, Y = raw["x"], raw["y"]
        else:
            X = (raw[self.x_field] if isinstance(self.x_field, str)
                 else _structured(raw, list(self.x_field)))
            if self.annot_in_data_table:
                Y = (raw[self.label_field] if len(self.y_field) == 1
                     else _structured(raw, self.y_field))
            else:
                groups = (annotations or self._annotations).lookup(ids)
                Y = ([g[self.label_field].tolist() for g in groups] if len(self.y_field) == 1
                     else list(groups))
        if self.output_transform_func is not None:
            X, Y = self.output_transform_func(X, Y)
        return X, Y

    def __repr__(self) -> str:
        where = "memory" if self.from_memory else self.data._v_pathname
        return (f"BatchGenerator({where}, n_instances={self.n_instances}, "
                f"batch_size={self.batch_size}, n_batches={self.n_batches}, "
                f"shuffle={self.shuffle}, batch_count={self.batch_count})")
