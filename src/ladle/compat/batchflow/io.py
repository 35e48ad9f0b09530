"""``Batch.load``/``Batch.dump`` for batchflow's formats: in-memory data, ``csv``, ``hdf5``,
``feather`` and ``blosc``.

Which rows belong to a batch: in-memory arrays and HDF5 files without an ``index`` node are indexed
by the batch's item ids (row numbers, batchflow's rule); DataFrames (``csv``, ``feather``) by their
index labels; an HDF5 file written by :func:`dump` by its ``index`` node; blosc stores have one
file per item, named by its id.

* ``csv`` — pandas (``read_csv``/``to_csv`` keyword arguments pass through, e.g.
  ``index_col=0``); one column per component (1-D components only).
* ``feather`` — pandas + pyarrow; the ids are written as an ``index`` column and read back as the
  index.
* ``hdf5`` — PyTables (also reads files written by h5py): one array per component plus an
  ``index`` array; ``dump`` appends rows by default (``mode="w"`` starts a new file), so dumping
  every batch of a dataset builds one file.
* ``blosc`` — one ``<id>.blosc`` file per item in a directory: the item's components, pickled and
  compressed with blosc2. Load only files you trust (pickle).

``feather`` needs pyarrow and ``blosc`` needs blosc2: ``pip install ladle[batchflow]``.

Example:
    >>> import numpy as np
    >>> from ladle.compat.batchflow import Batch
    >>> b = Batch([2, 0]).load(src={"x": np.array([10, 11, 12])})
    >>> b.x.tolist()
    [12, 10]
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Mapping, MutableMapping
from typing import Any

import numpy as np
import pandas as pd

from ..._checks import check_choice
from ...batch import stack_items
from ...sources.base import gather_runs

__all__ = ["FORMATS", "data_length", "dump", "load", "put", "put_exact"]

FORMATS = (None, "blosc", "csv", "hdf5", "feather")


# --------------------------------------------------------------------------- rows of a batch
def _row_numbers(ids: np.ndarray) -> np.ndarray:
    ids = np.asarray(ids)
    if ids.size and not np.issubdtype(ids.dtype, np.integer):
        raise TypeError(f"the batch ids ({ids[:3].tolist()}...) are labels, not row numbers: load "
                        "such data from a DataFrame indexed by them, or through a Dataset")
    return ids.astype(np.int64)


def _take(value: Any, ids: np.ndarray, positions: np.ndarray | None) -> Any:
    """The batch's rows of ``value`` (by ``positions`` if given, else by the item ids)."""
    if isinstance(value, (pd.DataFrame, pd.Series)):
        rows = value.iloc[positions] if positions is not None else value.loc[ids]
        return rows.to_numpy()
    rows = positions if positions is not None else _row_numbers(ids)
    n = len(value)
    if rows.size and (rows.min() < -n or rows.max() >= n):
        raise IndexError(f"rows {rows.min()}..{rows.max()} are outside the {n} rows of the data")
    if isinstance(value, np.ndarray):
        return value[rows]
    if isinstance(value, (list, tuple)):
        return stack_items([value[int(i)] for i in rows])
    return gather_runs(lambda a, b: value[a:b], rows)


def data_length(data: Any) -> int:
    """Number of rows of a dict/DataFrame/tuple of components or of an array.

    Example:
        >>> data_length({"x": np.zeros(3)})
        3
    """
    if isinstance(data, pd.DataFrame):
        return len(data)
    if isinstance(data, Mapping):
        return len(next(iter(data.values())))
    if isinstance(data, tuple):
        return len(data[0])
    return len(data)


def _names_for(batch: Any, dst: Any, available: list[str] | None) -> list[str]:
    if dst is None:
        declared = [n for n in batch._component_names()]
        if available is None:
            if not declared:
                raise ValueError("give dst= (the component names) or declare components")
            return declared
        chosen = [n for n in declared if n in available] if declared else []
        return chosen or available
    return [dst] if isinstance(dst, str) else list(dst)


def put(batch: Any, src: Any, dst: Any, positions: np.ndarray | None) -> None:
    """Store the batch's rows of ``src`` (dict, DataFrame, tuple or array) in components."""
    ids = batch.indices
    if isinstance(src, pd.DataFrame):
        if isinstance(dst, str):
            batch._set_component(dst, _take(src, ids, positions))
            return
        for name in _names_for(batch, dst, list(src.columns)):
            batch._set_component(name, _take(src[name], ids, positions))
        return
    if isinstance(src, Mapping):
        if isinstance(dst, str):
            batch._set_component(dst, _take(src[dst], ids, positions))
            return
        for name in _names_for(batch, dst, list(src)):
            if name not in src:
                raise KeyError(f"dst names {name!r}, which src does not have; src has {list(src)}")
            batch._set_component(name, _take(src[name], ids, positions))
        return
    if isinstance(src, (tuple, list)) and not isinstance(dst, str):
        names = _names_for(batch, dst, None)
        if len(names) != len(src):
            raise ValueError(f"src has {len(src)} parts but there are {len(names)} components "
                             f"{names}: give dst= with one name per part")
        for name, value in zip(names, src):
            batch._set_component(name, _take(value, ids, positions))
        return
    names = _names_for(batch, dst, None)
    if len(names) != 1:
        raise ValueError(f"src is one array, so dst must be one component name, not {dst!r}")
    batch._set_component(names[0], _take(src, ids, positions))


def put_exact(batch: Any, data: Any, dst: Any) -> None:
    """Store ``data`` whose rows are exactly the batch's items, in order."""
    put(batch, data, dst, np.arange(len(batch)))


# --------------------------------------------------------------------------- load
def load(batch: Any, src: Any, fmt: str | None = None, dst: Any = None, **kwargs: Any) -> Any:
    """Load the batch's items from ``src`` in format ``fmt`` into components ``dst``.

    ``fmt=None``: ``src`` is a DataFrame (all or the ``dst`` columns; ``dst`` a name takes the
    whole rows), a dict, a tuple (with ``dst`` a tuple) or an array (with ``dst`` a name).
    Otherwise ``src`` is a path (a directory, or a callable ``id -> path``, for blosc).

    Example:
        >>> from ladle.compat.batchflow import Batch
        >>> import pandas as pd
        >>> df = pd.DataFrame({"a": [1, 2, 3]}, index=[10, 20, 30])
        >>> Batch([30, 10]).load(src=df).a.tolist()
        [3, 1]
    """
    check_choice("fmt", fmt, FORMATS)
    if src is None:
        raise ValueError("src is None: give the data or the file to load from")
    if fmt is None:
        put(batch, src, dst, None)
    elif fmt == "csv":
        put(batch, pd.read_csv(src, **kwargs), dst, None)
    elif fmt == "feather":
        _require("pyarrow", fmt)
        frame = pd.read_feather(src, **kwargs)
        if "index" in frame.columns:
            frame = frame.set_index("index")
        put(batch, frame, dst, None)
    elif fmt == "hdf5":
        _load_hdf5(batch, src, dst)
    else:
        _load_blosc(batch, src, dst)
    return batch


def _load_hdf5(batch: Any, path: str, dst: Any) -> None:
    import tables

    with tables.open_file(path, mode="r") as f:
        nodes = {n._v_name: n for n in f.root._f_iter_nodes() if isinstance(n, tables.Leaf)}
        ids = batch.indices
        if "index" in nodes:
            stored = nodes["index"][:]
            stored = stored.astype(str) if stored.dtype.kind == "S" else stored
            lookup = pd.Index(stored)
            if not lookup.is_unique:
                raise ValueError(f"{path} has repeated ids in its index (dumped twice with "
                                 "mode='a'?); rewrite it with mode='w'")
            rows = lookup.get_indexer(np.asarray(ids))
            if (rows < 0).any():
                raise KeyError(f"ids {np.asarray(ids)[rows < 0][:5].tolist()} are not in {path}")
        else:
            rows = _row_numbers(ids)
        names = _names_for(batch, dst, [n for n in nodes if n != "index"])
        for name in names:
            if name not in nodes:
                raise KeyError(f"{path} has no array {name!r}; it has {sorted(nodes)}")
            node = nodes[name]
            batch._set_component(name, gather_runs(lambda a, b: node[a:b], rows))


def _require(module: str, fmt: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:  # pragma: no cover - installed in development
        raise ImportError(f"fmt={fmt!r} needs {module}: pip install ladle[batchflow]") from None


def _blosc2() -> Any:
    return _require("blosc2", "blosc")


def _item_path(src: Any, ix: Any) -> str:
    return src(ix) if callable(src) else os.path.join(src, f"{ix}.blosc")


def _load_blosc(batch: Any, src: Any, dst: Any) -> None:
    blosc2 = _blosc2()
    items = []
    for ix in batch.indices.tolist():
        path = _item_path(src, ix)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"no blosc file for item {ix!r}: {path}")
        with open(path, "rb") as f:
            items.append(pickle.loads(blosc2.decompress(f.read())))
    available = list(items[0]) if items else []
    for name in _names_for(batch, dst, available):
        try:
            batch._set_component(name, stack_items([item[name] for item in items]))
        except KeyError:
            raise KeyError(f"component {name!r} is not in the blosc files") from None


# --------------------------------------------------------------------------- dump
def _dump_names(batch: Any, components: Any) -> list[str]:
    if components is None:
        names = [n for n in batch._component_names() if dict.get(batch, n) is not None]
    else:
        names = [components] if isinstance(components, str) else list(components)
    for name in names:
        if dict.get(batch, name) is None:
            raise KeyError(f"component {name!r} is not set; set components: {list(batch)}")
    if not names:
        raise ValueError("the batch has no components to dump")
    return names


def _frame(batch: Any, names: list[str], fmt: str) -> pd.DataFrame:
    columns = {}
    for name in names:
        value = np.asarray(batch[name]) if not isinstance(batch[name], list) else batch[name]
        if np.ndim(value) > 1 and not isinstance(value, list):
            raise ValueError(f"component {name!r} has shape {np.shape(value)}; {fmt} holds one "
                             "value per item and column: use fmt='hdf5' or 'blosc'")
        columns[name] = value
    return pd.DataFrame(columns, index=pd.Index(batch.indices))


def dump(batch: Any, dst: Any, fmt: str | None = None, components: Any = None,
         **kwargs: Any) -> Any:
    """Write components (all set ones by default) to ``dst`` in format ``fmt``.

    ``fmt=None``: ``dst`` is a dict (components stored under their names) or an array (one
    component written at the rows of the item ids).

    Example:
        >>> from ladle.compat.batchflow import Batch
        >>> out = np.zeros(4)
        >>> _ = Batch.from_data([3, 1], {"x": np.array([7.0, 5.0])}).dump(dst=out)
        >>> out.tolist()
        [0.0, 5.0, 0.0, 7.0]
    """
    check_choice("fmt", fmt, FORMATS)
    if dst is None:
        raise ValueError("dst is None: give where to write")
    names = _dump_names(batch, components)
    if fmt is None:
        if isinstance(dst, MutableMapping):
            for name in names:
                dst[name] = batch[name]
        elif isinstance(dst, np.ndarray) and len(names) == 1:
            dst[_row_numbers(batch.indices)] = batch[names[0]]
        else:
            raise TypeError(f"dst is a {type(dst).__name__}: give a dict, or an array with one "
                            "component (components=), or a path with fmt=")
    elif fmt == "csv":
        _frame(batch, names, fmt).to_csv(dst, **kwargs)
    elif fmt == "feather":
        _require("pyarrow", fmt)
        _frame(batch, names, fmt).reset_index(names="index").to_feather(dst, **kwargs)
    elif fmt == "hdf5":
        _dump_hdf5(batch, dst, names, **kwargs)
    else:
        _dump_blosc(batch, dst, names)
    return batch


def _hdf5_array(value: Any, name: str) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind == "U":
        arr = np.char.encode(arr, "utf-8")
    if arr.dtype == object:
        raise TypeError(f"component {name!r} holds Python objects (ragged or mixed items), which "
                        "HDF5 arrays cannot store: use fmt='blosc'")
    return arr


def _dump_hdf5(batch: Any, path: str, names: list[str], mode: str = "a") -> None:
    import tables

    check_choice("mode", mode, ("a", "w"))
    arrays = {name: _hdf5_array(batch[name], name) for name in names}
    arrays["index"] = _hdf5_array(batch.indices, "index")
    with tables.open_file(path, mode=mode) as f:
        for name, arr in arrays.items():
            if name in f.root:
                node = f.get_node(f.root, name)
                if not isinstance(node, tables.EArray) or node.shape[1:] != arr.shape[1:]:
                    raise ValueError(f"{path} already has {name!r} of shape {node.shape}; it "
                                     f"cannot take rows of shape {arr.shape[1:]}: use mode='w'")
                node.append(arr.astype(node.dtype))
            else:
                atom = tables.Atom.from_dtype(arr.dtype)
                f.create_earray(f.root, name, atom, shape=(0,) + arr.shape[1:],
                                filters=tables.Filters(complevel=1, complib="blosc"),
                                obj=arr)


def _dump_blosc(batch: Any, dst: Any, names: list[str]) -> None:
    blosc2 = _blosc2()
    if not callable(dst):
        os.makedirs(dst, exist_ok=True)
    for pos, ix in enumerate(batch.indices.tolist()):
        item = {name: batch[name][pos] for name in names}
        payload = blosc2.compress(pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL), typesize=1)
        with open(_item_path(dst, ix), "wb") as f:
            f.write(payload)

