"""datagenerator's factories: inventories, and data sets over files or URLs in one call.

``generator_for_files`` and ``generator_for_urls`` read an inventory CSV, wrap the data encoder in a
:class:`~.encoders.FileDataEncoder` or :class:`~.encoders.UrlDataEncoder`, point target encoders
left at the default column to ``target=``, and fit the encoders on the inventory.

Example:
    >>> inventory_from_dict({"a.png": "cat", "b.png": "dog"}).to_dict("list")
    {'id': ['a.png', 'b.png'], 'target': ['cat', 'dog']}
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping

import pandas as pd
from pandas.api.types import is_list_like

from ._encoding import records
from .dataset import GeneratorDataSet
from .encoders import FileDataEncoder, UrlDataEncoder, bind_target

__all__ = ["enrich_inventory", "generator_for_files", "generator_for_urls", "inventory_from_csv",
           "inventory_from_dict", "inventory_from_records"]


def inventory_from_csv(path: Any, **read_csv: Any) -> pd.DataFrame:
    """An inventory read from a CSV file (keyword arguments go to ``pandas.read_csv``).

    Example:
        >>> import io
        >>> inventory_from_csv(io.StringIO("id,target\\na,1\\n")).to_dict("records")
        [{'id': 'a', 'target': 1}]
    """
    return pd.read_csv(path, **read_csv)


def inventory_from_records(records: Iterable[Any], columns: list | None = None) -> pd.DataFrame:
    """An inventory from records: dicts of column → value, or tuples with ``columns``.

    Example:
        >>> inventory_from_records([{"id": "a", "target": 0}, {"id": "b", "target": 1}]).shape
        (2, 2)
    """
    return pd.DataFrame.from_records(list(records), columns=columns)


def inventory_from_dict(data: Mapping[Any, Any], id: str = "id", target: str = "target",
                        **from_dict: Any) -> pd.DataFrame:
    """An inventory from a dict: of columns (column → values), or of ids → targets (every value a
    scalar), which gives the columns ``id`` and ``target``.

    Example:
        >>> inventory_from_dict({"id": ["a", "b"], "target": [0, 1]}).shape
        (2, 2)
        >>> inventory_from_dict({"a": 0, "b": 1}, id="file", target="label").columns.tolist()
        ['file', 'label']
    """
    if not isinstance(data, Mapping):
        raise TypeError(f"data must be a dict, got {type(data).__name__}")
    if data and not from_dict and not any(is_list_like(v) for v in data.values()):
        return pd.DataFrame({id: list(data.keys()), target: list(data.values())})
    return pd.DataFrame.from_dict(dict(data), **from_dict)


def enrich_inventory(inventory: pd.DataFrame, enricher: Callable[[Any], Mapping] | None = None,
                     **columns: Callable[[Any], Any]) -> pd.DataFrame:
    """A copy of the inventory with columns computed from each record.

    Args:
        inventory: the inventory.
        enricher: ``fn(record) -> {column: value}`` for several new columns at once.
        columns: ``column=fn(record)`` for one new column each.

    Example:
        >>> inv = pd.DataFrame({"id": ["a", "bb"]})
        >>> enrich_inventory(inv, length=lambda r: len(r["id"]))["length"].tolist()
        [1, 2]
    """
    if not isinstance(inventory, pd.DataFrame):
        raise ValueError(f"inventory must be a pandas DataFrame, got {type(inventory).__name__}")
    if enricher is None and not columns:
        raise ValueError("give enricher=fn(record) -> dict, or column=fn(record) keywords")
    out = inventory.copy()
    recs = records(inventory)
    if enricher is not None:
        added = pd.DataFrame([dict(enricher(r)) for r in recs], index=inventory.index)
        for name in added.columns:
            out[name] = added[name]
    for name, fn in columns.items():
        out[name] = [fn(r) for r in recs]
    return out


def _inventory(inventory_path: Any) -> pd.DataFrame:
    if isinstance(inventory_path, pd.DataFrame):
        return inventory_path
    return inventory_from_csv(inventory_path)


def _check_columns(inventory: pd.DataFrame, id: str, target: str, target_encoder: Any) -> None:
    missing = [c for c in (id,) if c not in inventory.columns]
    if target_encoder is not None:
        column = getattr(target_encoder, "target", target)
        if isinstance(column, (str, int)) and column not in inventory.columns:
            missing.append(column)
    if missing:
        raise ValueError(f"the inventory has no column {', '.join(map(repr, missing))}; its "
                         f"columns are {list(inventory.columns)}: pass id= and target= the right "
                         "names")


def _bind(target_encoder: Any, target: str) -> None:
    column = getattr(target_encoder, "target", None)
    if (not getattr(target_encoder, "_default_target", True) and target != "target"
            and column != target):
        raise ValueError(f"target={target!r} differs from the target encoder's own column "
                         f"{column!r}; name the column once")
    bind_target(target_encoder, target)


def generator_for_files(inventory_path: Any, data_path: Any, data_encoder: Any,
                        target_encoder: Any, id_mapper: Callable[[Any], Any] | None = None,
                        id: str = "id", target: str = "target",
                        binary: bool = False) -> GeneratorDataSet:
    """A data set over files: record ``r``'s data is the file
    ``data_path/id_mapper(r[id])``, opened and passed to ``data_encoder``.

    Args:
        inventory_path: the inventory CSV (or a DataFrame).
        data_path: the directory of the files.
        data_encoder: ``fn(file) -> sample`` (see :class:`~.encoders.FileDataEncoder`).
        target_encoder: the target encoder (e.g. ``LabelEncoder()``); one left at the default
            column reads ``target``.
        id_mapper: ``fn(id) -> file name``; None uses the id itself.
        id: the column of ids; target: the column of targets.
        binary: open the files in binary mode.

    Example:
        >>> import tempfile, pathlib
        >>> from ladle.compat.datagenerator.encoders import LabelEncoder
        >>> root = pathlib.Path(tempfile.mkdtemp())
        >>> for name in ("a", "b"):
        ...     _ = (root / f"{name}.txt").write_text(name * 2)
        >>> _ = (root / "inventory.csv").write_text("id,target\\na,x\\nb,y\\n")
        >>> ds = generator_for_files(root / "inventory.csv", root, lambda f: f.read(),
        ...                          LabelEncoder(), id_mapper=lambda i: i + ".txt")
        >>> data, targets = next(ds.batches(batch_size=2))
        >>> data.tolist(), targets.tolist()
        (['aa', 'bb'], [0, 1])
    """
    inventory = _inventory(inventory_path)
    _check_columns(inventory, id, target, None)
    _bind(target_encoder, target)
    _check_columns(inventory, id, target, target_encoder)
    encoder = FileDataEncoder(data_encoder, data_path, id_mapper, id=id, binary=binary)
    return GeneratorDataSet(inventory, encoder, target_encoder).fit_encoders()


def generator_for_urls(inventory_path: Any, base_url: str, data_encoder: Any, target_encoder: Any,
                       id: str = "id", target: str = "target", *,
                       id_mapper: Callable[[Any], Any] | None = None, binary: bool = False,
                       type: str | None = None, headers: dict | None = None,
                       timeout: float | None = 30.0) -> GeneratorDataSet:
    """A data set over URLs: record ``r``'s data is fetched from
    ``urljoin(base_url, id_mapper(r[id]))`` and passed to ``data_encoder``.

    Args:
        inventory_path: the inventory CSV (or a DataFrame).
        base_url: the base URL (end it with ``/`` to join below its last path segment).
        data_encoder: ``fn(content) -> sample`` (see :class:`~.encoders.UrlDataEncoder`).
        target_encoder: the target encoder; one left at the default column reads ``target``.
        id: the column of ids; target: the column of targets.
        id_mapper: ``fn(id) -> relative URL``; None uses the id itself.
        binary: fetch bytes (``type="binary"``); else text.
        type: ``"text"``, ``"json"`` or ``"binary"`` (overrides ``binary``).
        headers: HTTP headers for every request.
        timeout: seconds for one request.

    Example:
        >>> from ladle.compat.datagenerator.encoders import LabelEncoder
        >>> inv = pd.DataFrame({"id": ["a.txt"], "target": ["x"]})
        >>> ds = generator_for_urls(inv, "http://host/data/", None, LabelEncoder())
        >>> ds.data_encoder.url(ds.inventory.iloc[0])
        'http://host/data/a.txt'
    """
    inventory = _inventory(inventory_path)
    _check_columns(inventory, id, target, None)
    _bind(target_encoder, target)
    _check_columns(inventory, id, target, target_encoder)
    kind = type if type is not None else ("binary" if binary else "text")
    encoder = UrlDataEncoder(data_encoder, base_url, id_mapper, headers=headers, type=kind, id=id,
                             timeout=timeout)
    return GeneratorDataSet(inventory, encoder, target_encoder).fit_encoders()
