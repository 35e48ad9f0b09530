"""The Source protocol and helpers shared by every source.

A source gives random access to samples: ``len(source)``, ``source.fields`` (name → :class:`Field`)
and ``source.read(indices) -> dict`` of field → array, in the requested order.

Storage-backed sources read sorted, de-duplicated indices as contiguous runs and restore the
requested order (:func:`gather_runs`); they open files lazily in each process and pickle as a
spec (path, node, options), never as an open handle.

Example:
    >>> import numpy as np
    >>> from ladle.sources.base import gather_runs
    >>> data = np.arange(100) * 10
    >>> gather_runs(lambda a, b: data[a:b], np.array([42, 3, 4, 42])).tolist()
    [420, 30, 40, 420]
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, NamedTuple

import numpy as np

__all__ = ["Field", "IndexSource", "Source", "contiguous_runs", "gather_runs"]


class Field(NamedTuple):
    """dtype and per-sample shape of a field (``object`` dtype for ragged fields).

    Example:
        >>> Field(np.dtype("float32"), (3, 32, 32)).shape
        (3, 32, 32)
    """

    dtype: np.dtype
    shape: tuple[int, ...]


class Source:
    """Base class of sources: random access to samples by row id.

    Subclasses implement ``__len__``, ``fields`` and ``read(indices)``; they may set ``block_size``
    (rows read together cheaply, e.g. an HDF5 chunk) so that block-shuffled orders read whole blocks,
    and override ``close()`` to release files.

    Example:
        >>> from ladle import ArraySource
        >>> src = ArraySource(x=np.arange(4))
        >>> len(src), src.read(np.array([3, 1]))["x"].tolist()
        (4, [3, 1])
    """

    block_size: int | None = None

    def __len__(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def fields(self) -> Mapping[str, Field]:  # pragma: no cover - abstract
        raise NotImplementedError

    def read(self, indices: np.ndarray) -> dict[str, Any]:  # pragma: no cover - abstract
        """Read the samples at ``indices`` (int64, any order, repeats allowed), in that order."""
        raise NotImplementedError

    def close(self) -> None:
        """Release open files or connections (reopened lazily on the next read)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}: {f.dtype}{list(f.shape)}" for k, f in self.fields.items())
        return f"{type(self).__name__}(len={len(self)}, {{{fields}}})"


class IndexSource(Source):
    """``n`` rows without fields: its batches carry only their ``indices``.

    For index streams (a compatibility layer's own batching of ids, a sampler test): the Loader
    orders and batches the rows, the caller reads the data itself.

    Example:
        >>> src = IndexSource(4)
        >>> len(src), src.read(np.array([1, 3]))
        (4, {})
    """

    def __init__(self, n: int):
        from .._checks import check_int

        self._n = check_int("n", n, 0)

    def __len__(self) -> int:
        return self._n

    @property
    def fields(self) -> Mapping[str, Field]:
        return {}

    def read(self, indices: np.ndarray) -> dict[str, Any]:
        return {}


def contiguous_runs(rows: np.ndarray, max_gap: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(starts, stops)`` of the runs covering sorted unique ``rows``.

    Runs separated by at most ``max_gap`` unwanted rows are joined (reading a few extra rows is
    cheaper than another storage request when they lie in the same chunk).

    Example:
        >>> [a.tolist() for a in contiguous_runs(np.array([1, 2, 3, 7, 9]), max_gap=1)]
        [[1, 7], [4, 10]]
    """
    if rows.size == 0:
        return rows[:0], rows[:0]
    breaks = np.flatnonzero(np.diff(rows) > max_gap + 1) + 1
    starts = rows[np.concatenate(([0], breaks))]
    stops = rows[np.concatenate((breaks - 1, [rows.size - 1]))] + 1
    return starts, stops


def gather_runs(read_slice: Callable[[int, int], Any], indices: np.ndarray,
                max_gap: int = 0) -> np.ndarray:
    """Read ``indices`` from storage through ``read_slice(start, stop)``, one call per run.

    Indices are sorted and de-duplicated, read as contiguous runs (joined across gaps of at most
    ``max_gap`` rows), and the result is returned in the requested order, repeats included.

    Example:
        >>> data = np.arange(10)
        >>> gather_runs(lambda a, b: data[a:b], np.array([9, 0, 1])).tolist()
        [9, 0, 1]
    """
    indices = np.asarray(indices, dtype=np.int64)
    if indices.size and np.all(indices[1:] - indices[:-1] == 1):
        return np.asarray(read_slice(int(indices[0]), int(indices[-1]) + 1))
    uniq, inverse = np.unique(indices, return_inverse=True)
    starts, stops = contiguous_runs(uniq, max_gap)
    parts = [np.asarray(read_slice(int(a), int(b))) for a, b in zip(starts.tolist(), stops.tolist())]
    if not parts:
        raise ValueError("cannot read an empty selection of rows")
    block = parts[0] if len(parts) == 1 else np.concatenate(parts)
    if max_gap:
        # position of each wanted row inside the concatenated runs
        run_of = np.searchsorted(starts, uniq, side="right") - 1
        run_offset = np.concatenate(([0], np.cumsum(stops - starts)[:-1]))
        where = run_offset[run_of] + (uniq - starts[run_of])
        return block[where[inverse.reshape(-1)]]
    if uniq.size == indices.size and np.array_equal(uniq, indices):
        return block
    return block[inverse.reshape(-1)]
