"""The inventory as NumPy columns: no Python objects in a source's state.

A DataFrame of strings holds one Python object per cell; a worker process that touches them writes
their reference counts and so copies the pages they live on (copy-on-access). An
:class:`~ladle.sources.inventory.InventorySource` therefore keeps its inventory as:

* numeric, boolean and datetime columns: plain NumPy arrays;
* string columns: :class:`StringColumn`, UTF-8 bytes in one ``uint8`` array plus ``int64`` offsets;
* columns of lists: :class:`ListColumn`, the flattened items (a NumPy array or a StringColumn) plus
  offsets.

Example:
    >>> import pandas as pd
    >>> table = Table.from_frame(pd.DataFrame({"path": ["a.png", "bé.png"], "w": [1.0, 2.0]}))
    >>> table["path"].take(np.array([1, 0])).tolist(), table.row(1)["w"]
    (['bé.png', 'a.png'], 2.0)
"""

from __future__ import annotations

import numbers
import os
import string
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from .base import Field

__all__ = ["ListColumn", "Row", "StringColumn", "Table", "column_from_values", "location_column",
           "map_ids", "read_inventory"]


def _is_null(v: Any) -> bool:
    return (v is None or (isinstance(v, float) and v != v)
            or type(v).__name__ in ("NAType", "NaTType"))


class StringColumn:
    """Strings stored as UTF-8 bytes (``uint8``) and ``int64`` offsets; missing values are kept.

    Example:
        >>> col = StringColumn.from_values(["x", None, "yz"])
        >>> len(col), col[1], col.take(np.array([2, 0])).tolist()
        (3, None, ['yz', 'x'])
    """

    __slots__ = ("data", "offsets", "null", "width")

    def __init__(self, data: np.ndarray, offsets: np.ndarray, null: np.ndarray | None, width: int):
        self.data, self.offsets, self.null, self.width = data, offsets, null, width

    @classmethod
    def from_values(cls, values: Sequence[Any], name: str = "column",
                    all_str: bool = False) -> "StringColumn":
        """Build from strings (None/NaN are missing values); anything else is an error."""
        items = values.tolist() if isinstance(values, np.ndarray) else list(values)
        null = None
        if not all_str and not all(type(v) is str for v in items):
            mask = [_is_null(v) for v in items]
            for i, v in enumerate(items):
                if not mask[i] and not isinstance(v, str):
                    raise TypeError(f"column {name!r} row {i} is {v!r} ({type(v).__name__}), not a "
                                    "string; give the column one type")
            null = np.array(mask, dtype=bool) if any(mask) else None
            items = ["" if m else v for v, m in zip(items, mask)]
        chars = np.fromiter(map(len, items), dtype=np.int64, count=len(items))
        joined = "".join(items)
        if joined.isascii():  # one byte per character: no per-string encoding needed
            data = np.frombuffer(joined.encode("ascii"), dtype=np.uint8).copy()
            lengths = chars
        else:
            encoded = [s.encode("utf-8") for s in items]
            lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
            data = np.frombuffer(b"".join(encoded), dtype=np.uint8).copy()
        offsets = np.zeros(len(items) + 1, dtype=np.int32 if data.size < 2 ** 31 else np.int64)
        np.cumsum(lengths, out=offsets[1:])
        return cls(data, offsets, null, max(int(chars.max(initial=0)), 1))

    def __len__(self) -> int:
        return self.offsets.size - 1

    def __getitem__(self, i: int) -> str | None:
        if self.null is not None and self.null[i]:
            return None
        return self.data[self.offsets[i]:self.offsets[i + 1]].tobytes().decode("utf-8")

    def text(self, sep: str = "\n") -> str:
        """All strings joined by ``sep`` (one decode of the whole buffer)."""
        data = np.insert(self.data, self.offsets[1:-1], ord(sep)) if len(self) > 1 else self.data
        return data.tobytes().decode("utf-8")

    def strings(self, indices: np.ndarray | None = None) -> list[str]:
        """The strings at ``indices`` (all when None) as a list ("" for missing values)."""
        if indices is None:
            if len(self) == 0:
                return []
            if not (self.data == 10).any():
                return self.text("\n").split("\n")
            indices = np.arange(len(self))
        data, off = self.data, self.offsets
        return [data[a:b].tobytes().decode("utf-8")
                for a, b in zip(off[indices].tolist(), off[indices + 1].tolist())]

    def take(self, indices: np.ndarray) -> np.ndarray:
        """The strings at ``indices`` as a fixed-width ``'U'`` array ("" for missing values)."""
        return np.array(self.strings(np.asarray(indices, dtype=np.int64)), dtype=f"U{self.width}")

    def to_numpy(self) -> np.ndarray:
        """The whole column as a fixed-width ``'U'`` array."""
        return np.array(self.strings(), dtype=f"U{self.width}")

    def subset(self, rows: np.ndarray) -> "StringColumn":
        """A compact column holding only ``rows``, in that order."""
        return StringColumn.from_values(self.strings(np.asarray(rows)), "subset")._with_null(
            None if self.null is None else self.null[rows])

    def _with_null(self, null: np.ndarray | None) -> "StringColumn":
        self.null = null if null is not None and null.any() else None
        return self

    @property
    def field(self) -> Field:
        return Field(np.dtype(f"U{self.width}"), ())


class ListColumn:
    """A column of lists: the flattened items (NumPy array or :class:`StringColumn`) plus offsets.

    Example:
        >>> col = ListColumn.from_values([["a", "b"], [], ("c",)])
        >>> col[0], col.take(np.array([2, 1])).tolist()
        (['a', 'b'], [['c'], []])
    """

    __slots__ = ("items", "offsets")

    def __init__(self, items: Any, offsets: np.ndarray):
        self.items, self.offsets = items, offsets

    @classmethod
    def from_values(cls, values: Sequence[Any], name: str = "column") -> "ListColumn":
        flat: list = []
        lengths = np.empty(len(values), dtype=np.int64)
        for i, v in enumerate(values):
            if not isinstance(v, (list, tuple, np.ndarray)):
                raise TypeError(f"column {name!r} row {i} is {v!r}, not a list; give every row a "
                                "list (an empty one for none)")
            lengths[i] = len(v)
            flat.extend(v.tolist() if isinstance(v, np.ndarray) else v)
        offsets = np.zeros(len(values) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        if flat and all(isinstance(v, str) for v in flat):
            items: Any = StringColumn.from_values(flat, name, all_str=True)
        elif all(isinstance(v, (numbers.Number, np.bool_)) for v in flat):
            items = np.asarray(flat) if flat else np.empty(0, dtype="U1")
        else:
            raise TypeError(f"column {name!r} holds lists of mixed or nested items; give lists "
                            "of strings or of numbers")
        return cls(items, offsets)

    def __len__(self) -> int:
        return self.offsets.size - 1

    def _items(self, a: int, b: int) -> list:
        if isinstance(self.items, StringColumn):
            return self.items.strings(np.arange(a, b))
        return self.items[a:b].tolist()

    def __getitem__(self, i: int) -> list:
        return self._items(int(self.offsets[i]), int(self.offsets[i + 1]))

    def take(self, indices: np.ndarray) -> np.ndarray:
        """The lists at ``indices`` as a 1-D object array of lists."""
        out = np.empty(len(indices), dtype=object)
        for k, i in enumerate(np.asarray(indices).tolist()):
            out[k] = self[i]
        return out

    def to_list(self) -> list:
        return [self[i] for i in range(len(self))]

    def subset(self, rows: np.ndarray) -> "ListColumn":
        return ListColumn.from_values([self[i] for i in np.asarray(rows).tolist()], "subset")

    @property
    def field(self) -> Field:
        return Field(np.dtype(object), ())


Column = Any  # np.ndarray | StringColumn | ListColumn


def column_from_values(values: Any, name: str) -> Column:
    """The NumPy form of one column (a pandas Series, an array or a list).

    Example:
        >>> type(column_from_values(["a", None], "c")).__name__, column_from_values([1, 2], "c")
        ('StringColumn', array([1, 2]))
    """
    if hasattr(values, "dtype") and hasattr(values, "to_numpy"):  # a pandas Series
        if isinstance(values.dtype, np.dtype) and values.dtype.kind in "biufcmM":
            return values.to_numpy(copy=True)
        items = values.to_numpy(dtype=object, na_value=None).tolist()
    elif isinstance(values, np.ndarray):
        if values.dtype.kind in "US":
            return StringColumn.from_values(values.astype(str).tolist(), name)
        if values.dtype != object:
            return values.copy()
        items = values.tolist()
    else:
        items = list(values)
        if items and not any(isinstance(v, (str, list, tuple, np.ndarray)) or _is_null(v)
                             for v in items):
            arr = np.asarray(items)
            if arr.dtype != object:
                return arr
    if items and all(type(v) is str for v in items):  # the common case, checked fast
        return StringColumn.from_values(items, name, all_str=True)
    present = [v for v in items if not _is_null(v)]
    if all(isinstance(v, str) for v in present):
        return StringColumn.from_values(items, name)
    if all(isinstance(v, (list, tuple, np.ndarray)) for v in present):
        return ListColumn.from_values([[] if _is_null(v) else v for v in items], name)
    if all(isinstance(v, (bool, np.bool_)) for v in present) and len(present) == len(items):
        return np.array(items, dtype=bool)
    if all(isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) for v in present):
        return np.array([np.nan if _is_null(v) else v for v in items], dtype=np.float64)
    kinds = sorted({type(v).__name__ for v in present})
    raise TypeError(f"column {name!r} holds {', '.join(kinds)} values, which cannot be stored as "
                    "NumPy columns; convert it to strings, numbers or lists, or leave it out with "
                    "columns=")


class Table:
    """Named columns of equal length, stored without Python objects.

    Example:
        >>> t = Table({"a": np.arange(3), "b": StringColumn.from_values(["x", "y", "z"])})
        >>> len(t), t.subset(np.array([2]))["b"][0]
        (3, 'z')
    """

    def __init__(self, columns: Mapping[str, Column]):
        self.columns = dict(columns)
        lengths = {k: len(v) for k, v in self.columns.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"columns have different lengths: {lengths}")
        self.n = next(iter(lengths.values()), 0)

    @classmethod
    def from_frame(cls, frame: Any) -> "Table":
        """From a pandas DataFrame or a mapping of column name → values."""
        if isinstance(frame, Mapping):
            return cls({str(k): column_from_values(v, str(k)) for k, v in frame.items()})
        if not hasattr(frame, "columns"):
            raise TypeError(f"inventory is a {type(frame).__name__}; give a pandas DataFrame, a "
                            "dict of columns, or the path of a CSV or Parquet file")
        names = [str(c) for c in frame.columns]
        if len(set(names)) != len(names):
            raise ValueError(f"the inventory has repeated column names {names}; rename them")
        return cls({str(c): column_from_values(frame[c], str(c)) for c in frame.columns})

    def __len__(self) -> int:
        return self.n

    def __contains__(self, name: str) -> bool:
        return name in self.columns

    def __getitem__(self, name: str) -> Column:
        try:
            return self.columns[name]
        except KeyError:
            raise KeyError(f"column {name!r} is not in the inventory; columns: "
                           f"{list(self.columns)}") from None

    def values(self, name: str) -> Any:
        """A whole column in a form encoders take ('U' array, list of lists, or the array)."""
        col = self[name]
        if isinstance(col, StringColumn):
            if col.null is not None:
                out = col.to_numpy().astype(object)
                out[col.null] = None
                return out
            return col.to_numpy()
        if isinstance(col, ListColumn):
            return col.to_list()
        return col

    def take(self, name: str, indices: np.ndarray) -> np.ndarray:
        col = self[name]
        return col.take(indices) if not isinstance(col, np.ndarray) else col[indices]

    def row(self, i: int) -> "Row":
        return Row(self, int(i))

    def subset(self, rows: np.ndarray) -> "Table":
        return Table({k: (v[rows] if isinstance(v, np.ndarray) else v.subset(rows))
                      for k, v in self.columns.items()})


class Row(Mapping):
    """A read-only view of one inventory row (values are read on access); ``row.index`` is its id.

    Example:
        >>> r = Table({"a": np.array([5, 6])}).row(1)
        >>> r.index, r["a"], dict(r)
        (1, 6, {'a': 6})
    """

    __slots__ = ("_table", "index")

    def __init__(self, table: Table, index: int):
        self._table, self.index = table, index

    def __getitem__(self, name: str) -> Any:
        col = self._table[name]
        value = col[self.index]
        return value.item() if isinstance(value, np.generic) else value

    def __iter__(self) -> Iterator[str]:
        return iter(self._table.columns)

    def __len__(self) -> int:
        return len(self._table.columns)

    def __repr__(self) -> str:
        return f"Row({self.index}, {dict(self)!r})"


def read_inventory(inventory: Any, options: Mapping[str, Any], text_columns: Sequence[str]) -> Any:
    """A DataFrame from a CSV or Parquet path (``text_columns`` stay strings); other inputs as is.

    Example:
        >>> read_inventory({"a": [1]}, {}, [])
        {'a': [1]}
    """
    if not isinstance(inventory, (str, os.PathLike)):
        return inventory
    import pandas as pd

    path = os.fspath(inventory)
    name = path.lower().removesuffix(".gz").removesuffix(".bz2").removesuffix(".zip")
    if name.endswith((".parquet", ".pq")):
        try:
            return pd.read_parquet(path, **options)
        except ImportError as exc:
            raise ImportError(f"reading {path!r} needs pyarrow: pip install ladle[parquet]") \
                from exc
    if name.endswith((".csv", ".tsv", ".txt")):
        opts = dict(options)
        opts.setdefault("sep", "\t" if name.endswith(".tsv") else ",")
        opts.setdefault("dtype", {c: str for c in text_columns})  # keep ids like "007" as text
        return pd.read_csv(path, **opts)
    raise ValueError(f"inventory={path!r} is neither a CSV (.csv, .tsv) nor a Parquet (.parquet) "
                     "file; read it into a pandas DataFrame and pass that")


def map_ids(table: Table, id_col: str, id_mapper: Any) -> list[str]:
    """Each row's path from its id: ``id_mapper`` is None, a callable or a format string.

    Example:
        >>> t = Table({"id": np.array([7, 8]), "c": StringColumn.from_values(["a", "b"])})
        >>> map_ids(t, "id", "{c}/{id:03d}.png"), map_ids(t, "id", "x{id}")
        (['a/007.png', 'b/008.png'], ['x7', 'x8'])
    """
    ids = table[id_col]
    raw = ids.strings() if isinstance(ids, StringColumn) else ids.tolist()
    values = raw if isinstance(ids, StringColumn) else [str(v) for v in raw]
    if id_mapper is None:
        return values
    if isinstance(id_mapper, str):
        parsed = list(string.Formatter().parse(id_mapper))
        names = {f for _, f, _, _ in parsed if f is not None}
        if names <= {"id", ""} and all(not spec and conv is None for _, _, spec, conv in parsed):
            # "{id}.png" and the like: plain concatenation, no per-row format()
            pieces = [(lit, f is not None) for lit, f, _, _ in parsed]
            out = [""] * len(values)
            for lit, with_id in pieces:
                if with_id:
                    out = [o + lit + v for o, v in zip(out, values)]
                else:
                    out = [o + lit for o in out]
            return out
        others = {n: (table[n].strings() if isinstance(table[n], StringColumn)
                      else table[n].tolist()) for n in names - {"id", ""}}
        return [id_mapper.format(v, id=v, **{k: col[i] for k, col in others.items()})
                for i, v in enumerate(raw)]
    if not callable(id_mapper):
        raise TypeError(f"id_mapper={id_mapper!r} must be a callable id -> path or a format string "
                        "such as '{id}.png'")
    out = [id_mapper(v) for v in raw]
    bad = next((i for i, v in enumerate(out) if not isinstance(v, str)), None)
    if bad is not None:
        raise TypeError(f"id_mapper returned {out[bad]!r} for row {bad}; it must return a string")
    return out


def location_column(table: Table, name: str) -> StringColumn:
    """The string column ``name``, checked to hold a path or URL in every row.

    Example:
        >>> location_column(Table({"p": StringColumn.from_values(["a.png"])}), "p")[0]
        'a.png'
    """
    col = table[name]
    if not isinstance(col, StringColumn):
        raise TypeError(f"column {name!r} must hold paths or URLs as strings, got {col.dtype}")
    if col.null is not None:
        raise ValueError(f"column {name!r} has no path or URL in row {int(np.argmax(col.null))}; "
                         "fill or drop such rows")
    return col
