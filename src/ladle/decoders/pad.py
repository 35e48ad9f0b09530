"""Padding ragged samples to a common length: :class:`Pad` (datagenerator's ``finalize_batch``).

Example:
    >>> import numpy as np
    >>> from ladle.decoders import FunctionDecoder, Pad
    >>> pad = Pad(FunctionDecoder(lambda data, row: np.frombuffer(data, np.uint8)), dtype="uint8")
    >>> pad.collate([pad(b"ab"), pad(b"c")], []).tolist()
    [[97, 98], [99, 0]]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from .base import Decoder, FunctionDecoder, _field, as_decoder  # noqa: F401 - doctests

if TYPE_CHECKING:
    from ..sources.base import Field

__all__ = ["Pad"]


# ---------------------------------------------------------------------- padding
class Pad(Decoder):
    """Pad a ragged decoder's samples to a common length along ``axis`` (datagenerator's
    ``finalize_batch``): the longest in the batch, or a fixed ``length``.

    Args:
        decoder: the per-sample decoder (its samples must agree on every other axis).
        axis: the axis that varies.
        length: pad to this length (a fixed shape when the other sizes are declared); a longer
            sample is that row's error unless ``truncate=True``.
        value: the padding value.
        dtype: dtype of the padded batch (default: the decoder's).
        truncate: cut samples longer than ``length`` instead of failing them.

    The field's shape has ``-1`` for sizes that vary from batch to batch.

    Example:
        >>> pad = Pad(FunctionDecoder(lambda d, r: np.frombuffer(d, np.uint8)), dtype="int64")
        >>> pad.collate([pad(b"ab"), pad(b"c")], []).tolist()
        [[97, 98], [99, 0]]
    """

    def __init__(self, decoder: Any, axis: int = 0, length: int | None = None, value: Any = 0,
                 dtype: Any = None, truncate: bool = False):
        self.decoder = as_decoder(decoder)
        if self.decoder.batch:
            raise TypeError("Pad wraps per-sample decoders; a BatchDecoder pads its batch itself")
        self.input = self.decoder.input
        self.axis = int(axis)
        self.length = None if length is None else int(length)
        if self.length is not None and self.length < 1:
            raise ValueError(f"length={length!r} must be >= 1")
        self.value, self.truncate = value, bool(truncate)
        dtype = self.decoder.dtype if dtype is None else dtype
        if dtype is None:
            raise ValueError(f"Pad({self.decoder!r}) needs dtype=: the decoder declares none")
        self.dtype = np.dtype(dtype)
        inner = self.decoder.shape if self.decoder.shape is not None else (None,)
        if not -len(inner) <= self.axis < len(inner):
            raise ValueError(f"axis={axis} is out of range for samples of shape {inner}")
        shape = list(inner)
        shape[self.axis] = self.length
        self.shape = tuple(shape)

    @property
    def field(self) -> Field:
        return _field(self.dtype, tuple(-1 if s is None else s for s in self.shape))

    @property
    def extras(self) -> dict[str, Field]:
        return self.decoder.extras

    def decode(self, data: Any, row: Mapping[str, Any]) -> Any:
        out = self.decoder.decode(data, row)
        main = out[""] if isinstance(out, dict) else out
        main = np.asarray(main)
        if self.length is not None and main.shape[self.axis] > self.length:
            if not self.truncate:
                raise ValueError(f"sample of length {main.shape[self.axis]} along axis {self.axis} "
                                 f"exceeds length={self.length}; pass truncate=True to cut it")
            main = np.take(main, np.arange(self.length), axis=self.axis)
        if isinstance(out, dict):
            return {**out, "": main}
        return main

    def check(self, sample: Any) -> Any:
        return sample

    def collate(self, samples: list, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        arrays = [np.asarray(s) for s in samples]
        if not arrays:
            return np.empty((0,), dtype=self.dtype)
        axis = self.axis % arrays[0].ndim
        length = self.length or max(a.shape[axis] for a in arrays)
        shape = list(arrays[0].shape)
        shape[axis] = length
        out = np.full((len(arrays),) + tuple(shape), self.value, dtype=self.dtype)
        for i, a in enumerate(arrays):
            sl = [slice(None)] * a.ndim
            sl[axis] = slice(0, a.shape[axis])
            try:
                out[i][tuple(sl)] = a
            except ValueError as exc:
                row = getattr(rows[i], "index", i) if rows else i
                raise ValueError(f"cannot pad row {row}: its "
                                 f"shape {a.shape} differs from {tuple(shape)} on an axis other "
                                 f"than {axis}") from exc
        return out

    def __repr__(self) -> str:
        return f"Pad({self.decoder!r}, axis={self.axis}, length={self.length})"
