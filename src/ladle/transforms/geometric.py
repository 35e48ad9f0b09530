"""Geometric image transforms: RandomFlip, RandomCrop, RandomResizedCrop, RandomZoom.

Per-sample parameters are drawn as arrays from ``batch.random`` and applied to the whole batch
at once: flips on the chosen subset, crops as one gather from a strided window view, resized crops
and zooms as a separable (bilinear) or nearest gather. Several fields (an image and its mask) get
the same parameters. Images are ``(N, H, W)``, ``(..., H, W, C)`` (``layout="channels_last"``,
``"NHWC"``) or ``(..., C, H, W)`` (``"channels_first"``, ``"NCHW"``).

Example:
    >>> import numpy as np
    >>> from ladle import Batch
    >>> from ladle.transforms import RandomCrop
    >>> b = Batch({"x": np.zeros((8, 3, 32, 32), np.float32)}, seed=0)
    >>> RandomCrop(32, padding=4, layout="NCHW")(b)["x"].shape
    (8, 3, 32, 32)
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..batch import Batch
from ._arrays import (
    check_layout,
    check_pad_mode,
    check_padding,
    check_probability,
    check_range,
    check_size,
    fill_value,
    gather_windows,
    pad,
    resample,
    scratch,
    spatial_axes,
)
from .base import Transform, check_fields, get_array, writable

__all__ = ["RandomCrop", "RandomFlip", "RandomResizedCrop", "RandomZoom"]

FLIP_MODES = ("horizontal", "vertical", "horizontal_and_vertical")
INTERPOLATIONS = ("bilinear", "nearest")


def _images(batch: Batch, fields: tuple[str, ...], layout: str, who: Any):
    """``[(name, array, (h_axis, w_axis))]`` for the fields, checking they share (N, H, W)."""
    out = []
    for f in fields:
        x = get_array(batch, f, who)
        out.append((f, x, spatial_axes(x.shape, layout, f"{type(who).__name__}: field {f!r}")))
    sizes = {(x.shape[0], x.shape[a], x.shape[b]) for _, x, (a, b) in out}
    if len(sizes) > 1:
        detail = ", ".join(f"{f}: {x.shape}" for f, x, _ in out)
        raise ValueError(f"{type(who).__name__}: fields {list(fields)} must share the batch size "
                         f"and image size to be transformed alike; shapes {detail} "
                         f"(layout={layout!r})")
    return out


def _check_interpolation(interpolation: Any) -> str:
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"interpolation={interpolation!r} is not one of "
                         f"{', '.join(map(repr, INTERPOLATIONS))}")
    return interpolation


def _interp_for(x: np.ndarray, interpolation: str, f: str, who: Any) -> str:
    if interpolation == "bilinear" and not (np.issubdtype(x.dtype, np.number)
                                            and not np.issubdtype(x.dtype, np.complexfloating)):
        raise TypeError(f"{type(who).__name__}: field {f!r} has dtype {x.dtype}, which cannot be "
                        "interpolated; use interpolation='nearest' (e.g. for masks)")
    return interpolation


class RandomFlip(Transform):
    """Flip each sample with probability ``p``, horizontally and/or vertically.

    ``"horizontal_and_vertical"`` draws the two flips independently. Dtype and shape are kept;
    flipping twice with ``p=1`` is the identity.

    Args:
        mode: ``"horizontal"`` (mirror left-right), ``"vertical"`` or ``"horizontal_and_vertical"``.
        p: probability that a sample is flipped (per direction).
        fields: the fields to flip, alike (default ``"x"``; add a mask field to flip it along).
        layout: ``"channels_last"``/``"NHWC"`` or ``"channels_first"``/``"NCHW"``.

    Example:
        >>> x = np.arange(4).reshape(1, 2, 2)
        >>> RandomFlip("horizontal", p=1)(Batch({"x": x}))["x"][0].tolist()
        [[1, 0], [3, 2]]
    """

    def __init__(self, mode: str = "horizontal", p: float = 0.5, fields: str | Sequence[str] = "x",
                 layout: str = "channels_last"):
        if mode not in FLIP_MODES:
            raise ValueError(f"mode={mode!r} is not one of {', '.join(map(repr, FLIP_MODES))}")
        self.mode = mode
        self.p = check_probability("p", p)
        self.fields = check_fields(fields)
        self.layout = check_layout(layout)

    def _apply(self, batch: Batch, owned: set[str]) -> None:
        images = _images(batch, self.fields, self.layout, self)
        n = images[0][1].shape[0]
        flips = []  # (axis index in (h, w), chosen rows)
        for k, name in ((1, "horizontal"), (0, "vertical")):
            if name in self.mode:
                flips.append((k, np.flatnonzero(batch.random.random(n) < self.p)))
        for f, _, axes in images:
            for k, rows in flips:
                if rows.size:
                    out = writable(batch, f, owned)
                    chosen = scratch("flip", (rows.size,) + out.shape[1:], out.dtype)
                    chosen = np.take(out, rows, axis=0, out=chosen, mode="clip")  # rows are valid: no buffering
                    out[rows] = np.flip(chosen, axis=axes[k])


class RandomCrop(Transform):
    """Pad, then crop a ``size`` window at a random position per sample (the CIFAR recipe).

    Args:
        size: output ``(height, width)``, or an int for a square.
        padding: added before cropping: an int, ``(vertical, horizontal)`` or
            ``(top, bottom, left, right)``.
        pad_mode: ``"constant"`` (with ``fill``), ``"edge"``, ``"reflect"``, ``"symmetric"`` or
            ``"wrap"`` (NumPy's ``np.pad`` modes).
        fill: the constant padding value.
        fields: the fields to crop, alike (default ``"x"``).
        layout: ``"channels_last"``/``"NHWC"`` or ``"channels_first"``/``"NCHW"``.

    Example:
        >>> x = np.arange(16).reshape(1, 4, 4)
        >>> RandomCrop(4, padding=0)(Batch({"x": x}))["x"].tolist() == x.tolist()
        True
    """

    def __init__(self, size: int | tuple[int, int], padding: Any = 0, pad_mode: str = "constant",
                 fill: float = 0, fields: str | Sequence[str] = "x", layout: str = "channels_last"):
        self.size = check_size("size", size)
        self.padding = check_padding(padding)
        self.pad_mode = check_pad_mode(pad_mode)
        self.fill = fill
        self.fields = check_fields(fields)
        self.layout = check_layout(layout)

    def _apply(self, batch: Batch, owned: set[str]) -> None:
        images = _images(batch, self.fields, self.layout, self)
        f0, x0, (ha, wa) = images[0]
        top, bottom, left, right = self.padding
        hp, wp = x0.shape[ha] + top + bottom, x0.shape[wa] + left + right
        h, w = self.size
        if h > hp or w > wp:
            raise ValueError(f"RandomCrop: size={self.size} is larger than the padded image "
                             f"{hp}x{wp} of field {f0!r} (shape {x0.shape}, "
                             f"padding={self.padding}); lower size or raise padding")
        n = x0.shape[0]
        ys = batch.random.integers(0, hp - h + 1, size=n)
        xs = batch.random.integers(0, wp - w + 1, size=n)
        for f, x, axes in images:
            pads = [(0, 0)] * (x.ndim - 1)
            pads[axes[0] - 1], pads[axes[1] - 1] = (top, bottom), (left, right)
            fill = (fill_value(self.fill, x.dtype, f"field {f!r}")
                    if self.pad_mode == "constant" else 0)
            padded = pad(x, pads, self.pad_mode, fill)
            batch[f] = gather_windows(padded, axes, [ys, xs], self.size)
            owned.add(f)


class RandomResizedCrop(Transform):
    """Crop a random area and aspect ratio per sample, resized to ``size`` (torchvision's recipe).

    For each sample a box of ``scale`` × the image area and aspect ratio in ``ratio`` (log-uniform)
    is drawn (up to 10 tries, then a centre crop), and resampled to ``size`` with bilinear or
    nearest interpolation (no antialiasing), vectorised over the batch. The dtype is kept (integer
    images are rounded).

    Args:
        size: output ``(height, width)``, or an int for a square.
        scale: range of the box's area as a fraction of the image's, within (0, 1].
        ratio: range of the box's width / height.
        interpolation: ``"bilinear"`` or ``"nearest"`` (for labels and masks).
        fields: the fields to crop, alike (default ``"x"``).
        layout: ``"channels_last"``/``"NHWC"`` or ``"channels_first"``/``"NCHW"``.

    Example:
        >>> b = Batch({"x": np.zeros((4, 32, 32, 3), np.uint8)}, seed=0)
        >>> RandomResizedCrop(24)(b)["x"].shape
        (4, 24, 24, 3)
    """

    def __init__(self, size: int | tuple[int, int], scale: tuple[float, float] = (0.08, 1.0),
                 ratio: tuple[float, float] = (3 / 4, 4 / 3), interpolation: str = "bilinear",
                 fields: str | Sequence[str] = "x", layout: str = "channels_last"):
        self.size = check_size("size", size)
        self.scale = check_range("scale", scale)
        if not (0 < self.scale[0] and self.scale[1] <= 1):
            raise ValueError(f"scale={scale!r} must be a (low, high) range within (0, 1]")
        self.ratio = check_range("ratio", ratio)
        if not self.ratio[0] > 0:
            raise ValueError(f"ratio={ratio!r} must be a (low, high) range of positive aspect "
                             "ratios")
        self.fields = check_fields(fields)
        self.interpolation = _check_interpolation(interpolation)
        self.layout = check_layout(layout)

    def _boxes(self, n: int, H: int, W: int, g: np.random.Generator):
        tries = 10
        area = g.uniform(*self.scale, size=(n, tries)) * (H * W)
        log_r = np.log(self.ratio)
        r = np.exp(g.uniform(log_r[0], log_r[1], size=(n, tries)))
        w = np.rint(np.sqrt(area * r))
        h = np.rint(np.sqrt(area / r))
        ok = (w >= 1) & (h >= 1) & (w <= W) & (h <= H)
        first = np.argmax(ok, axis=1)
        found = ok[np.arange(n), first]
        in_ratio = W / H
        if in_ratio < self.ratio[0]:
            fw, fh = W, max(1, round(W / self.ratio[0]))
        elif in_ratio > self.ratio[1]:
            fh, fw = H, max(1, round(H * self.ratio[1]))
        else:
            fw, fh = W, H
        h = np.where(found, h[np.arange(n), first], fh).astype(np.int64)
        w = np.where(found, w[np.arange(n), first], fw).astype(np.int64)
        top = g.integers(0, H - h + 1)
        left = g.integers(0, W - w + 1)
        top = np.where(found, top, (H - h) // 2)
        left = np.where(found, left, (W - w) // 2)
        return tuple(v.astype(np.float64) for v in (top, left, h, w))

    def _apply(self, batch: Batch, owned: set[str]) -> None:
        images = _images(batch, self.fields, self.layout, self)
        _, x0, (ha, wa) = images[0]
        box = self._boxes(x0.shape[0], x0.shape[ha], x0.shape[wa], batch.random)
        for f, x, axes in images:
            interp = _interp_for(x, self.interpolation, f, self)
            batch[f] = resample(x, axes, *box, self.size, interp, mode="edge")
            owned.add(f)


class RandomZoom(Transform):
    """Zoom each sample in or out about its centre by a random factor, keeping the image size.

    Sample ``i`` shows a centred region ``(1 + z_i)`` times the image size, ``z_i`` uniform in
    ``factor``: ``z < 0`` zooms in, ``z > 0`` zooms out (as Keras' ``RandomZoom``); points outside
    the image are filled by ``fill_mode``.

    Args:
        factor: a number ``f`` (the range ``(-f, f)``) or a ``(low, high)`` range, low > -1.
        fill_mode: ``"constant"`` (with ``fill``), ``"edge"``, ``"reflect"``, ``"symmetric"`` or
            ``"wrap"`` (NumPy's ``np.pad`` names; Keras' "reflect" is ``"symmetric"``).
        fill: the constant fill value.
        interpolation: ``"bilinear"`` or ``"nearest"``.
        fields: the fields to zoom, alike (default ``"x"``).
        layout: ``"channels_last"``/``"NHWC"`` or ``"channels_first"``/``"NCHW"``.

    Example:
        >>> b = Batch({"x": np.ones((2, 8, 8))}, seed=0)
        >>> RandomZoom((1.0, 1.0), interpolation="nearest")(b)["x"][0, 3].tolist()  # zoomed out x2
        [0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0]
    """

    def __init__(self, factor: float | tuple[float, float], fill_mode: str = "constant",
                 fill: float = 0, interpolation: str = "bilinear",
                 fields: str | Sequence[str] = "x", layout: str = "channels_last"):
        self.factor = check_range("factor", factor)
        if not self.factor[0] > -1:
            raise ValueError(f"factor={factor!r} gives a zoom range {self.factor}; its low end "
                             "must be > -1 (z = -1 would show an empty region)")
        self.fill_mode = check_pad_mode(fill_mode)
        self.fill = fill
        self.fields = check_fields(fields)
        self.interpolation = _check_interpolation(interpolation)
        self.layout = check_layout(layout)

    def _apply(self, batch: Batch, owned: set[str]) -> None:
        images = _images(batch, self.fields, self.layout, self)
        _, x0, (ha, wa) = images[0]
        H, W = x0.shape[ha], x0.shape[wa]
        z = 1.0 + batch.random.uniform(*self.factor, size=x0.shape[0])
        bh, bw = z * H, z * W
        top, left = (H - bh) / 2, (W - bw) / 2
        for f, x, axes in images:
            interp = _interp_for(x, self.interpolation, f, self)
            fill = fill_value(self.fill, x.dtype, f"field {f!r}")
            batch[f] = resample(x, axes, top, left, bh, bw, (H, W), interp, self.fill_mode, fill)
            owned.add(f)
