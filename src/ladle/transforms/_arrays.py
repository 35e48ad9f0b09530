"""Array helpers of the transforms: argument checks, layouts, padding, window gathers, resampling.

Everything here works on whole batches at once: per-sample parameters are arrays of length ``n``
and are applied with index arithmetic (strided window views, fancy-index gathers), never a Python
loop over samples.

Example:
    >>> import numpy as np
    >>> x = np.arange(2 * 4 * 4).reshape(2, 4, 4)
    >>> gather_windows(x, (1, 2), [np.array([0, 2]), np.array([1, 0])], (2, 2))[1].tolist()
    [[24, 25], [28, 29]]
"""

from __future__ import annotations

import collections
import math
import numbers
import threading
from typing import Any, Sequence

import numpy as np
from numpy.lib.stride_tricks import as_strided

LAYOUTS = {"channels_last": "channels_last", "NHWC": "channels_last",
           "channels_first": "channels_first", "NCHW": "channels_first"}
PAD_MODES = ("constant", "edge", "reflect", "symmetric", "wrap")


# ----------------------------------------------------------------------------- argument checks
def check_layout(layout: Any) -> str:
    """``"channels_last"`` or ``"channels_first"`` (``"NHWC"``/``"NCHW"`` are accepted as aliases).

    Example:
        >>> check_layout("NCHW")
        'channels_first'
    """
    if not isinstance(layout, str) or layout not in LAYOUTS:
        raise ValueError(f"layout={layout!r} is not one of 'channels_last', 'channels_first', "
                         "'NHWC', 'NCHW'")
    return LAYOUTS[layout]


def check_probability(name: str, p: Any) -> float:
    """``p`` as a float in [0, 1], or a ValueError naming it.

    Example:
        >>> check_probability("p", 0.25)
        0.25
    """
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0.0 <= float(p) <= 1.0:
        raise ValueError(f"{name}={p!r} must be a probability in [0, 1]")
    return float(p)


def check_positive(name: str, value: Any, strict: bool = True) -> float:
    """``value`` as a finite float, > 0 (``strict``) or >= 0.

    Example:
        >>> check_positive("alpha", 0.2)
        0.2
    """
    ok = (not isinstance(value, bool) and isinstance(value, numbers.Real)
          and math.isfinite(float(value)) and (value > 0 if strict else value >= 0))
    if not ok:
        raise ValueError(f"{name}={value!r} must be a finite number {'>' if strict else '>='} 0")
    return float(value)


def check_range(name: str, value: Any, center: float = 0.0,
                low: float | None = None) -> tuple[float, float]:
    """A ``(lo, hi)`` range; a number ``f`` means ``(center - f, center + f)``; ``lo >= low``.

    Example:
        >>> check_range("delta", 0.1)
        (-0.1, 0.1)
    """
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        f = check_positive(name, value, strict=False)
        lo, hi = center - f, center + f
    else:
        try:
            lo, hi = (float(v) for v in value)
        except (TypeError, ValueError):
            raise ValueError(f"{name}={value!r} must be a number or a (low, high) pair") from None
        if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
            raise ValueError(f"{name}={value!r} must be a finite (low, high) pair with low <= high")
    if low is not None and lo < low:
        raise ValueError(f"{name}={value!r} gives a lower bound {lo} below {low}")
    return lo, hi


def check_size(name: str, size: Any, dims: int = 2) -> tuple[int, ...]:
    """An int (the same for every dimension) or a tuple of ``dims`` positive ints.

    Example:
        >>> check_size("size", 24)
        (24, 24)
    """
    values = (size,) * dims if isinstance(size, numbers.Integral) else tuple(size)
    if len(values) != dims or any(isinstance(v, bool) or not isinstance(v, numbers.Integral)
                                  or v < 1 for v in values):
        raise ValueError(f"{name}={size!r} must be a positive int or a tuple of {dims} positive "
                         "ints")
    return tuple(int(v) for v in values)


def check_padding(padding: Any) -> tuple[int, int, int, int]:
    """``padding`` as (top, bottom, left, right): an int, (vertical, horizontal) or 4 ints >= 0.

    Example:
        >>> check_padding((2, 1))
        (2, 2, 1, 1)
    """
    values = (padding,) if isinstance(padding, numbers.Integral) else tuple(padding)
    if len(values) not in (1, 2, 4) or any(
            isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 0 for v in values):
        raise ValueError(f"padding={padding!r} must be an int >= 0, (vertical, horizontal) or "
                         "(top, bottom, left, right)")
    v = [int(p) for p in values]
    if len(v) == 1:
        return v[0], v[0], v[0], v[0]
    if len(v) == 2:
        return v[0], v[0], v[1], v[1]
    return v[0], v[1], v[2], v[3]


def check_pad_mode(mode: Any) -> str:
    """One of :data:`PAD_MODES` (NumPy's ``np.pad`` names).

    Example:
        >>> check_pad_mode("reflect")
        'reflect'
    """
    if mode not in PAD_MODES:
        raise ValueError(f"pad_mode={mode!r} is not one of {', '.join(map(repr, PAD_MODES))}")
    return mode


def fill_value(fill: Any, dtype: np.dtype, where: str) -> Any:
    """``fill`` converted to ``dtype``, refusing values the dtype cannot hold (e.g. -1 in uint8).

    Example:
        >>> fill_value(0, np.dtype("uint8"), "field 'x'")
        np.uint8(0)
    """
    try:
        with np.errstate(all="ignore"):
            value = np.asarray(fill).astype(dtype)[()]
    except (TypeError, ValueError):
        value = None
    if value is None or (dtype != object and not np.asarray(value == fill).all()):
        raise ValueError(f"fill={fill!r} cannot be stored in {where} of dtype {dtype}; give a "
                         "value of that dtype's range")
    return value


# ----------------------------------------------------------------------------- layouts
def spatial_axes(shape: tuple[int, ...], layout: str, what: str) -> tuple[int, int]:
    """The (height, width) axes of images ``(N, H, W)``, ``(..., H, W, C)`` or ``(..., C, H, W)``.

    Example:
        >>> spatial_axes((8, 3, 32, 32), "channels_first", "field 'x'")
        (2, 3)
    """
    ndim = len(shape)
    if ndim == 3:
        return 1, 2
    if ndim < 3:
        raise ValueError(f"{what} has shape {shape}; an image batch is (N, H, W), (N, H, W, C) "
                         "with layout='channels_last' or (N, C, H, W) with layout='channels_first'")
    return (ndim - 3, ndim - 2) if layout == "channels_last" else (ndim - 2, ndim - 1)


def channel_axis(ndim: int, layout: str) -> int:
    """The channel axis: the last one (channels_last) or the one after the batch (channels_first).

    Example:
        >>> channel_axis(4, "channels_last"), channel_axis(4, "channels_first")
        (3, 1)
    """
    return ndim - 1 if layout == "channels_last" else 1


def blocks(x: np.ndarray, nbytes: int = 1 << 18) -> list[slice]:
    """Slices of about ``nbytes`` along the batch axis, so that several passes stay in cache.

    Example:
        >>> blocks(np.zeros((10, 1024), np.float32), nbytes=16 << 10)
        [slice(0, 4, None), slice(4, 8, None), slice(8, 10, None)]
    """
    n = x.shape[0]
    rows = max(1, nbytes // max(1, x[:1].nbytes))
    return [slice(s, min(s + rows, n)) for s in range(0, n, rows)]


def per_sample(values: np.ndarray, ndim: int) -> np.ndarray:
    """Reshape ``(n,)`` per-sample values to broadcast against an ``ndim`` batch.

    Example:
        >>> per_sample(np.arange(2), 4).shape
        (2, 1, 1, 1)
    """
    return values.reshape((-1,) + (1,) * (ndim - 1))


def work_dtype(dtype: np.dtype) -> np.dtype:
    """float64 for float64 data, float32 otherwise (integer images are computed in float32).

    Example:
        >>> work_dtype(np.dtype("uint8"))
        dtype('float32')
    """
    return np.dtype(np.float64) if dtype == np.float64 else np.dtype(np.float32)


def to_dtype(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Cast computed values back to ``dtype``: integers are rounded and clipped to their range.

    Example:
        >>> to_dtype(np.array([-3.0, 2.6, 300.0]), np.dtype("uint8")).tolist()
        [0, 3, 255]
    """
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        values = np.clip(np.rint(values), info.min, info.max)
    elif dtype == bool:
        values = values >= 0.5
    return values.astype(dtype, copy=False)


# ----------------------------------------------------------------------------- padding
class _Scratch(threading.local):
    """Per-thread reusable buffers (fresh large arrays cost page faults on every batch)."""

    MAX_BYTES = 64 << 20

    def __init__(self) -> None:
        self.buffers: collections.OrderedDict = collections.OrderedDict()


_SCRATCH = _Scratch()


def scratch(key: Any, shape: tuple[int, ...], dtype: np.dtype,
            fill: Any = None) -> np.ndarray | None:
    """A per-thread buffer of ``shape`` for ``key``, reused across calls (None if too large).

    Rows are allocated for the largest batch seen. With ``fill``, a new buffer starts filled with
    it, and the same ``key`` must always imply the same fill (the caller keeps what it relies on).
    Use it only for temporaries: the next call with the same key on this thread overwrites it.

    Example:
        >>> scratch("doc", (2, 3), np.dtype("float32"), fill=0.0).tolist()
        [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    """
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if nbytes > _SCRATCH.MAX_BYTES or dtype == object:
        return None
    key = (key, tuple(shape[1:]), dtype.str)
    cache = _SCRATCH.buffers
    buf = cache.pop(key, None)
    if buf is None or buf.shape[0] < shape[0]:
        rows = (max(shape[0], 1),) + tuple(shape[1:])
        buf = np.empty(rows, dtype) if fill is None else np.full(rows, fill, dtype)
    cache[key] = buf  # most recently used last
    while sum(b.nbytes for b in cache.values()) > _SCRATCH.MAX_BYTES and len(cache) > 1:
        cache.popitem(last=False)
    return buf[:shape[0]]


def pad(x: np.ndarray, pads: Sequence[tuple[int, int]], mode: str = "constant",
        fill: Any = 0) -> np.ndarray:
    """``x`` padded on axes ``1..`` by ``pads`` (one (before, after) per axis after the batch axis).

    The result is C-contiguous. With ``mode="constant"`` it may be a per-thread scratch buffer that
    the next call overwrites: read from it (e.g. gather windows into a new array), never keep it.

    Example:
        >>> pad(np.ones((1, 2)), [(1, 1)]).tolist()
        [[0.0, 1.0, 1.0, 0.0]]
    """
    width = [(0, 0)] + [tuple(p) for p in pads]
    if not any(a or b for a, b in width):
        return np.ascontiguousarray(x)
    if mode != "constant":
        return np.pad(x, width, mode=mode)
    shape = tuple(s + a + b for s, (a, b) in zip(x.shape, width))
    inner = tuple(slice(a, a + s) for s, (a, _) in zip(x.shape, width))
    # The border of a cached buffer keeps the fill: only the interior is rewritten.
    out = scratch(("pad", tuple(width), repr(fill)), shape, x.dtype, fill=fill)
    if out is None:
        out = np.full(shape, fill, dtype=x.dtype)
    out[inner] = x
    return out


# ----------------------------------------------------------------------------- window gathers
def gather_windows(p: np.ndarray, axes: Sequence[int], starts: Sequence[np.ndarray],
                   sizes: Sequence[int]) -> np.ndarray:
    """Per-sample windows: sample ``i`` gets ``p[i, ..., s0[i]:s0[i]+k0, s1[i]:s1[i]+k1, ...]``.

    ``axes`` are consecutive axes after the batch axis. One fancy-index gather from a strided
    window view copies every window at once; the axes after ``axes`` are merged into the last one
    so that each window row is a contiguous run. Returns a new C-contiguous array.

    Example:
        >>> gather_windows(np.arange(12).reshape(2, 6), [1], [np.array([0, 3])], [2]).tolist()
        [[0, 1], [9, 10]]
    """
    p = np.ascontiguousarray(p)
    first, last = axes[0], axes[-1]
    n = p.shape[0]
    mid = int(np.prod(p.shape[1:first], dtype=np.int64))  # axes before the windows join the batch
    trail = p.shape[last + 1:]
    k = int(np.prod(trail, dtype=np.int64))  # axes after them join the last window axis
    q = p.reshape((n * mid,) + p.shape[first:last] + (p.shape[last] * k,))
    window = tuple(sizes[:-1]) + (sizes[-1] * k,)
    # Every window is one row of a strided view whose first axis walks the flat buffer one element
    # at a time: a single gather of rows at each window's flat start (faster than indexing a
    # sliding-window view on several axes).
    elem = [st // q.itemsize for st in q.strides]
    scaled = [np.asarray(s, dtype=np.intp) for s in starts]
    scaled[-1] = scaled[-1] * k
    offset = sum(s * e for s, e in zip(scaled, elem[1:]))
    flat_start = (np.arange(n * mid, dtype=np.intp) * elem[0]
                  + (np.repeat(offset, mid) if mid > 1 else offset))
    span = sum((w - 1) * e for w, e in zip(window, elem[1:])) + 1
    rows = as_strided(q.reshape(-1), shape=(q.size - span + 1,) + window,
                      strides=(q.itemsize,) + q.strides[1:], writeable=False)
    return rows[flat_start].reshape(p.shape[:first] + tuple(sizes) + trail)


# ----------------------------------------------------------------------------- resampling
def _map_index(i: np.ndarray, size: int, mode: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Integer positions (any range) mapped into ``[0, size)`` by a pad mode; mask of inside."""
    if mode == "constant":
        return np.clip(i, 0, size - 1), (i >= 0) & (i < size)
    if mode == "edge":
        return np.clip(i, 0, size - 1), None
    if mode == "wrap":
        return np.mod(i, size), None
    if size == 1:
        return np.zeros_like(i), None
    if mode == "reflect":  # d c b | a b c d | c b a
        period = 2 * (size - 1)
        j = np.mod(i, period)
        return np.where(j < size, j, period - j), None
    period = 2 * size  # symmetric: c b a | a b c | c b a
    j = np.mod(i, period)
    return np.where(j < size, j, period - 1 - j), None


def resample(x: np.ndarray, axes: tuple[int, int], top: np.ndarray, left: np.ndarray,
             height: np.ndarray, width: np.ndarray, out_size: tuple[int, int],
             interpolation: str = "bilinear", mode: str = "constant", fill: Any = 0) -> np.ndarray:
    """Resample, per sample, the box ``(top, left, height, width)`` (float pixels) to ``out_size``.

    Pixel centres are aligned as in PIL/torch (``align_corners=False``); points outside the image
    take values by ``mode`` (``"constant"`` uses ``fill``). Bilinear interpolation is separable:
    rows are blended first, then columns. No antialiasing. The dtype is kept (integers rounded).

    Example:
        >>> x = np.arange(16.0).reshape(1, 4, 4)
        >>> one = np.ones(1)
        >>> out = resample(x, (1, 2), 0 * one, 0 * one, 4 * one, 4 * one, (4, 4))
        >>> out.tolist() == x.tolist()
        True
    """
    n = x.shape[0]
    oh, ow = out_size
    h_ax, w_ax = axes
    H, W = x.shape[h_ax], x.shape[w_ax]
    xt = np.moveaxis(x, (h_ax, w_ax), (1, 2))  # (n, H, W, *rest)
    rest = xt.ndim - 3
    ys = top[:, None] + (np.arange(oh) + 0.5) * (height / oh)[:, None] - 0.5  # (n, oh)
    xs = left[:, None] + (np.arange(ow) + 0.5) * (width / ow)[:, None] - 0.5  # (n, ow)
    ni = np.arange(n)
    tail = (1,) * rest

    def fill_out(values, mask, shape):
        if mask is None or mask.all():
            return values
        return np.where(mask.reshape(shape + tail), values, fill)

    if interpolation == "nearest":
        yi, ym = _map_index(np.floor(ys + 0.5).astype(np.intp), H, mode)
        xi, xm = _map_index(np.floor(xs + 0.5).astype(np.intp), W, mode)
        out = xt[ni[:, None, None], yi[:, :, None], xi[:, None, :]]
        mask = None if ym is None else ym[:, :, None] & xm[:, None, :]
        out = fill_out(out, mask, (n, oh, ow)).astype(x.dtype, copy=False)
    else:
        wd = work_dtype(x.dtype)
        y0 = np.floor(ys)
        wy = (ys - y0).astype(wd)
        x0 = np.floor(xs)
        wx = (xs - x0).astype(wd)
        y0 = y0.astype(np.intp)
        x0 = x0.astype(np.intp)
        rows = []
        for dy in (0, 1):
            yi, ym = _map_index(y0 + dy, H, mode)
            r = xt[ni[:, None], yi].astype(wd, copy=False)  # (n, oh, W, *rest)
            rows.append(fill_out(r, ym, (n, oh, 1)))
        wy_b = wy.reshape((n, oh, 1) + tail)
        blended = rows[0] * (1 - wy_b) + rows[1] * wy_b
        cols = []
        for dx in (0, 1):
            xi, xm = _map_index(x0 + dx, W, mode)
            c = blended[ni[:, None, None], np.arange(oh)[None, :, None], xi[:, None, :]]
            cols.append(fill_out(c, None if xm is None else xm[:, None, :], (n, 1, ow)))
        wx_b = wx.reshape((n, 1, ow) + tail)
        out = to_dtype(cols[0] * (1 - wx_b) + cols[1] * wx_b, x.dtype)
    return np.ascontiguousarray(np.moveaxis(out, (1, 2), (h_ax, w_ax)))
