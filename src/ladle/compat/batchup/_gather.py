"""Gathering results over batches: batchup's ``batch_map_concat`` and ``batch_map_mean``
(re-exported by :mod:`ladle.compat.batchup.data_source`).

Example:
    >>> import numpy as np
    >>> batch_map_concat(lambda x: (x + 1,), iter([(np.arange(2),)]))
    (array([1, 2]),)
"""

from __future__ import annotations

import numbers
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from ..._checks import check_int
from ...reduce import concat_results, mean_results

__all__ = ["batch_map_concat", "batch_map_mean"]


def _results(value: Any) -> tuple | None:
    if value is None:
        return None
    if isinstance(value, (np.ndarray, np.generic, numbers.Number)):
        return (value,)
    if isinstance(value, (tuple, list)):
        return tuple(value)
    raise TypeError(f"the batch function returned a {type(value).__name__}; it must return a "
                    "tuple (or list) of results, a single NumPy array or number, or None")


def _batch_length(batch: Any) -> int:
    if isinstance(batch, (tuple, list)):
        return _batch_length(batch[0]) if batch else 0
    return len(batch)


def _mapped(func: Callable, batch_iter: Any, progress_iter_func: Any, n_batches: int | None,
            prepend_args: Sequence | None) -> Iterator[tuple[tuple | None, int]]:
    if n_batches is not None:
        n_batches = check_int("n_batches", n_batches, 0)
    if progress_iter_func is not None:
        batch_iter = progress_iter_func(batch_iter, total=n_batches, leave=False)
    done = 0
    if n_batches == 0:
        return
    for batch in batch_iter:
        args = tuple(batch) if isinstance(batch, (tuple, list)) else (batch,)
        if prepend_args is not None:
            args = tuple(prepend_args) + args
        yield _results(func(*args)), _batch_length(batch)
        done += 1
        if n_batches is not None and done >= n_batches:
            break


def batch_map_concat(func: Callable, batch_iter: Any, progress_iter_func: Any = None,
                     n_batches: int | None = None, prepend_args: Sequence | None = None) -> tuple:
    """Apply ``func(*batch)`` to every batch of ``batch_iter``; concatenate the results (axis 0).

    ``func`` returns a tuple (or list) of arrays, one array, or None. The result is a tuple of
    concatenated arrays, ``()`` when ``func`` returned nothing. ``progress_iter_func`` (e.g.
    ``tqdm.tqdm``) wraps the iterator as ``f(it, total=n_batches, leave=False)``.

    Example:
        >>> batch_map_concat(lambda x: x * 2, iter([(np.arange(2),), (np.arange(2, 3),)]))
        (array([0, 2, 4]),)
    """
    return concat_results(res for res, _ in _mapped(func, batch_iter, progress_iter_func,
                                                    n_batches, prepend_args))


def batch_map_mean(func: Callable, batch_iter: Any, progress_iter_func: Any = None,
                   sum_axis: int | None = None, n_batches: int | None = None,
                   prepend_args: Sequence | None = None) -> tuple:
    """Totals of what ``func(*batch)`` returns per batch, divided by the number of samples.

    ``func`` returns per-batch sums (e.g. ``[log_loss_sum, err_count]``), or, with ``sum_axis``,
    per-sample values summed along that axis. The result is a tuple of means (``()`` when ``func``
    returned nothing).

    Example:
        >>> batch_map_mean(lambda x: [x.sum()], iter([(np.arange(3.0),), (np.arange(3.0, 4.0),)]))
        (np.float64(1.5),)
    """
    return mean_results(_mapped(func, batch_iter, progress_iter_func, n_batches, prepend_args),
                        sum_axis)
