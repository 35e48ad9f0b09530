"""The decoder protocol: :class:`Decoder`, :class:`BatchDecoder`, :class:`FunctionDecoder`.

Example:
    >>> from ladle.decoders.base import FunctionDecoder
    >>> FunctionDecoder(lambda data, row: len(data))(b"abc")
    3
"""

from __future__ import annotations

import inspect
import io
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import numpy as np

from .._checks import check_choice

if TYPE_CHECKING:  # imported lazily: ladle.sources imports this module
    from ..sources.base import Field

__all__ = ["BatchDecoder", "Decoder", "FunctionDecoder", "as_decoder"]


def _field(dtype: Any, shape: tuple) -> "Field":
    from ..sources.base import Field

    return Field(np.dtype(dtype), tuple(shape))

INPUTS = ("bytes", "file", "row")
_EMPTY_ROW: Mapping[str, Any] = {}


def _as_bytes(data: Any) -> bytes:
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    if hasattr(data, "read"):
        return data.read()
    raise TypeError(f"expected bytes or a binary file, got {type(data).__name__}")


def _as_file(data: Any) -> Any:
    return io.BytesIO(data) if isinstance(data, (bytes, bytearray, memoryview)) else data


def _shape(shape: Sequence[int | None] | None) -> tuple | None:
    return None if shape is None else tuple(None if s is None else int(s) for s in shape)


class Decoder:
    """Base class of decoders: ``decode(data, row)`` gives one sample; ``collate`` makes the batch.

    Attributes:
        input: ``"bytes"``, ``"file"`` or ``"row"`` (what ``data`` is; see the module docs).
        dtype: dtype of the samples, if known.
        shape: per-sample shape, if known (``None`` entries for sizes that vary).
        batch: False; True for :class:`BatchDecoder`.

    Example:
        >>> class Length(Decoder):
        ...     dtype, shape = np.dtype("int64"), ()
        ...     def decode(self, data, row):
        ...         return len(data)
        >>> Length().collate([Length()(b"abc"), 5], []).tolist()
        [3, 5]
    """

    input: str = "bytes"
    dtype: np.dtype | None = None
    shape: tuple | None = None
    batch: bool = False

    def decode(self, data: Any, row: Mapping[str, Any]) -> Any:  # pragma: no cover - abstract
        """One sample from ``data`` (bytes, a binary file or None) and its ``row``."""
        raise NotImplementedError

    def __call__(self, data: Any, row: Mapping[str, Any] = _EMPTY_ROW) -> Any:
        return self.decode(data, row)

    @property
    def fixed(self) -> bool:
        """Whether every sample has the declared dtype and shape (so batches are stacked)."""
        return (self.dtype is not None and self.shape is not None
                and all(s is not None for s in self.shape))

    @property
    def field(self) -> Field:
        """The batch field this decoder gives (object dtype for ragged samples)."""
        if self.fixed:
            return _field(np.dtype(self.dtype), tuple(self.shape))
        return _field(np.dtype(object), ())

    @property
    def extras(self) -> dict[str, Field]:
        """Extra outputs (suffix → Field); ``decode`` then returns ``{"": sample, suffix: ...}``."""
        return {}

    def check(self, sample: Any) -> Any:
        """Check one decoded sample against the declared shape (a mismatch is that row's error)."""
        if getattr(sample, "shape", None) == self.shape or not self.fixed:
            return sample
        arr = np.asarray(sample)
        if arr.shape != self.shape:
            raise ValueError(f"decoded a sample of shape {arr.shape}, but {self!r} declares shape "
                             f"{self.shape}")
        return arr

    def collate(self, samples: list, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """The batch array of ``samples``: stacked when fixed, else a 1-D object array."""
        if self.fixed:
            out = np.empty((len(samples),) + tuple(self.shape), dtype=self.dtype)
            for i, s in enumerate(samples):
                out[i] = s
            return out
        out = np.empty(len(samples), dtype=object)
        for i, s in enumerate(samples):
            out[i] = s
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class BatchDecoder(Decoder):
    """A decoder that receives all items of a batch at once: ``decode_batch(items, rows) -> array``.

    Errors cannot be traced to one row: a failing ``decode_batch`` fails the whole batch.

    Example:
        >>> class Lengths(BatchDecoder):
        ...     def decode_batch(self, items, rows):
        ...         return np.array([len(x) for x in items])
        >>> Lengths().decode_batch([b"a", b"bcd"], [{}, {}]).tolist()
        [1, 3]
    """

    batch = True

    def decode_batch(self, items: list,
                     rows: Sequence[Mapping[str, Any]]) -> Any:  # pragma: no cover - abstract
        """The batch array (or ``{"": array, suffix: array}``) from every row's item."""
        raise NotImplementedError

    def decode(self, data: Any, row: Mapping[str, Any]) -> Any:
        return self.decode_batch([data], [row])[0]


def _one_argument(fn: Callable[..., Any]) -> bool:
    """Whether ``fn`` takes exactly one positional argument (so it gets no row).

    Example:
        >>> _one_argument(lambda data: 0), _one_argument(lambda data, row=None: 0)
        (True, False)
    """
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):  # some builtins have no signature
        return False
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return False
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params) == 1


class FunctionDecoder(Decoder):
    """Any callable as a decoder: ``fn(data, row)`` (or ``fn(items, rows)`` with ``batch=True``).

    A function of one argument gets only the data (``fn(data)``, ``fn(items)``), or only the row
    with ``input="row"`` (``fn(row)``).

    Args:
        fn: the function.
        input: ``"bytes"``, ``"file"`` or ``"row"``.
        dtype, shape: declare the output so that batches are stacked into one array.
        batch: ``fn`` takes the whole batch (lists of items and rows) and returns the batch array.

    Example:
        >>> dec = FunctionDecoder(lambda data, row: np.frombuffer(data, np.uint8), dtype="uint8",
        ...                       shape=(2,))
        >>> dec.collate([dec(b"ab"), dec(b"cd")], []).tolist()
        [[97, 98], [99, 100]]
    """

    def __init__(self, fn: Callable[..., Any], input: str = "bytes", dtype: Any = None,
                 shape: Sequence[int | None] | None = None, batch: bool = False):
        if not callable(fn):
            raise TypeError(f"fn={fn!r} must be callable: fn(data, row) -> array")
        self.fn = fn
        self.input = check_choice("input", input, INPUTS)
        self.dtype = None if dtype is None else np.dtype(dtype)
        self.shape = _shape(shape)
        self.batch = bool(batch)
        self.one_argument = _one_argument(fn)

    def decode(self, data: Any, row: Mapping[str, Any]) -> Any:
        if self.batch:
            return self.decode_batch([data], [row])[0]
        if self.one_argument:
            return self.fn(row if self.input == "row" else data)
        return self.fn(data, row)

    def decode_batch(self, items: list, rows: Sequence[Mapping[str, Any]]) -> Any:
        """``fn(items, rows)`` (``batch=True`` only)."""
        if self.one_argument:
            return self.fn(rows if self.input == "row" else items)
        return self.fn(items, rows)

    def __repr__(self) -> str:
        name = getattr(self.fn, "__qualname__", repr(self.fn))
        return (f"FunctionDecoder({name}, input={self.input!r}, dtype={self.dtype}, "
                f"shape={self.shape})")


def as_decoder(obj: Any) -> Decoder:
    """A :class:`Decoder` as is; a callable wrapped in :class:`FunctionDecoder`.

    Example:
        >>> as_decoder(len).input
        'bytes'
    """
    if isinstance(obj, Decoder):
        return obj
    if callable(obj):
        return FunctionDecoder(obj)
    raise TypeError(f"{obj!r} is not a decoder: give a ladle.decoders.Decoder or a callable "
                    "fn(data, row) -> array")
