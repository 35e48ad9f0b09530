"""Batching: pure functions that cut an epoch's index stream into batches.

The five systems ladle replaces disagree on the last partial batch, so every policy is offered by name:

=================  ===========================================================  =====================
``last_batch=``    meaning                                                      who does this
=================  ===========================================================  =====================
``"short"``        keep the short last batch                                    batchup, Keras ceil
``"drop"``         drop it (counted in ``loader.stats.dropped``)                datagenerator, Keras floor
``"merge"``        append the remainder to the previous batch                   ketos
``"carry"``        complete it from the next epoch (batches cross epochs)       batchflow, batchup repeats
=================  ===========================================================  =====================

Batch size larger than an epoch: ``"short"`` and ``"merge"`` give one batch of the whole epoch,
``"carry"`` fills batches from the following epochs, ``"drop"`` raises (it would yield nothing).

``n_extend`` (ketos) widens every batch by ``n`` positions before and after it; the first batch
grows only forward, the last only backward, and no extension reaches into a merged remainder.

Positions are offsets into the epoch's index array; the loader maps them to row ids.

Example:
    >>> from ladle.batching import batch_bounds
    >>> starts, stops = batch_bounds(20, 6, "merge", n_extend=2)
    >>> list(zip(starts.tolist(), stops.tolist()))
    [(0, 8), (4, 14), (10, 20)]
"""

from __future__ import annotations

import numpy as np

from ._checks import check_choice, check_int

__all__ = ["LAST_BATCH", "batch_bounds", "carry_owned", "num_batches", "split"]

LAST_BATCH = ("short", "drop", "merge", "carry")


def num_batches(n: int, batch_size: int, last_batch: str = "short") -> int:
    """Batches in an epoch of ``n`` samples (for ``"carry"``: the average, ``n / batch_size``, floored).

    Example:
        >>> num_batches(20, 6, "short"), num_batches(20, 6, "drop"), num_batches(20, 6, "merge")
        (4, 3, 3)
    """
    n = check_int("n", n, 0)
    batch_size = check_int("batch_size", batch_size, 1)
    check_choice("last_batch", last_batch, LAST_BATCH)
    if last_batch == "short":
        return -(-n // batch_size)
    if last_batch == "merge":
        return max(n // batch_size, 1) if n else 0
    return n // batch_size


def check_policy(n: int, batch_size: int, last_batch: str, n_extend: int = 0) -> None:
    """Raise a clear error for a combination that would give no batch or is undefined.

    Example:
        >>> check_policy(10, 4, "drop")
    """
    check_int("batch_size", batch_size, 1)
    check_int("n_extend", n_extend, 0)
    check_choice("last_batch", last_batch, LAST_BATCH)
    if last_batch == "drop" and 0 < n < batch_size:
        raise ValueError(
            f"batch_size={batch_size} is larger than the {n} samples of an epoch, and "
            "last_batch='drop' would yield no batch at all: lower batch_size or use "
            "last_batch='short' or 'merge'")
    if last_batch == "carry" and n_extend:
        raise ValueError(f"n_extend={n_extend} cannot be combined with last_batch='carry'; "
                         "use 'merge' (as ketos does), 'short' or 'drop'")


def batch_bounds(n: int, batch_size: int, last_batch: str = "short",
                 n_extend: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Start and stop positions (int64 arrays) of every batch of one epoch of ``n`` samples.

    Not for ``"carry"``, whose batches cross epochs (see :func:`carry_owned`).

    Example:
        >>> starts, stops = batch_bounds(11, 3, "merge")
        >>> list(zip(starts.tolist(), stops.tolist()))
        [(0, 3), (3, 6), (6, 11)]
    """
    check_policy(n, batch_size, last_batch, n_extend)
    if last_batch == "carry":
        raise ValueError("last_batch='carry' has no per-epoch bounds; use carry_owned()")
    nb = num_batches(n, batch_size, last_batch)
    starts = np.arange(nb, dtype=np.int64) * batch_size
    stops = np.minimum(starts + batch_size, n)
    if last_batch == "merge" and nb:
        stops[-1] = n
    if n_extend and nb > 1:
        # Up to n_extend positions each way (as ketos), never before position 0, and never past
        # the last batch's own batch_size rows, so never into a merged remainder; the last batch
        # is extended only backward, the first only forward.
        limit = min(int(starts[-1]) + batch_size, n)
        ext_starts = np.maximum(starts - n_extend, 0)
        ext_stops = np.minimum(stops + n_extend, limit)
        ext_stops[-1] = stops[-1]
        return ext_starts, ext_stops
    return starts, stops


def carry_owned(epoch_length: int, batch_size: int, epoch: int) -> tuple[int, int]:
    """Global batch numbers ``[first, stop)`` that epoch ``epoch`` owns under ``"carry"``.

    The stream is all epochs back to back; global batch ``k`` covers stream positions
    ``[k * batch_size, (k + 1) * batch_size)`` and belongs to the epoch in which it starts.

    Example:
        >>> [carry_owned(4, 3, e) for e in range(3)]
        [(0, 2), (2, 3), (3, 4)]
    """
    first = -(-epoch * epoch_length // batch_size)
    stop = -(-(epoch + 1) * epoch_length // batch_size)
    return first, stop


def split(indices: np.ndarray, batch_size: int, last_batch: str = "short",
          n_extend: int = 0) -> list[np.ndarray]:
    """Cut one epoch's ``indices`` into batches (a convenience over :func:`batch_bounds`).

    Example:
        >>> [b.tolist() for b in split(np.arange(5), 2)]
        [[0, 1], [2, 3], [4]]
    """
    indices = np.asarray(indices)
    starts, stops = batch_bounds(indices.size, batch_size, last_batch, n_extend)
    return [indices[a:b] for a, b in zip(starts.tolist(), stops.tolist())]
