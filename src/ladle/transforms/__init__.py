"""Batch transforms: fast vectorised augmentations, per-sample hooks, deterministic randomness.

Every transform is a plain picklable object called as ``t(batch) -> batch`` on a
:class:`~ladle.Batch`. It works on named fields (default ``"x"``; targets ``"y"``), on the whole
batch at once with NumPy (no Python loop over samples, except in :class:`Map`), and returns a new
batch without writing into the input's arrays. Every random draw comes from ``batch.random``,
keyed by (seed, epoch, batch number): the output is the same for any number or kind of workers,
and after a ``state_dict()`` resume. Pass one as ``Loader(..., transform=...)``.

* composition: :class:`Compose`, :class:`Apply` (a function on a random subset, probability
  ``p`` per sample), :class:`Map` (per-sample functions: torchvision v2, albumentations, user
  code), :class:`OneOf`;
* values: :class:`Rescale`, :class:`Normalize`, :class:`Cast`, :class:`OneHot`,
  :class:`RandomBrightness`, :class:`RandomContrast`, :class:`GaussianNoise`;
* geometry (``layout="channels_last"``/``"NHWC"`` or ``"channels_first"``/``"NCHW"``):
  :class:`RandomFlip`, :class:`RandomCrop`, :class:`RandomResizedCrop`, :class:`RandomZoom`;
* time axis (signals, spectrograms): :class:`TimeShift`, :class:`RandomTimeCrop`;
* mixing within a batch: :class:`MixUp`, :class:`CutMix`.

Inside a :class:`Compose`, arrays made by an earlier ladle transform are updated in place by later
ones (never the arrays the batch came with), which saves memory traffic.

Example:
    >>> import numpy as np
    >>> from ladle import Loader
    >>> from ladle.transforms import Compose, Normalize, RandomCrop, RandomFlip
    >>> x = np.random.default_rng(0).random((64, 3, 32, 32), dtype=np.float32)
    >>> augment = Compose([RandomCrop(32, padding=4, layout="NCHW"),
    ...                    RandomFlip("horizontal", layout="NCHW"),
    ...                    Normalize([0.5, 0.5, 0.5], [0.25, 0.25, 0.25], layout="NCHW")])
    >>> loader = Loader({"x": x}, batch_size=16, shuffle=True, seed=0, transform=augment)
    >>> [b["x"].shape for b in loader][0]
    (16, 3, 32, 32)
"""

from .base import Apply, Compose, Map, OneOf, Transform
from .geometric import RandomCrop, RandomFlip, RandomResizedCrop, RandomZoom
from .mixing import CutMix, MixUp
from .pixel import Cast, GaussianNoise, Normalize, OneHot, RandomBrightness, RandomContrast, Rescale
from .temporal import RandomTimeCrop, TimeShift

__all__ = [
    "Apply",
    "Cast",
    "Compose",
    "CutMix",
    "GaussianNoise",
    "Map",
    "MixUp",
    "Normalize",
    "OneHot",
    "OneOf",
    "RandomBrightness",
    "RandomContrast",
    "RandomCrop",
    "RandomFlip",
    "RandomResizedCrop",
    "RandomTimeCrop",
    "RandomZoom",
    "Rescale",
    "TimeShift",
    "Transform",
]
