"""Sample mixing: MixUp and CutMix pair each sample with another of the same batch.

The partner of sample ``i`` is ``perm[i]`` for a random permutation of the batch; the inputs are
blended (MixUp) or a box is pasted (CutMix), and the targets are mixed in the same proportion, so
each target row still sums to 1. Integer labels are one-hot encoded (give ``num_classes``);
one-hot or soft targets ``(N, K)`` are used as they are.

Example:
    >>> import numpy as np
    >>> from ladle import Batch
    >>> from ladle.transforms import MixUp
    >>> b = Batch({"x": np.random.default_rng(0).random((8, 4), dtype=np.float32),
    ...            "y": np.arange(8) % 3}, seed=0)
    >>> out = MixUp(alpha=0.4, num_classes=3)(b)
    >>> out["y"].shape, bool(np.allclose(out["y"].sum(axis=1), 1))
    ((8, 3), True)
"""

from __future__ import annotations

import numbers
from typing import Sequence

import numpy as np

from ..batch import Batch
from ._arrays import check_layout, check_positive, check_probability, per_sample
from .base import Transform, check_fields, get_array, writable
from .geometric import _images
from .pixel import one_hot

__all__ = ["CutMix", "MixUp"]


class _Mix(Transform):
    def __init__(self, alpha: float, fields: str | Sequence[str], target: str,
                 num_classes: int | None, p: float):
        self.alpha = check_positive("alpha", alpha)
        self.fields = check_fields(fields)
        self.target = check_fields(target, "target")[0]
        if num_classes is not None and (isinstance(num_classes, bool) or not isinstance(
                num_classes, numbers.Integral) or num_classes < 1):
            raise ValueError(f"num_classes={num_classes!r} must be an int >= 1 or None")
        self.num_classes = None if num_classes is None else int(num_classes)
        self.p = check_probability("p", p)

    def _touches(self) -> frozenset[str]:
        return frozenset(self.fields + (self.target,))

    def _draw(self, n: int, g: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        perm = g.permutation(n)
        lam = g.beta(self.alpha, self.alpha, size=n)
        if self.p < 1:
            lam = np.where(g.random(n) < self.p, lam, 1.0)
        return perm, lam

    def _targets(self, batch: Batch) -> np.ndarray:
        y = get_array(batch, self.target, self)
        name = type(self).__name__
        if y.ndim == 1 and np.issubdtype(y.dtype, np.integer):
            if self.num_classes is None:
                raise ValueError(f"{name}: target {self.target!r} holds integer labels; give "
                                 "num_classes= to one-hot encode them")
            return one_hot(y, self.num_classes, np.float32, self.target)
        if y.ndim != 2 or not np.issubdtype(y.dtype, np.floating):
            raise ValueError(f"{name}: target {self.target!r} has dtype {y.dtype} and shape "
                             f"{y.shape}; it must be integer labels (N,) or one-hot/soft targets "
                             "(N, num_classes) of floats")
        if self.num_classes is not None and y.shape[1] != self.num_classes:
            raise ValueError(f"{name}: target {self.target!r} has {y.shape[1]} columns but "
                             f"num_classes={self.num_classes}")
        return y

    def _mix_targets(self, batch: Batch, owned: set[str], perm: np.ndarray,
                     lam: np.ndarray) -> None:
        y = self._targets(batch)
        w = lam.astype(y.dtype)[:, None]
        batch[self.target] = y * w + y[perm] * (1 - w)
        owned.add(self.target)


class MixUp(_Mix):
    """Blend each sample with a partner: ``x' = λ x + (1 - λ) x[perm]``, targets alike.

    ``λ`` is drawn per sample from Beta(alpha, alpha). Inputs must be floating point (their dtype
    is kept); targets become floats ``(N, num_classes)``.

    Args:
        alpha: the Beta distribution's parameter (> 0); small values keep samples nearly pure.
        fields: the input fields to blend (default ``"x"``).
        target: the target field (default ``"y"``).
        num_classes: classes for one-hot encoding integer labels.
        p: probability that a sample is mixed (others keep λ = 1).

    Example:
        >>> b = Batch({"x": np.eye(4, dtype=np.float32), "y": np.arange(4)}, seed=1)
        >>> out = MixUp(1.0, num_classes=4)(b)
        >>> bool(np.allclose(out["x"], out["y"]))  # x is one-hot of y here: mixed alike
        True
    """

    def __init__(self, alpha: float = 0.2, fields: str | Sequence[str] = "x", target: str = "y",
                 num_classes: int | None = None, p: float = 1.0):
        super().__init__(alpha, fields, target, num_classes, p)

    def _apply(self, batch: Batch, owned: set[str]) -> None:
        xs = [get_array(batch, f, self) for f in self.fields]
        for f, x in zip(self.fields, xs):
            if not np.issubdtype(x.dtype, np.floating):
                raise TypeError(f"MixUp: field {f!r} has dtype {x.dtype}; blending needs "
                                "floating-point data: put Rescale(1 / 255) or Cast('float32') "
                                "before it")
            if len(x) != len(xs[0]):
                raise ValueError(f"MixUp: fields {list(self.fields)} have different batch sizes")
        perm, lam = self._draw(len(xs[0]), batch.random)
        for f, x in zip(self.fields, xs):
            partner = x[perm]
            out = np.subtract(x, partner, out=x if f in owned else None)
            out *= per_sample(lam.astype(x.dtype), x.ndim)
            out += partner
            batch[f] = out
            owned.add(f)
        self._mix_targets(batch, owned, perm, lam)


class CutMix(_Mix):
    """Paste a random box of a partner sample into each image; targets mixed by the box's area.

    Per sample, ``λ ~ Beta(alpha, alpha)`` sets a box of ``1 - λ`` of the image area centred at a
    random point (clipped at the borders); the target weight is the area actually kept. Works for
    any dtype (pixels are copied, not blended); several fields (an image and its mask) get the
    same boxes.

    Args:
        alpha: the Beta distribution's parameter (> 0).
        fields: the image fields (default ``"x"``).
        target: the target field (default ``"y"``).
        num_classes: classes for one-hot encoding integer labels.
        p: probability that a sample is mixed.
        layout: ``"channels_last"``/``"NHWC"`` or ``"channels_first"``/``"NCHW"``.

    Example:
        >>> x = np.arange(4, dtype=np.float32)[:, None, None] * np.ones((4, 8, 8), np.float32)
        >>> out = CutMix(1.0, num_classes=4)(Batch({"x": x, "y": np.arange(4)}, seed=0))
        >>> kept = (out["x"] == np.arange(4)[:, None, None]).mean(axis=(1, 2))
        >>> bool(np.allclose(kept, out["y"][np.arange(4), np.arange(4)]))
        True
    """

    def __init__(self, alpha: float = 1.0, fields: str | Sequence[str] = "x", target: str = "y",
                 num_classes: int | None = None, p: float = 1.0, layout: str = "channels_last"):
        super().__init__(alpha, fields, target, num_classes, p)
        self.layout = check_layout(layout)

    def _apply(self, batch: Batch, owned: set[str]) -> None:
        images = _images(batch, self.fields, self.layout, self)
        _, x0, (ha, wa) = images[0]
        n, H, W = x0.shape[0], x0.shape[ha], x0.shape[wa]
        g = batch.random
        perm, lam = self._draw(n, g)
        cy = g.integers(0, H, size=n)
        cx = g.integers(0, W, size=n)
        cut = np.sqrt(1.0 - lam)
        half_h = (H * cut).astype(np.int64) // 2
        half_w = (W * cut).astype(np.int64) // 2
        y0, y1 = np.clip(cy - half_h, 0, H), np.clip(cy + half_h, 0, H)
        x0_, x1 = np.clip(cx - half_w, 0, W), np.clip(cx + half_w, 0, W)
        rows = np.arange(H)
        cols = np.arange(W)
        inside = (((rows >= y0[:, None]) & (rows < y1[:, None]))[:, :, None]
                  & ((cols >= x0_[:, None]) & (cols < x1[:, None]))[:, None, :])  # (n, H, W)
        kept = 1.0 - (y1 - y0) * (x1 - x0_) / (H * W)
        for f, x, axes in images:
            shape = [1] * x.ndim
            shape[0], shape[axes[0]], shape[axes[1]] = n, H, W
            partner = x[perm]
            out = writable(batch, f, owned)
            np.copyto(out, partner, where=inside.reshape(shape))
        self._mix_targets(batch, owned, perm, kept)
