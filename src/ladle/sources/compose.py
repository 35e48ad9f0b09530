"""Composition of sources: side by side (zip), one after another (concat), drawn with weights (mix).

Example:
    >>> import numpy as np
    >>> from ladle import ArraySource, concat, zip_sources
    >>> both = zip_sources(ArraySource(x=np.arange(3)), ArraySource(y=np.arange(3) * 10))
    >>> both.read(np.array([2]))["y"].tolist()
    [20]
    >>> len(concat([ArraySource(x=np.arange(3)), ArraySource(x=np.arange(4))]))
    7
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from .._checks import as_weights, check_int
from ..sampling import Order, Weighted
from .array import ArraySource
from .base import Field, Source

__all__ = ["ConcatSource", "MixSource", "ZipSource", "concat", "mix", "zip_sources"]


def _as_source(obj: Any) -> Source:
    if isinstance(obj, Source):
        return obj
    return ArraySource(obj)


class ZipSource(Source):
    """Fields of several sources of equal length, side by side (row ``i`` of each).

    Example:
        >>> src = ZipSource(ArraySource(x=np.zeros(2)), ArraySource(y=np.ones(2)))
        >>> sorted(src.fields)
        ['x', 'y']
    """

    def __init__(self, *sources: Source):
        if not sources:
            raise ValueError("zip_sources needs at least one source")
        self.sources = [_as_source(s) for s in sources]
        lengths = [len(s) for s in self.sources]
        if len(set(lengths)) > 1:
            raise ValueError(f"zipped sources must have equal lengths, got {lengths}")
        seen: dict[str, int] = {}
        for i, s in enumerate(self.sources):
            for name in s.fields:
                if name in seen:
                    raise ValueError(f"field {name!r} is in source {seen[name]} and source {i}; "
                                     "rename one so zipped fields are unique")
                seen[name] = i
        self._n = lengths[0]
        self.block_size = min((s.block_size for s in self.sources if s.block_size), default=None)

    def __len__(self) -> int:
        return self._n

    @property
    def fields(self) -> Mapping[str, Field]:
        return {k: f for s in self.sources for k, f in s.fields.items()}

    def read(self, indices: np.ndarray) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for s in self.sources:
            out.update(s.read(indices))
        return out

    def close(self) -> None:
        for s in self.sources:
            s.close()


class ConcatSource(Source):
    """Sources with the same fields, one after another: rows of source 1 follow those of source 0.

    Example:
        >>> src = ConcatSource([ArraySource(x=np.arange(2)), ArraySource(x=np.arange(5, 8))])
        >>> src.read(np.array([4, 0]))["x"].tolist()
        [7, 0]
    """

    def __init__(self, sources: Sequence[Any]):
        if not sources:
            raise ValueError("concat needs at least one source")
        self.sources = [_as_source(s) for s in sources]
        names = [sorted(s.fields) for s in self.sources]
        for i, n in enumerate(names[1:], 1):
            if n != names[0]:
                raise ValueError(f"concatenated sources need the same fields: source 0 has "
                                 f"{names[0]}, source {i} has {n}")
        self.lengths = np.array([len(s) for s in self.sources], dtype=np.int64)
        self.offsets = np.concatenate(([0], np.cumsum(self.lengths)))

    def __len__(self) -> int:
        return int(self.offsets[-1])

    @property
    def fields(self) -> Mapping[str, Field]:
        return self.sources[0].fields

    def read(self, indices: np.ndarray) -> dict[str, Any]:
        which = np.searchsorted(self.offsets, indices, side="right") - 1
        parts = []
        for i in np.unique(which).tolist():
            pos = np.flatnonzero(which == i)
            parts.append((pos, self.sources[i].read(indices[pos] - self.offsets[i])))
        if len(parts) == 1:
            return parts[0][1]
        out: dict[str, Any] = {}
        for name in parts[0][1]:
            first = np.asarray(parts[0][1][name])
            if first.dtype == object or any(np.shape(p[1][name])[1:] != first.shape[1:] for p in parts):
                col = np.empty(len(indices), dtype=object)
                for pos, data in parts:
                    col[pos] = list(data[name])
            else:
                col = np.empty((len(indices),) + first.shape[1:], dtype=np.result_type(
                    *[np.asarray(p[1][name]).dtype for p in parts]))
                for pos, data in parts:
                    col[pos] = data[name]
            out[name] = col
        return out

    def close(self) -> None:
        for s in self.sources:
            s.close()


class MixSource(ConcatSource):
    """Several sources drawn with weights: source ``i`` supplies a share ``weights[i]`` of each epoch.

    Its default order (used by a :class:`~ladle.Loader` given no ``order``) draws rows with
    replacement, each source's rows equally likely among themselves; ``num_samples`` (default: the
    total length) sets the epoch length. Useful for e.g. labeled + unlabeled data of different sizes.

    Example:
        >>> src = MixSource([ArraySource(x=np.zeros(90)), ArraySource(x=np.ones(10))], [0.5, 0.5])
        >>> src.default_order().length(len(src))
        100
    """

    def __init__(self, sources: Sequence[Any], weights: Sequence[float] | None = None,
                 num_samples: int | None = None):
        super().__init__(sources)
        w = np.ones(len(self.sources)) if weights is None else as_weights("weights", weights)
        if w.size != len(self.sources):
            raise ValueError(f"weights has {w.size} entries for {len(self.sources)} sources")
        if (self.lengths == 0).any() and (w[self.lengths == 0] > 0).any():
            raise ValueError("a source with a positive weight is empty")
        self.weights = w / w.sum()
        self.num_samples = None if num_samples is None else check_int("num_samples", num_samples, 1)

    def row_weights(self) -> np.ndarray:
        """Per-row sampling weights: ``weights[i] / len(source i)`` for the rows of source ``i``."""
        per_row = np.divide(self.weights, self.lengths, out=np.zeros_like(self.weights),
                            where=self.lengths > 0)
        return np.repeat(per_row, self.lengths)

    def default_order(self) -> Order:
        """The weighted order this mix is meant to be read with."""
        return Weighted(self.row_weights(), self.num_samples or len(self), replacement=True)


def zip_sources(*sources: Any) -> ZipSource:
    """Fields of equal-length sources side by side. See :class:`ZipSource`.

    Example:
        >>> sorted(zip_sources(ArraySource(a=[1]), ArraySource(b=[2])).fields)
        ['a', 'b']
    """
    return ZipSource(*sources)


def concat(sources: Sequence[Any]) -> ConcatSource:
    """Sources with the same fields, one after the other. See :class:`ConcatSource`.

    Example:
        >>> len(concat([ArraySource(a=[1]), ArraySource(a=[2, 3])]))
        3
    """
    return ConcatSource(sources)


def mix(sources: Sequence[Any], weights: Sequence[float] | None = None,
        num_samples: int | None = None) -> MixSource:
    """Sources drawn with weights per epoch. See :class:`MixSource`.

    Example:
        >>> mix([ArraySource(a=[1]), ArraySource(a=[2, 3])], [1, 1]).weights.tolist()
        [0.5, 0.5]
    """
    return MixSource(sources, weights, num_samples)

