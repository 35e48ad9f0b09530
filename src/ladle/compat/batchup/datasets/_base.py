"""Shared machinery of the batchup dataset classes: a ladle store read into memory, scaled lazily.

Example:
    >>> import numpy as np
    >>> x = LazyScaledArray(np.array([[0, 255]], np.uint8), 0.0, 1.0)
    >>> x.dtype, x[0].tolist()
    (dtype('float32'), [0.0, 1.0])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ....datasets import api


class LazyScaledArray:
    """A uint8 array seen as float32 in ``[lower, upper]``: values are scaled when indexed.

    Keeps a quarter of the memory of the float32 copy; ``np.asarray(x)`` converts it whole.

    Example:
        >>> LazyScaledArray(np.zeros((2, 3), np.uint8), -1.0, 1.0).shape
        (2, 3)
    """

    def __init__(self, data: np.ndarray, lower: float, upper: float):
        if not upper > lower:
            raise ValueError(f"val_upper={upper} must be greater than val_lower={lower}")
        self.data = data
        self.lower = np.float32(lower)
        self.factor = np.float32((upper - lower) / 255.0)

    dtype = np.dtype(np.float32)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, key: Any) -> np.ndarray:
        out = self.data[key].astype(np.float32)
        out *= self.factor
        out += self.lower
        return out

    def take(self, indices: np.ndarray, axis: int = 0) -> np.ndarray:
        """Gather along ``axis`` then scale (used for fast batch reads)."""
        out = self.data.take(indices, axis=axis).astype(np.float32)
        out *= self.factor
        out += self.lower
        return out

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self[...]
        return out if dtype is None else out.astype(dtype)


def read_split(source: Any) -> dict[str, np.ndarray]:
    """All rows of a dataset split, as in-memory arrays (raw uint8 images)."""
    return source.read(np.arange(len(source), dtype=np.int64))


class StandardDataset:
    """Base of the batchup-style dataset classes (``train_X``, ``train_y``, ``val_*``, ``test_*``).

    Example:
        >>> StandardDataset.NAME is None
        True
    """

    NAME: str | None = None
    DEFAULT_N_VAL = 10000

    def __init__(self, n_val: int = DEFAULT_N_VAL, val_lower: float = 0.0, val_upper: float = 1.0,
                 **load_options: Any):
        ds = api.load(self.NAME, n_val=n_val, scale=None, **load_options)
        self.class_names = ds.class_names
        self.dataset = ds
        for split in ("train", "val", "test"):
            source = ds.splits.get(split)
            if source is None:
                x = np.empty((0,) + ds.train.fields["image"].shape, np.uint8)
                cols = {"image": x, "label": np.empty(0, np.int64)}
            else:
                cols = read_split(source)
            setattr(self, f"{split}_X_u8", cols["image"])
            setattr(self, f"{split}_X", LazyScaledArray(cols["image"], val_lower, val_upper))
            setattr(self, f"{split}_y", cols["label"].astype(np.int32))
            self._extra(split, cols)

    def _extra(self, split: str, cols: dict[str, np.ndarray]) -> None:
        """Hook for datasets with more columns (CIFAR-100's coarse labels)."""
