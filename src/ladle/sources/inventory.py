"""InventorySource: one row per sample in a table; data loaded per row from files or URLs.

The inventory (a pandas DataFrame, a dict of columns, or a CSV/Parquet file) lists one sample per
row. Where a row's data is: ``root=`` plus a ``path=`` column, or an ``id=`` column mapped to a file
name by ``id_mapper`` (a callable or a format string such as ``"{id}.png"`` or
``"{label}/{id}.png"``), or a ``url=`` column, joined to ``base_url=`` with URL semantics. Data is
read through fsspec (local files, ``file://``, ``http(s)://`` and any filesystem fsspec supports;
HTTP with a timeout and bounded retries) and decoded by
:mod:`ladle.decoders` (several at once give several fields); targets are encoded from the row by
:mod:`ladle.encoders`, fitted on the whole inventory when the source is built.

Error policy (``on_error=``) for missing files, HTTP errors and undecodable content:

* ``"raise"`` (default): :class:`SampleError` naming the row, its id, the path or URL and the cause;
* ``"skip"``: the bad sample is replaced by **the next good sample of the same batch** (cyclically;
  every field of it, targets included), so batches keep their size; ``read`` returns a
  :class:`~ladle.Batch` whose ``skipped`` lists the bad row ids (one entry per replaced sample),
  which a :class:`~ladle.Loader` counts in ``loader.stats.skipped`` and turns into an error past
  ``max_error_ratio``. ``batch.indices`` still lists the requested rows. A batch in which every
  sample failed raises.
* ``"warn"``: as ``"skip"``, plus one :class:`SampleWarning` per replaced sample (emitted where
  the batch is read: in the worker, for process workers).

The inventory is kept as NumPy columns (:mod:`ladle.sources.inventory_columns`), never as a
DataFrame of Python objects, so process workers do not grow by copy-on-access.

Example:
    >>> import tempfile, pathlib, numpy as np, pandas as pd
    >>> from ladle.decoders import NpyDecoder
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for i in range(4):
    ...     np.save(root / f"s{i}.npy", np.full(3, i, "float32"))
    >>> df = pd.DataFrame({"id": [f"s{i}" for i in range(4)], "label": ["a", "b", "a", "b"]})
    >>> src = InventorySource(df, NpyDecoder("float32", (3,)), root=root, id="id",
    ...                       id_mapper="{id}.npy", target="label")
    >>> batch = src.read(np.array([3, 0]))
    >>> batch["x"][:, 0].tolist(), batch["y"].tolist()
    ([3.0, 0.0], [1, 0])
"""

from __future__ import annotations

import copy
import fnmatch
import os
import posixpath
import warnings
from typing import Any, Callable, Mapping, NamedTuple, Sequence

import numpy as np

from .._checks import as_index_array, check_choice
from ..batch import Batch
from ..decoders import Decoder, as_decoder, decoder_for
from ..encoders import LabelEncoder, TargetEncoder, UnknownLabelError
from ..sampling import rng
from .base import Field, Source
from .inventory_columns import (Row, StringColumn, Table, location_column, map_ids,
                                read_inventory)
from .inventory_io import (Fetcher, Locator, SampleError, SampleWarning, check_relative,
                           unique_positions)

__all__ = ["InventorySource", "SampleError", "SampleWarning", "Split"]

ON_ERROR = ("raise", "skip", "warn")
_SPLIT_STREAM = 7  # keeps split draws apart from epoch orders


class Split(NamedTuple):
    """Train, validation and test sources (None for a part of size 0).

    Example:
        >>> Split(None, None, None).val is None
        True
    """

    train: "InventorySource | None"
    val: "InventorySource | None"
    test: "InventorySource | None"


class InventorySource(Source):
    """Samples listed in a table, one per row: data read per row from files or URLs and decoded.

    Args:
        inventory: a pandas DataFrame, a dict of columns, or the path of a CSV or Parquet file.
        data: a decoder (field ``"x"``), or a dict field name → decoder, or field name →
            ``(decoder, column)`` to read that field from another path/URL column (multi-input
            models). Callables ``(data, row) -> array`` are accepted (see :mod:`ladle.decoders`).
        root: directory or fsspec URL the paths are relative to; paths escaping it are refused.
        path: column of paths (relative to ``root`` when given).
        id: column of ids, turned into paths by ``id_mapper`` (needs ``root`` or ``base_url``).
        id_mapper: callable ``id -> path`` or format string (``"{id}.png"``; other columns by name).
        url: column of URLs (absolute, or relative to ``base_url``).
        base_url: base the values are joined to with URL semantics (``urljoin``).
        target: column of the target; encoded by ``encoder`` (default :class:`LabelEncoder`) into
            field ``"y"``.
        targets: several targets: field name → ``(column, encoder)`` or → column.
        columns: inventory columns passed through as fields (strings as ``'U'`` arrays).
        on_error: ``"raise"``, ``"skip"`` or ``"warn"`` (see the module docs).
        timeout, retries, retry_wait, storage_options, concurrency: remote reads (see
            :class:`~ladle.sources.inventory_io.Fetcher`).
        read_options: keyword arguments for ``pandas.read_csv``/``read_parquet``.

    Encoders not yet fitted are fitted on the whole inventory here; fitted ones are used as is.

    Example:
        >>> src = InventorySource({"v": [1.5, 2.5], "c": ["p", "q"]}, target="c", columns=["v"])
        >>> src.read(np.array([1]))["v"].tolist(), src.encoders["y"].classes_.tolist()
        ([2.5], ['p', 'q'])
    """

    def __init__(self, inventory: Any, data: Any = None, *, root: Any = None,
                 path: str | None = None, id: str | None = None,
                 id_mapper: Callable[[Any], str] | str | None = None, url: str | None = None,
                 base_url: str | None = None, target: str | None = None,
                 encoder: TargetEncoder | None = None,
                 targets: Mapping[str, Any] | None = None, columns: Sequence[str] = (),
                 on_error: str = "raise", timeout: float | None = 30.0, retries: int = 2,
                 retry_wait: float = 0.5, storage_options: dict | None = None,
                 concurrency: int = 32, read_options: Mapping[str, Any] | None = None):
        self.on_error = check_choice("on_error", on_error, ON_ERROR)
        self._fetcher = Fetcher(timeout, retries, retry_wait, storage_options, concurrency)
        decoders = self._decoder_spec(data)
        text_cols = [c for c in (path, id, url) if c] + [c for _, c in decoders.values() if c]
        frame = read_inventory(inventory, read_options or {}, text_cols)
        self._table = Table.from_frame(frame)
        self._n = self._table.n

        given = [k for k, v in (("path", path), ("id", id), ("url", url)) if v is not None]
        if len(given) > 1:
            raise ValueError(f"give one of path=, id= or url= for where the data is, got {given}")
        if root is not None and base_url is not None:
            raise ValueError("give root= (paths below a directory or URL) or base_url= (URLs "
                             "joined with URL semantics), not both")
        if id is not None and root is None and base_url is None:
            raise ValueError(f"id={id!r} needs root= or base_url= to find the files")
        if id_mapper is not None and id is None:
            raise ValueError("id_mapper= maps the id= column; give id= too")
        if root is not None:
            self._locator = Locator.for_root(root)
        elif base_url is not None:
            self._locator = Locator.for_base_url(base_url)
        else:
            self._locator = Locator.plain()
        self._ident = id
        self._locs: dict[str | None, StringColumn] = {}
        main = id if id is not None else (path if path is not None else url)
        if main is not None:
            col = (StringColumn.from_values(map_ids(self._table, id, id_mapper), id)
                   if id is not None else location_column(self._table, main))
            self._add_location(None, col, f"column {main!r}")
        self._decoders: dict[str, tuple[Decoder, str | None]] = {}
        for name, (dec, col_name) in decoders.items():
            if dec.input != "row":
                if col_name is None and main is None:
                    raise ValueError(f"field {name!r} reads files but no path=, id= or url= column "
                                     "says where they are")
                if col_name is not None and col_name not in self._locs:
                    self._add_location(col_name, location_column(self._table, col_name),
                                       f"column {col_name!r}")
            if dec.batch and dec.input == "file":
                raise ValueError(f"field {name!r}: batch decoders take input='bytes' or 'row'")
            self._decoders[name] = (dec, col_name)

        spec = dict(targets or {})
        if target is not None:
            if "y" in spec:
                raise ValueError("target= makes field 'y', which targets= also names; use one")
            spec["y"] = (target, encoder)
        elif encoder is not None:
            raise ValueError("encoder= encodes the target= column; give target= too")
        self._targets: dict[str, tuple[str, TargetEncoder]] = {}
        self._codes: dict[str, np.ndarray] = {}
        rows = np.arange(self._n, dtype=np.int64)
        for name, item in spec.items():
            col_name, enc = (item, None) if isinstance(item, str) else item
            enc = LabelEncoder() if enc is None else enc
            if not isinstance(enc, TargetEncoder):
                raise TypeError(f"encoder of {name!r} is {enc!r}; give a ladle.encoders encoder")
            values = self._table.values(col_name)
            try:
                if not enc.fitted:
                    enc.fit(values, rows)
                codes = np.asarray(enc.to_codes(values, rows))
            except UnknownLabelError as exc:
                raise UnknownLabelError(exc.label, exc.row, enc.classes_.tolist(),
                                        column=col_name) from None
            except (ValueError, TypeError) as exc:
                kind = ValueError if isinstance(exc, ValueError) else TypeError
                raise kind(f"column {col_name!r}: {exc}") from exc
            if codes.dtype == object:
                raise TypeError(f"{enc!r} gave Python objects for column {col_name!r}; an "
                                "encoder's to_codes must return a numeric or fixed-width array")
            self._targets[name] = (col_name, enc)
            self._codes[name] = codes
        self._columns = [str(c) for c in columns]
        self._fields = self._make_fields()

    # ------------------------------------------------------------------ construction helpers
    @staticmethod
    def _decoder_spec(data: Any) -> dict[str, tuple[Decoder, str | None]]:
        if data is None:
            return {}
        if not isinstance(data, Mapping):
            data = {"x": data}
        out = {}
        for name, item in data.items():
            if isinstance(item, tuple):
                if len(item) != 2 or not isinstance(item[1], str):
                    raise TypeError(f"data[{name!r}] must be a decoder or (decoder, column), got "
                                    f"{item!r}")
                out[str(name)] = (as_decoder(item[0]), item[1])
            else:
                out[str(name)] = (as_decoder(item), None)
        return out

    def _add_location(self, key: str | None, col: StringColumn, what: str) -> None:
        if self._locator.kind == "root":
            check_relative(col, what, self._locator.base)
        self._locs[key] = col

    def _make_fields(self) -> dict[str, Field]:
        fields: dict[str, Field] = {}

        def add(name: str, f: Field) -> None:
            if name in fields:
                raise ValueError(f"field {name!r} is made twice (by data=, targets= or columns=); "
                                 "rename one")
            fields[name] = f

        for name, (dec, _) in self._decoders.items():
            add(name, dec.field)
            for suffix, f in dec.extras.items():
                add(f"{name}_{suffix}", f)
        for name, (_, enc) in self._targets.items():
            add(name, enc.field)
        for c in self._columns:
            col = self._table[c]
            add(c, Field(col.dtype, col.shape[1:]) if isinstance(col, np.ndarray) else col.field)
        return fields

    # ------------------------------------------------------------------ Source protocol
    def __len__(self) -> int:
        return self._n

    @property
    def fields(self) -> Mapping[str, Field]:
        return self._fields

    @property
    def encoders(self) -> dict[str, TargetEncoder]:
        """The fitted target encoders, by field name."""
        return {name: enc for name, (_, enc) in self._targets.items()}

    def column(self, name: str) -> Any:
        """A whole inventory column as NumPy (``'U'`` for strings), e.g. for ``ClassBalanced``.

        Example:
            >>> InventorySource({"c": ["a", "b"]}).column("c").tolist()
            ['a', 'b']
        """
        return self._table.values(name)

    def locations(self, indices: Any, field: str | None = None) -> list[str]:
        """The full paths or URLs of rows (of a data field's column when ``field`` is given)."""
        key = None if field is None else self._decoders[field][1]
        idx = as_index_array("indices", indices, self._n)
        return [self._locator.resolve(s) for s in self._locs[key].strings(idx)]

    def read(self, indices: np.ndarray) -> Batch:
        """Read, decode and encode the rows at ``indices`` (see the module docs for bad rows).

        Example:
            >>> InventorySource({"c": ["a", "b"]}, target="c").read(np.array([1, 1]))["y"].tolist()
            [1, 1]
        """
        idx = as_index_array("indices", indices, self._n)
        n = idx.size
        table = self._table
        rows = [Row(table, i) for i in idx.tolist()]
        bad: dict[int, SampleError] = {}
        fetched: dict[str | None, tuple[list[str], list[Any]]] = {}
        for key in {k for d, k in self._decoders.values() if d.input != "row"}:
            locs = [self._locator.resolve(s) for s in self._locs[key].strings(idx)]
            items: list[Any] = [None] * n
            if any(d.input == "bytes" for d, k in self._decoders.values() if k == key):
                uniq, pos = unique_positions(locs)
                content = self._fetcher.fetch(uniq)
                items = [content[p] for p in pos.tolist()]
                for i, item in enumerate(items):
                    if isinstance(item, BaseException) and i not in bad:
                        bad[i] = self._error(idx[i], locs[i], item)
            fetched[key] = (locs, items)

        samples: dict[str, list[Any]] = {}
        extras: dict[str, dict[str, list[Any]]] = {}
        for name, (dec, key) in self._decoders.items():
            if dec.batch:
                continue
            locs, items = fetched.get(key, ([None] * n, [None] * n))
            out: list[Any] = [None] * n
            more: dict[str, list[Any]] = {s: [None] * n for s in dec.extras}
            for i in range(n):
                if i in bad:
                    continue
                try:
                    out[i], got = self._decode_one(dec, locs[i], items[i], rows[i])
                    for s in more:
                        more[s][i] = got[s]
                except Exception as exc:
                    bad[i] = self._error(idx[i], locs[i], exc, field=name)
            samples[name], extras[name] = out, more

        src = np.arange(n)
        if bad:
            src = self._replacements(idx, bad)
        eff = idx[src]
        eff_rows = [rows[j] for j in src.tolist()]
        result: dict[str, Any] = {}
        for name, (dec, key) in self._decoders.items():
            if dec.batch:
                items = fetched.get(key, (None, [None] * n))[1]
                try:
                    value = dec.decode_batch([items[j] for j in src.tolist()], eff_rows)
                except Exception as exc:
                    raise RuntimeError(f"batch decoder {dec!r} of field {name!r} failed on rows "
                                       f"{eff.tolist()[:16]}: {type(exc).__name__}: {exc}") from exc
                main = value[""] if isinstance(value, dict) else value
                result[name] = main
                for s in dec.extras:
                    result[f"{name}_{s}"] = np.asarray(value[s])
                continue
            result[name] = dec.collate([samples[name][j] for j in src.tolist()], eff_rows)
            for s, values in extras[name].items():
                f = dec.extras[s]
                result[f"{name}_{s}"] = np.asarray([values[j] for j in src.tolist()], dtype=f.dtype)
        for name, (_, enc) in self._targets.items():
            result[name] = enc.from_codes(self._codes[name][eff])
        for c in self._columns:
            result[c] = table.take(c, eff)
        skipped = idx[np.array(sorted(bad), dtype=np.int64)] if bad else None
        return Batch(result, idx, skipped=skipped)

    def _decode_one(self, dec: Decoder, loc: str | None, item: Any, row: Row) -> tuple[Any, Any]:
        if dec.input == "file":
            with self._fetcher.open(loc) as f:
                got = dec.decode(f, row)
        else:
            got = dec.decode(item if dec.input == "bytes" else None, row)
        main = got[""] if dec.extras else got
        return dec.check(main), got

    def _error(self, row: int, loc: str | None, exc: BaseException,
               field: str | None = None) -> SampleError:
        ident = None if self._ident is None else self._table.row(int(row))[self._ident]
        err = SampleError(int(row), loc, exc, ident=ident, field=field)
        err.__cause__ = exc
        return err

    def _replacements(self, idx: np.ndarray, bad: dict[int, SampleError]) -> np.ndarray:
        """Position each sample is taken from: itself, or the next good sample (cyclically)."""
        first = bad[min(bad)]
        if self.on_error == "raise":
            more = f" ({len(bad) - 1} more bad rows in this batch)" if len(bad) > 1 else ""
            raise SampleError(first.row, first.location, first.cause_text + more, first.ident,
                              first.field) from first.__cause__
        bad_pos = np.array(sorted(bad), dtype=np.int64)
        good = np.setdiff1d(np.arange(idx.size), bad_pos)
        if good.size == 0:
            raise RuntimeError(f"every sample of the batch failed, so none can replace the others "
                               f"(on_error={self.on_error!r}); first: {first}") from first
        src = np.arange(idx.size)
        src[bad_pos] = good[np.searchsorted(good, bad_pos) % good.size]
        if self.on_error == "warn":
            for b in bad_pos.tolist():
                warnings.warn(f"{bad[b]}; replaced by row {int(idx[src[b]])}", SampleWarning,
                              stacklevel=3)
        return src

    # ------------------------------------------------------------------ subsets and splits
    def subset(self, rows: Any) -> "InventorySource":
        """A source of the given rows (in that order), sharing decoders and fitted encoders.

        Example:
            >>> InventorySource({"c": ["a", "b", "c"]}, columns=["c"]).subset([2]).read([0])["c"]
            array(['c'], dtype='<U1')
        """
        rows = as_index_array("rows", rows, self._n)
        out = copy.copy(self)
        out._table = self._table.subset(rows)
        out._locs = {k: v.subset(rows) for k, v in self._locs.items()}
        out._codes = {k: v[rows] for k, v in self._codes.items()}
        out._n = int(rows.size)
        return out

    def split(self, train: float | int | None = None, val: float | int = 0,
              test: float | int = 0, *, stratify: Any = None, seed: int = 0) -> Split:
        """Reproducible train/validation/test sources; fractions (or row counts) of the rows.

        Floats are fractions, ints row counts; ``train=None`` takes the rest. ``stratify`` (a column
        name or one label per row) keeps each class's share equal across the parts (within one row
        per class). Parts keep the inventory's row order; an empty part is None.

        Example:
            >>> src = InventorySource({"c": list("aabbaabbab")}, columns=["c"])
            >>> parts = src.split(val=0.2, test=0.2, stratify="c", seed=1)
            >>> [len(p) for p in parts]
            [6, 2, 2]
        """
        n = self._n
        steps = []
        for name, v in (("train", train), ("val", val), ("test", test)):
            if v is None:
                steps.append(None)
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
                raise TypeError(f"{name}={v!r} must be a fraction (float) or a row count (int)")
            if v < 0 or (isinstance(v, (float, np.floating)) and v > 1):
                raise ValueError(f"{name}={v!r} must be a fraction in [0, 1] or a row count >= 0")
            steps.append(float(v) * n if isinstance(v, (float, np.floating)) else float(v))
        if steps[0] is None:
            steps[0] = n - steps[1] - steps[2]
            if steps[0] < -0.5:
                raise ValueError(f"val={val!r} and test={test!r} take more than the {n} rows")
        edges = np.rint(np.cumsum([0.0] + steps)).astype(np.int64)
        if edges[-1] != n:
            raise ValueError(f"train={train!r}, val={val!r}, test={test!r} cover {edges[-1]} of "
                             f"{n} rows; make them sum to 1 (or to the row count), or leave "
                             "train=None to take the rest")
        gen = rng(int(seed), 0, _SPLIT_STREAM)
        perm = gen.permutation(n)
        if stratify is not None:
            labels = np.asarray(self.column(stratify) if isinstance(stratify, str) else stratify)
            if labels.shape != (n,):
                raise ValueError(f"stratify has shape {labels.shape}; give a column name or one "
                                 f"label per row ({n})")
            codes = np.unique(labels.astype(str) if labels.dtype == object else labels,
                              return_inverse=True)[1].reshape(-1)[perm]
            counts_c = np.bincount(codes)
            order = np.argsort(codes, kind="stable")
            rank = np.empty(n)
            rank[order] = np.arange(n) - np.repeat(np.cumsum(counts_c) - counts_c, counts_c)
            key = (rank + gen.random(n)) / counts_c[codes]
            perm = perm[np.argsort(key, kind="stable")]
        parts = [np.sort(perm[a:b]) for a, b in zip(edges[:-1], edges[1:])]
        return Split(*(self.subset(p) if p.size else None for p in parts))

    # ------------------------------------------------------------------ directories
    @classmethod
    def from_directory(cls, root: Any, pattern: str | Sequence[str] = "*.png",
                       label: str | Callable[[str], Any] | None = "parent", data: Any = None,
                       **kwargs: Any) -> "InventorySource":
        """Every file under ``root`` whose name matches ``pattern`` (case-insensitive), sorted.

        ``label="parent"`` takes each file's folder name as its label (class folders, as Keras'
        ``flow_from_directory``), a callable ``relative_path -> label`` computes it, None gives no
        target. ``data`` defaults to a decoder chosen by the extension; other keywords go to the
        constructor (``target`` defaults to the ``"label"`` column, encoded by ``LabelEncoder``).

        Example:
            >>> import tempfile, pathlib
            >>> root = pathlib.Path(tempfile.mkdtemp())
            >>> for p in ("cat/1.txt", "dog/2.txt"):
            ...     (root / p).parent.mkdir(exist_ok=True); _ = (root / p).write_text(p)
            >>> src = InventorySource.from_directory(root, "*.txt")
            >>> src.read([1])["x"].tolist(), src.encoders["y"].classes_.tolist()
            (['dog/2.txt'], ['cat', 'dog'])
        """
        from fsspec.core import url_to_fs

        fs, base = url_to_fs(os.fspath(root))
        base = base.rstrip("/")
        patterns = [pattern] if isinstance(pattern, str) else list(pattern)
        patterns = [p.lower() for p in patterns]
        def wanted(p: str) -> bool:
            name = posixpath.basename(p).lower()
            return any(fnmatch.fnmatchcase(name, q) for q in patterns)

        rel = sorted(p[len(base):].lstrip("/") for p in fs.find(base) if wanted(p))
        if not rel:
            raise FileNotFoundError(f"no file under root={os.fspath(root)!r} matches {pattern!r}")
        columns: dict[str, Any] = {"path": rel}
        if label == "parent":
            labels = [posixpath.basename(posixpath.dirname(r)) for r in rel]
            loose = next((r for r, lab in zip(rel, labels) if not lab), None)
            if loose is not None:
                raise ValueError(f"{loose!r} is not in a class folder under the root; move it into "
                                 "one, or pass label=None or a callable")
            columns["label"] = labels
        elif callable(label):
            columns["label"] = [label(r) for r in rel]
        elif label is not None:
            raise ValueError(f"label={label!r} must be 'parent', a callable or None")
        if label is not None:
            kwargs.setdefault("target", "label")
        return cls(columns, decoder_for(rel[0]) if data is None else data, root=root, path="path",
                   **kwargs)

    def __repr__(self) -> str:
        return (f"InventorySource(len={self._n}, fields={list(self._fields)}, "
                f"on_error={self.on_error!r})")

