"""Gathering per-batch results over an epoch: concatenation and sample-weighted means.

Shared by :meth:`ladle.Loader.map_concat`/:meth:`~ladle.Loader.map_mean` and batchup's
``batch_map_concat``/``batch_map_mean`` layer.

Example:
    >>> import numpy as np
    >>> concat_results([(np.arange(2),), (np.arange(2, 4),)])
    (array([0, 1, 2, 3]),)
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

__all__ = ["concat_results", "mean_results"]


def concat_results(results: Iterable[tuple | None]) -> tuple:
    """Concatenate, along axis 0, the i-th array of every result tuple; ``()`` when there are none.

    ``None`` results are ignored.

    Example:
        >>> concat_results([(np.zeros(1), np.ones(2)), None, (np.zeros(2), np.ones(1))])[1]
        array([1., 1., 1.])
    """
    chunks = [r for r in results if r is not None]
    if not chunks or not chunks[0]:
        return ()
    return tuple(np.concatenate([np.asarray(c[i]) for c in chunks], axis=0)
                 for i in range(len(chunks[0])))


def mean_results(results: Iterable[tuple[tuple | None, int]], sum_axis: int | None = None) -> tuple:
    """Totals of per-batch results divided by the number of samples (batchup's convention).

    Each item is ``(result tuple or None, batch size)``. Results are per-batch sums, or, with
    ``sum_axis``, per-sample values summed along that axis first. ``()`` when there are none.

    Example:
        >>> mean_results([((np.float64(3.0),), 2), ((np.float64(1.0),), 2)])
        (np.float64(1.0),)
    """
    totals: list[Any] | None = None
    count = 0
    for res, size in results:
        count += size
        if res is None:
            continue
        if sum_axis is not None:
            res = tuple(np.sum(r, axis=sum_axis) for r in res)
        res = [np.asarray(r, dtype=np.float64) for r in res]
        totals = res if totals is None else [t + r for t, r in zip(totals, res)]
    if totals is None:
        return ()
    return tuple((t / count)[()] for t in totals)
