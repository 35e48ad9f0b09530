"""Time-axis transforms for 1-D signals and spectrograms: TimeShift, RandomTimeCrop.

The time axis is configurable (``axis=-1`` for ``(N, T)`` signals and ``(N, F, T)``
spectrograms; ``axis=1`` for ``(N, T, F)``). Per-sample offsets are applied with one gather from
a strided window view, not a loop over samples.

Example:
    >>> import numpy as np
    >>> from ladle import Batch
    >>> from ladle.transforms import RandomTimeCrop
    >>> b = Batch({"x": np.zeros((4, 64, 1000), np.float32)}, seed=0)  # (N, F, T) spectrograms
    >>> RandomTimeCrop(800)(b)["x"].shape
    (4, 64, 800)
"""

from __future__ import annotations

import numbers
from typing import Any, Sequence

import numpy as np  # noqa: F401 - used by the examples

from ..batch import Batch
from ._arrays import check_pad_mode, fill_value, gather_windows, pad
from .base import Transform, check_fields, get_array

__all__ = ["RandomTimeCrop", "TimeShift"]


def _check_axis(axis: Any) -> int:
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
        raise TypeError(f"axis={axis!r} must be an int (the time axis, e.g. -1)")
    return int(axis)


def _signals(batch: Batch, fields: tuple[str, ...], axis: int, who: Any):
    """``[(name, array, time axis)]``, checking the fields share the batch size and length."""
    out = []
    for f in fields:
        x = get_array(batch, f, who)
        if not -x.ndim <= axis < x.ndim or axis % x.ndim == 0:
            raise ValueError(f"{type(who).__name__}: axis={axis} is not a time axis of field {f!r} "
                             f"(shape {x.shape}); axis 0 is the batch axis: give an axis in "
                             f"[1, {x.ndim - 1}] or a negative one")
        out.append((f, x, axis % x.ndim))
    sizes = {(x.shape[0], x.shape[a]) for _, x, a in out}
    if len(sizes) > 1:
        detail = ", ".join(f"{f}: {x.shape}" for f, x, _ in out)
        raise ValueError(f"{type(who).__name__}: fields {list(fields)} must share the batch size "
                         f"and length on axis {axis}; shapes {detail}")
    return out


class TimeShift(Transform):
    """Shift each sample along the time axis by a random whole number of steps in ``[-max, max]``.

    A positive shift delays the signal: ``out[t] = x[t - s]``. The steps shifted in come from
    ``mode``: ``"constant"`` (``fill``, e.g. silence), ``"wrap"`` (a circular roll), ``"edge"``,
    ``"reflect"`` or ``"symmetric"``. Shape and dtype are kept.

    Args:
        max_shift: the largest shift, in time steps (>= 0).
        axis: the time axis (default -1).
        mode: how the vacated steps are filled.
        fill: the constant fill value.
        fields: the fields to shift, alike (default ``"x"``).

    Example:
        >>> b = Batch({"x": np.arange(1.0, 6.0)[None]}, seed=3)
        >>> TimeShift(2, mode="wrap")(b)["x"].tolist()  # this sample drew a delay of 1 step
        [[5.0, 1.0, 2.0, 3.0, 4.0]]
    """

    def __init__(self, max_shift: int, axis: int = -1, mode: str = "constant", fill: float = 0,
                 fields: str | Sequence[str] = "x"):
        if isinstance(max_shift, bool) or not isinstance(max_shift, numbers.Integral) \
                or max_shift < 0:
            raise ValueError(f"max_shift={max_shift!r} must be an int >= 0 (time steps)")
        self.max_shift = int(max_shift)
        self.axis = _check_axis(axis)
        self.mode = check_pad_mode(mode)
        self.fill = fill
        self.fields = check_fields(fields)

    def _apply(self, batch: Batch, owned: set[str]) -> None:
        signals = _signals(batch, self.fields, self.axis, self)
        m = self.max_shift
        n = signals[0][1].shape[0]
        shifts = batch.random.integers(-m, m + 1, size=n)
        for f, x, a in signals:
            if m == 0:
                continue
            pads = [(0, 0)] * (x.ndim - 1)
            pads[a - 1] = (m, m)
            fill = fill_value(self.fill, x.dtype, f"field {f!r}") if self.mode == "constant" else 0
            padded = pad(x, pads, self.mode, fill)
            batch[f] = gather_windows(padded, [a], [m - shifts], [x.shape[a]])
            owned.add(f)


class RandomTimeCrop(Transform):
    """Cut a window of ``length`` steps at a random position per sample along the time axis.

    Args:
        length: the window length (at most the fields' length on ``axis``).
        axis: the time axis (default -1).
        fields: the fields to crop, alike (default ``"x"``).

    Example:
        >>> b = Batch({"x": np.arange(10)[None]}, seed=0)
        >>> out = RandomTimeCrop(4)(b)["x"][0]
        >>> out.tolist() == list(range(out[0], out[0] + 4))
        True
    """

    def __init__(self, length: int, axis: int = -1, fields: str | Sequence[str] = "x"):
        if isinstance(length, bool) or not isinstance(length, numbers.Integral) or length < 1:
            raise ValueError(f"length={length!r} must be an int >= 1 (time steps)")
        self.length = int(length)
        self.axis = _check_axis(axis)
        self.fields = check_fields(fields)

    def _apply(self, batch: Batch, owned: set[str]) -> None:
        signals = _signals(batch, self.fields, self.axis, self)
        f0, x0, a0 = signals[0]
        total = x0.shape[a0]
        if self.length > total:
            raise ValueError(f"RandomTimeCrop: length={self.length} exceeds the {total} steps of "
                             f"field {f0!r} (shape {x0.shape}) on axis {self.axis}; lower length "
                             "or pad the signals first")
        starts = batch.random.integers(0, total - self.length + 1, size=x0.shape[0])
        for f, x, a in signals:
            batch[f] = gather_windows(x, [a], [starts], [self.length])
            owned.add(f)
