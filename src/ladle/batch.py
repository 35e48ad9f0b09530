"""The Batch: a dict of field name → array, plus where it came from and its own random generator.

Example:
    >>> import numpy as np
    >>> from ladle import Batch
    >>> b = Batch({"x": np.zeros((2, 3)), "y": np.array([0, 1])}, indices=np.array([5, 7]))
    >>> b.size, b.x.shape, b.as_tuple("x", "y")[1].tolist()
    (2, (2, 3), [0, 1])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .sampling import BATCH_STREAM, rng

__all__ = ["Batch"]

_EMPTY = np.empty(0, dtype=np.int64)


class Batch(dict):
    """A mini-batch: a ``dict`` of field → array (ragged fields are object arrays or lists).

    Being a real ``dict``, a batch goes straight into frameworks that take dicts of inputs.
    Fields also read as attributes (``batch.x``), as batchflow components do.

    Attributes:
        indices: the source row ids of the samples, in batch order (int64).
        epoch: the epoch the batch belongs to.
        number: the batch's position within its epoch.
        seed: the loader's seed.
        skipped: row ids a source could not read and replaced (``on_error="skip"``/``"warn"``).

    ``random`` is a NumPy generator keyed by ``(seed, epoch, number)``: random transforms draw from it,
    so their result does not depend on which worker ran them, or whether the run was resumed.

    Example:
        >>> b = Batch({"x": np.arange(3)}, indices=np.arange(3), seed=1, epoch=0, number=0)
        >>> int(b.random.integers(10)) == int(Batch(b, seed=1, epoch=0, number=0).random.integers(10))
        True
    """

    __slots__ = ("indices", "epoch", "number", "seed", "skipped", "_random")

    def __init__(self, data: Any = (), indices: np.ndarray | None = None, *, epoch: int = 0,
                 number: int = 0, seed: int = 0, skipped: np.ndarray | None = None):
        super().__init__(data)
        if indices is None:
            indices = getattr(data, "indices", None)
            if indices is None:
                indices = np.arange(self.size, dtype=np.int64)
        self.indices = indices
        self.epoch = epoch
        self.number = number
        self.seed = seed
        self.skipped = _EMPTY if skipped is None else skipped
        self._random: np.random.Generator | None = None

    # ------------------------------------------------------------------ sizes and access
    @property
    def size(self) -> int:
        """Number of samples (``len(batch)`` is the number of fields, as for any dict)."""
        for value in self.values():
            return len(value)
        idx = getattr(self, "indices", None)
        return 0 if idx is None else len(idx)

    @property
    def random(self) -> np.random.Generator:
        """This batch's generator, keyed by ``(seed, epoch, number)``; created on first use."""
        if self._random is None:
            self._random = rng(self.seed, self.epoch, BATCH_STREAM, self.number)
        return self._random

    @random.setter
    def random(self, value: np.random.Generator) -> None:
        self._random = value

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(
                f"Batch has no field or attribute {name!r}; fields: {sorted(self)}") from None

    def as_tuple(self, *fields: str) -> tuple:
        """The chosen fields as a tuple, in that order (all fields, in order, when none are named).

        Example:
            >>> Batch({"x": np.ones(2), "y": np.zeros(2)}).as_tuple("y", "x")[0].tolist()
            [0.0, 0.0]
        """
        if not fields:
            return tuple(self.values())
        try:
            return tuple(self[f] for f in fields)
        except KeyError as exc:
            raise KeyError(f"field {exc.args[0]!r} is not in the batch; fields: {list(self)}") from None

    def copy(self) -> "Batch":
        """A shallow copy that keeps indices, epoch, number and seed (arrays are shared)."""
        return Batch(self, self.indices, epoch=self.epoch, number=self.number, seed=self.seed,
                     skipped=self.skipped)

    def __reduce__(self):
        return (_rebuild, (dict(self), self.indices, self.epoch, self.number, self.seed, self.skipped))

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}: {_describe(v)}" for k, v in self.items())
        return f"Batch(size={self.size}, epoch={self.epoch}, number={self.number}, {{{fields}}})"


def _rebuild(data, indices, epoch, number, seed, skipped) -> Batch:
    return Batch(data, indices, epoch=epoch, number=number, seed=seed, skipped=skipped)


def _describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"{value.dtype}{list(value.shape)}"
    return f"{type(value).__name__}[{len(value)}]" if hasattr(value, "__len__") else repr(value)
