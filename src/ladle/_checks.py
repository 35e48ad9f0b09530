"""Argument validation shared by the core modules.

Every check raises an error that names the value, what was expected and, where there is one, the fix.
"""

from __future__ import annotations

import numbers
from typing import Any, Iterable

import numpy as np


def check_int(name: str, value: Any, minimum: int | None = None) -> int:
    """Return ``value`` as an int, or raise naming ``name`` and the bound.

    Example:
        >>> check_int("batch_size", 4, minimum=1)
        4
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}={value!r} must be an integer")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name}={value!r} must be >= {minimum}")
    return value


def check_choice(name: str, value: Any, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise listing them.

    Example:
        >>> check_choice("last_batch", "drop", ("short", "drop"))
        'drop'
    """
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"{name}={value!r} is not one of {', '.join(map(repr, choices))}")
    return value


def check_seed(seed: Any) -> int:
    """Return a non-negative integer seed; ``None`` draws fresh entropy (kept so it can be saved).

    Example:
        >>> check_seed(3)
        3
    """
    if seed is None:
        return int(np.random.SeedSequence().entropy)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed={seed!r} must be a non-negative integer or None")
    return int(seed)


def as_index_array(name: str, indices: Any, n: int | None = None) -> np.ndarray:
    """Return ``indices`` as a 1-D int64 array, checking the range ``[0, n)`` when ``n`` is given.

    Example:
        >>> as_index_array("indices", [2, 0], n=3)
        array([2, 0])
    """
    arr = np.asarray(indices)
    if arr.dtype == bool:
        raise TypeError(f"{name} is a boolean mask; pass np.flatnonzero(mask) for the row numbers")
    if arr.size == 0:
        arr = arr.astype(np.int64)
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must be a 1-D array of integers, got dtype={arr.dtype} shape={arr.shape}")
    arr = arr.astype(np.int64, copy=False)
    if n is not None and arr.size:
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi >= n:
            bad = lo if lo < 0 else hi
            raise IndexError(f"{name} contains {bad}, outside the valid range [0, {n}) of the source")
    return arr


def as_weights(name: str, weights: Any) -> np.ndarray:
    """Return ``weights`` as float64, refusing negative, NaN, infinite and all-zero weights.

    Example:
        >>> as_weights("weights", [1, 3]).tolist()
        [1.0, 3.0]
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {w.shape}")
    if w.size == 0:
        raise ValueError(f"{name} is empty: give one weight per sample")
    bad = ~np.isfinite(w)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name}[{i}]={float(w[i])!r} must be finite (no NaN or inf)")
    if (w < 0).any():
        i = int(np.flatnonzero(w < 0)[0])
        raise ValueError(f"{name}[{i}]={float(w[i])!r} must be >= 0")
    if not w.any():
        raise ValueError(f"{name} are all zero: at least one sample needs a positive weight")
    return w
