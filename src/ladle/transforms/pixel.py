"""Value transforms: Rescale, Normalize, Cast, OneHot, RandomBrightness/Contrast, GaussianNoise.

Each works on whole batches with NumPy broadcasting; random ones draw one value per sample
(or one per element for noise) from ``batch.random``.

Example:
    >>> import numpy as np
    >>> from ladle import Batch
    >>> from ladle.transforms import Normalize
    >>> x = np.full((2, 2, 2, 3), 0.5, dtype=np.float32)
    >>> Normalize([0.5, 0.5, 0.5], [0.25, 0.25, 0.25])(Batch({"x": x}))["x"].max()
    np.float32(0.0)
"""

from __future__ import annotations

import numbers
from typing import Any, Sequence

import numpy as np

from ..batch import Batch
from ._arrays import (
    blocks,
    channel_axis,
    check_layout,
    check_positive,
    check_range,
    per_sample,
    spatial_axes,
)
from .base import Transform, check_fields, get_array

__all__ = ["Cast", "GaussianNoise", "Normalize", "OneHot", "RandomBrightness", "RandomContrast",
           "Rescale"]


def _out_dtype(x: np.ndarray, dtype: Any) -> np.dtype:
    if dtype is not None:
        return np.dtype(dtype)
    return x.dtype if np.issubdtype(x.dtype, np.floating) else np.dtype(np.float32)


def _float_field(batch: Batch, name: str, who: Any) -> np.ndarray:
    x = get_array(batch, name, who)
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{type(who).__name__}: field {name!r} has dtype {x.dtype}; it needs "
                        "floating-point data: put Rescale(1 / 255) or Cast('float32') before it")
    return x


def _check_clip(clip: Any) -> tuple[float, float] | None:
    return None if clip is None else check_range("clip", clip)


def _finish(batch: Batch, owned: set[str], name: str, out: np.ndarray, clip: Any) -> None:
    if clip is not None:
        np.clip(out, clip[0], clip[1], out=out)
    batch[name] = out
    owned.add(name)


class Rescale(Transform):
    """``x * scale + offset`` (Keras' ``rescale=1/255``); integer data becomes float32.

    Args:
        scale: the factor.
        offset: added after scaling.
        fields: the fields to rescale (default ``"x"``).
        dtype: output dtype; default keeps floating dtypes and turns integers into float32.

    Example:
        >>> out = Rescale(1 / 255)(Batch({"x": np.array([0, 51, 255], dtype=np.uint8)}))["x"]
        >>> out.dtype, [round(float(v), 3) for v in out]
        (dtype('float32'), [0.0, 0.2, 1.0])
    """

    def __init__(self, scale: float, offset: float = 0.0, fields: str | Sequence[str] = "x",
                 dtype: Any = None):
        for name, v in (("scale", scale), ("offset", offset)):
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not np.isfinite(v):
                raise ValueError(f"{name}={v!r} must be a finite number")
        self.scale, self.offset = float(scale), float(offset)
        self.fields = check_fields(fields)
        self.dtype = None if dtype is None else np.dtype(dtype)

    def _apply(self, batch: Batch, owned: set[str]) -> None:
        for f in self.fields:
            x = get_array(batch, f, self)
            dt = _out_dtype(x, self.dtype)
            out = x if (f in owned and x.dtype == dt) else np.empty(x.shape, dt)
            scale, offset = dt.type(self.scale), dt.type(self.offset)
            for part in blocks(x):  # both passes over a block while it is in cache
                np.multiply(x[part], scale, out=out[part], casting="unsafe")
                if offset:
                    out[part] += offset
            _finish(batch, owned, f, out, None)


class Normalize(Transform):
    """``(x - mean) / std`` per channel (or with scalars, for all values).

    The channel axis is the last one for ``layout="channels_last"`` (``"NHWC"``) and the one after
    the batch axis for ``"channels_first"`` (``"NCHW"``). Integer data becomes float32.

    Args:
        mean: a number or one value per channel.
        std: a number or one value per channel (all > 0).
        layout: where the channels are.
        fields: the fields to normalise (default ``"x"``).
        dtype: output dtype; default keeps floating dtypes and turns integers into float32.

    Example:
        >>> x = np.array([[[1.0, 10.0]]])  # 1 sample, 1 x 2 pixels, no channel axis
        >>> Normalize(1.0, 2.0)(Batch({"x": x}))["x"].tolist()
        [[[0.0, 4.5]]]
    """

    def __init__(self, mean: float | Sequence[float], std: float | Sequence[float],
                 layout: str = "channels_last", fields: str | Sequence[str] = "x",
                 dtype: Any = None):
        self._mean = np.atleast_1d(np.asarray(mean, dtype=np.float64))
        self._std = np.atleast_1d(np.asarray(std, dtype=np.float64))
        for name, v in (("mean", self._mean), ("std", self._std)):
            if v.ndim != 1 or v.size == 0 or not np.isfinite(v).all():
                raise ValueError(f"{name}={v.tolist()!r} must be a finite number or a 1-D sequence "
                                 "(one value per channel)")
        if (self._std <= 0).any():
            raise ValueError(f"std={self._std.tolist()!r} must be > 0 (dividing by it)")
        if self._mean.size != self._std.size and 1 not in (self._mean.size, self._std.size):
            raise ValueError(f"mean has {self._mean.size} values and std {self._std.size}; give "
                             "one per channel for both")
        self.mean, self.std = tuple(self._mean.tolist()), tuple(self._std.tolist())
        self.layout = check_layout(layout)
        self.fields = check_fields(fields)
        self.dtype = None if dtype is None else np.dtype(dtype)

    def _apply(self, batch: Batch, owned: set[str]) -> None:
        for f in self.fields:
            x = get_array(batch, f, self)
            dt = _out_dtype(x, self.dtype)
            channels = max(self._mean.size, self._std.size)
            shape: tuple[int, ...] = (1,)
            if channels > 1:
                axis = channel_axis(x.ndim, self.layout) if x.ndim > 1 else None
                if axis is None or x.shape[axis] != channels:
                    raise ValueError(
                        f"Normalize: mean/std have {channels} values but field {f!r} (shape "
                        f"{x.shape}) has {x.shape[axis] if axis else 'no'} channels on the channel "
                        f"axis of layout={self.layout!r}; check the layout or the per-channel "
                        "values")
                shape = (channels,) + (1,) * (x.ndim - 1 - axis)
            mean = self._mean.reshape(shape if self._mean.size > 1 else (1,)).astype(dt)
            inv = (1.0 / self._std).reshape(shape if self._std.size > 1 else (1,)).astype(dt)
            out = x if (f in owned and x.dtype == dt) else np.empty(x.shape, dt)
            for part in blocks(x):  # both passes over a block while it is in cache
                np.subtract(x[part], mean, out=out[part], casting="unsafe")
                out[part] *= inv
            _finish(batch, owned, f, out, None)


class Cast(Transform):
    """Convert fields to ``dtype`` (no copy when they already have it).

    Example:
        >>> Cast("float32")(Batch({"x": np.arange(2)}))["x"].dtype
        dtype('float32')
    """

    def __init__(self, dtype: Any, fields: str | Sequence[str] = "x"):
        self.dtype = np.dtype(dtype)
        self.fields = check_fields(fields)

    def _apply(self, batch: Batch, owned: set[str]) -> None:
        for f in self.fields:
            x = get_array(batch, f, self)
            if x.dtype != self.dtype:
                _finish(batch, owned, f, x.astype(self.dtype), None)


class OneHot(Transform):
    """Integer labels ``(N,)`` to one-hot targets ``(N, num_classes)``.

    Args:
        num_classes: the number of classes; labels must be in ``[0, num_classes)``.
        field: the label field (default ``"y"``).
        out_field: where to put the targets (default: replace ``field``).
        dtype: the targets' dtype (default float32).

    Example:
        >>> OneHot(3)(Batch({"y": np.array([2, 0])}))["y"].tolist()
        [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
    """

    def __init__(self, num_classes: int, field: str = "y", out_field: str | None = None,
                 dtype: Any = "float32"):
        if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) \
                or num_classes < 1:
            raise ValueError(f"num_classes={num_classes!r} must be an int >= 1")
        self.num_classes = int(num_classes)
        self.field = check_fields(field, "field")[0]
        self.out_field = (self.field if out_field is None
                          else check_fields(out_field, "out_field")[0])
        self.dtype = np.dtype(dtype)
        self.fields = (self.field,)

    def _apply(self, batch: Batch, owned: set[str]) -> None:
        y = get_array(batch, self.field, self)
        targets = one_hot(y, self.num_classes, self.dtype, self.field)
        _finish(batch, owned, self.out_field, targets, None)


def one_hot(y: np.ndarray, num_classes: int, dtype: Any = np.float32,
            name: str = "y") -> np.ndarray:
    """One-hot encode integer labels, checking their range.

    Example:
        >>> one_hot(np.array([1]), 2).tolist()
        [[0.0, 1.0]]
    """
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"field {name!r} must hold integer labels of shape (N,) to be one-hot "
                         f"encoded; it has dtype {y.dtype} and shape {y.shape}")
    bad = (y < 0) | (y >= num_classes)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"field {name!r} holds label {int(y[i])} (sample {i}), outside [0, "
                         f"{num_classes}); raise num_classes or fix the labels")
    out = np.zeros((y.size, num_classes), dtype=dtype)
    out[np.arange(y.size), y] = 1
    return out


class RandomBrightness(Transform):
    """Add a random offset per sample, uniform in ``(-delta, delta)`` (or in a given range).

    Args:
        delta: a number ``d`` (the range ``(-d, d)``) or a ``(low, high)`` range.
        fields: the fields to change (the same offset per sample for all of them).
        clip: an optional ``(low, high)`` value range to clip to.

    Example:
        >>> out = RandomBrightness(0.1)(Batch({"x": np.zeros((2, 4, 4))}, seed=0))["x"]
        >>> bool((np.abs(out) <= 0.1).all() and (out == out[:, :1, :1]).all())
        True
    """

    def __init__(self, delta: float | tuple[float, float], fields: str | Sequence[str] = "x",
                 clip: tuple[float, float] | None = None):
        self.delta = check_range("delta", delta)
        self.fields = check_fields(fields)
        self.clip = _check_clip(clip)

    def _apply(self, batch: Batch, owned: set[str]) -> None:
        xs = [_float_field(batch, f, self) for f in self.fields]
        offsets = batch.random.uniform(*self.delta, size=len(xs[0]))
        for f, x in zip(self.fields, xs):
            out = x if f in owned else None
            out = np.add(x, per_sample(offsets.astype(x.dtype), x.ndim), out=out)
            _finish(batch, owned, f, out, self.clip)


class RandomContrast(Transform):
    """Scale each sample's deviation from its per-channel mean by a random factor.

    ``x' = (x - mean) * c + mean`` with ``c`` uniform in ``(1 - factor, 1 + factor)`` (Keras'
    ``RandomContrast``), the mean taken over each sample's pixels, per channel; for ``(N, L)``
    data, over each row.

    Args:
        factor: a number ``f`` in [0, 1] (the range ``(1 - f, 1 + f)``) or a ``(low, high)`` range.
        layout: where the channels are (see :class:`Normalize`).
        fields: the fields to change (the same factor per sample for all of them).
        clip: an optional ``(low, high)`` value range to clip to.

    Example:
        >>> x = np.random.default_rng(0).random((2, 4, 4, 1))
        >>> out = RandomContrast(0.5)(Batch({"x": x}, seed=0))["x"]
        >>> np.allclose(out.mean(axis=(1, 2)), x.mean(axis=(1, 2)))
        True
    """

    def __init__(self, factor: float | tuple[float, float], layout: str = "channels_last",
                 fields: str | Sequence[str] = "x", clip: tuple[float, float] | None = None):
        self.factor = check_range("factor", factor, center=1.0, low=0.0)
        self.layout = check_layout(layout)
        self.fields = check_fields(fields)
        self.clip = _check_clip(clip)

    def _apply(self, batch: Batch, owned: set[str]) -> None:
        xs = [_float_field(batch, f, self) for f in self.fields]
        factors = batch.random.uniform(*self.factor, size=len(xs[0]))
        for f, x in zip(self.fields, xs):
            axes = (1,) if x.ndim == 2 else spatial_axes(x.shape, self.layout, f"field {f!r}")
            mean = x.mean(axis=axes, keepdims=True)
            c = per_sample(factors.astype(x.dtype), x.ndim)
            out = x if f in owned else None
            out = np.multiply(x, c, out=out)
            out += mean * (1 - c)
            _finish(batch, owned, f, out, self.clip)


class GaussianNoise(Transform):
    """Add Gaussian noise ``N(mean, std²)``, drawn independently for every element.

    Args:
        std: the noise's standard deviation (>= 0).
        mean: its mean.
        fields: the fields to change (independent noise for each).
        clip: an optional ``(low, high)`` value range to clip to.

    Example:
        >>> out = GaussianNoise(0.1)(Batch({"x": np.zeros((100, 100), np.float32)}, seed=0))["x"]
        >>> out.dtype, round(float(out.std()), 1)
        (dtype('float32'), 0.1)
    """

    def __init__(self, std: float, mean: float = 0.0, fields: str | Sequence[str] = "x",
                 clip: tuple[float, float] | None = None):
        self.std = check_positive("std", std, strict=False)
        if isinstance(mean, bool) or not isinstance(mean, numbers.Real) or not np.isfinite(mean):
            raise ValueError(f"mean={mean!r} must be a finite number")
        self.mean = float(mean)
        self.fields = check_fields(fields)
        self.clip = _check_clip(clip)

    def _apply(self, batch: Batch, owned: set[str]) -> None:
        for f in self.fields:
            x = _float_field(batch, f, self)
            dt = np.float64 if x.dtype == np.float64 else np.float32
            noise = batch.random.standard_normal(x.shape, dtype=dt)
            noise *= dt(self.std)
            if self.mean:
                noise += dt(self.mean)
            out = x if f in owned else None
            out = np.add(x, noise, out=out, dtype=x.dtype, casting="same_kind")
            _finish(batch, owned, f, out, self.clip)
