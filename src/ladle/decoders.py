"""Decoders: turn the bytes of a file or URL (and its inventory row) into a sample array.

A decoder is called per row as ``decoder(data, row)``, where ``data`` is the content as ``bytes``
(``input="bytes"``, the default, fetched for a whole batch at once, concurrently for URLs), an open
binary file (``input="file"``, for formats that seek or read only part of a file), or ``None``
(``input="row"``: the sample is computed from the row's columns alone); ``row`` is a read-only
mapping of the row's columns (``row.index`` is the row id). The decoded samples of a batch are then
collated: stacked into one array when the decoder declares its ``dtype`` and ``shape``, otherwise
kept as a 1-D object array (ragged samples). :class:`Pad` pads ragged samples to a common length.

A :class:`BatchDecoder` receives all rows of a batch at once (``decode_batch(items, rows)``), like
datagenerator's ``transform_batch``.

Any callable ``(data, row) -> array`` works as a decoder; wrap it in :class:`FunctionDecoder` to
declare its output (``dtype=``, ``shape=``) so that batches are stacked.

Example:
    >>> import io, numpy as np
    >>> from ladle.decoders import NpyDecoder
    >>> buf = io.BytesIO(); np.save(buf, np.arange(3)); data = buf.getvalue()
    >>> NpyDecoder()(data).tolist()
    [0, 1, 2]
"""

from __future__ import annotations

import inspect
import io
import json
import os
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import numpy as np

from ._checks import check_choice
if TYPE_CHECKING:  # imported lazily: ladle.sources imports this module
    from .sources.base import Field

__all__ = ["BatchDecoder", "BytesDecoder", "Decoder", "FunctionDecoder", "ImageDecoder",
           "JsonDecoder", "NpyDecoder", "Pad", "TextDecoder", "WavDecoder", "as_decoder",
           "decoder_for"]


def _field(dtype: Any, shape: tuple) -> "Field":
    from .sources.base import Field

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


# ---------------------------------------------------------------------- images
_CHANNELS = {"L": 1, "P": 1, "LA": 2, "PA": 2, "RGB": 3, "YCbCr": 3, "LAB": 3, "HSV": 3,
             "RGBA": 4, "RGBa": 4, "RGBX": 4, "CMYK": 4, "La": 2}
_RESAMPLE = ("nearest", "bilinear", "bicubic", "lanczos", "box", "hamming")


def _pil():
    try:
        from PIL import Image
    except ImportError as exc:  # pragma: no cover - exercised by monkeypatching in the tests
        raise ImportError("decoding images needs Pillow: pip install ladle[images]") from exc
    return Image


class ImageDecoder(Decoder):
    """Images (PNG, JPEG, ... anything Pillow reads) → uint8 arrays ``(height, width, channels)``.

    Args:
        mode: convert to this Pillow mode (``"RGB"``, ``"L"``, ``"RGBA"``...); None keeps the file's
            (8-bit modes only; a 1-bit image becomes ``"L"``).
        size: ``(height, width)`` to resize to (skipped for images already of that size).
        resample: ``"nearest"``, ``"bilinear"``, ``"bicubic"``, ``"lanczos"``, ``"box"`` or
            ``"hamming"``.

    With both ``mode`` and ``size`` the samples have a fixed shape and batches are stacked into
    ``(batch, height, width, channels)``; otherwise they are ragged (an object array).

    Example:
        >>> from PIL import Image
        >>> buf = io.BytesIO(); Image.new("RGB", (4, 2), "red").save(buf, "PNG")
        >>> dec = ImageDecoder(mode="L", size=(3, 3))
        >>> dec(buf.getvalue()).shape, dec.field.shape
        ((3, 3, 1), (3, 3, 1))
    """

    def __init__(self, mode: str | None = None, size: tuple[int, int] | None = None,
                 resample: str = "bilinear"):
        if mode is not None and mode not in _CHANNELS:
            raise ValueError(f"mode={mode!r} is not an 8-bit Pillow mode; use one of "
                             f"{sorted(_CHANNELS)}")
        if size is not None:
            if len(size) != 2 or any(int(s) < 1 for s in size):
                raise ValueError(f"size={size!r} must be (height, width) with both >= 1")
            size = (int(size[0]), int(size[1]))
        self.mode, self.size = mode, size
        self.resample = check_choice("resample", resample, _RESAMPLE)
        self.dtype = np.dtype(np.uint8)
        channels = None if mode is None else _CHANNELS[mode]
        self.shape = (size or (None, None)) + (channels,)

    def decode(self, data: Any, row: Mapping[str, Any]) -> np.ndarray:
        Image = _pil()
        with Image.open(_as_file(data)) as img:
            img.load()  # decode now, so that truncated or corrupt files fail here
            if self.mode is not None and img.mode != self.mode:
                img = img.convert(self.mode)
            elif self.mode is None and img.mode not in _CHANNELS:
                if img.mode != "1":
                    raise ValueError(f"image mode {img.mode!r} is not 8-bit; give "
                                     "ImageDecoder(mode='L') or mode='RGB' to convert it")
                img = img.convert("L")
            if self.size is not None and (img.height, img.width) != self.size:
                method = getattr(Image.Resampling, self.resample.upper())
                img = img.resize((self.size[1], self.size[0]), method)
            arr = np.asarray(img)
        return arr[:, :, None] if arr.ndim == 2 else arr

    def __repr__(self) -> str:
        return f"ImageDecoder(mode={self.mode!r}, size={self.size!r})"


# ---------------------------------------------------------------------- arrays, audio, text
class NpyDecoder(Decoder):
    """``.npy`` files → arrays, loaded with ``allow_pickle=False`` (object arrays are refused).

    Args:
        dtype, shape: declare the arrays (both) so that batches are stacked; checked per sample.

    Example:
        >>> buf = io.BytesIO(); np.save(buf, np.ones((2, 2), "float32"))
        >>> NpyDecoder("float32", (2, 2))(buf.getvalue()).sum()
        np.float32(4.0)
    """

    def __init__(self, dtype: Any = None, shape: Sequence[int | None] | None = None):
        if (dtype is None) != (shape is None):
            raise ValueError(f"give both dtype= and shape= (got dtype={dtype!r}, shape={shape!r}) "
                             "to stack batches, or neither for ragged arrays")
        self.dtype = None if dtype is None else np.dtype(dtype)
        self.shape = _shape(shape)

    def decode(self, data: Any, row: Mapping[str, Any]) -> np.ndarray:
        out = np.load(_as_file(data), allow_pickle=False)
        if not isinstance(out, np.ndarray):
            raise ValueError("the file is an .npz archive, not an .npy array; use a "
                             "FunctionDecoder that picks the array (np.load(f)['name'])")
        return out if self.dtype is None else out.astype(self.dtype, copy=False)

    def __repr__(self) -> str:
        return f"NpyDecoder(dtype={self.dtype}, shape={self.shape})"


class WavDecoder(Decoder):
    """WAV audio → float32 ``(frames, channels)`` in [-1, 1), with its sample rate kept.

    Integer PCM is scaled to [-1, 1); float WAV is kept as is. No resampling: with ``rate=None``
    each sample's rate is returned as an extra field ``<name>_rate`` (int32); with ``rate=`` a file
    of another rate is that row's error. Audio lengths vary, so batches are ragged: wrap the
    decoder in :class:`Pad` for a padded array. Reads with ``scipy.io.wavfile``
    (``pip install ladle[audio]``).

    Args:
        rate: the expected sample rate in Hz, or None to accept and report any.
        channels: the expected channel count, or None.

    Example:
        >>> from scipy.io import wavfile
        >>> buf = io.BytesIO(); wavfile.write(buf, 8000, np.array([0, 16384], np.int16))
        >>> out = WavDecoder()(buf.getvalue())
        >>> out[""].ravel().tolist(), out["rate"]
        ([0.0, 0.5], 8000)
    """

    def __init__(self, rate: int | None = None, channels: int | None = None):
        self.rate = None if rate is None else int(rate)
        self.channels = None if channels is None else int(channels)
        self.dtype = np.dtype(np.float32)
        self.shape = (None, self.channels)

    @property
    def extras(self) -> dict[str, Field]:
        return {} if self.rate is not None else {"rate": _field(np.dtype(np.int32), ())}

    def decode(self, data: Any, row: Mapping[str, Any]) -> Any:
        try:
            from scipy.io import wavfile
        except ImportError as exc:  # pragma: no cover - scipy is installed in the test environment
            raise ImportError("decoding WAV audio needs scipy: pip install ladle[audio]") from exc
        rate, audio = wavfile.read(_as_file(data))
        if self.rate is not None and rate != self.rate:
            raise ValueError(f"the file has a sample rate of {rate} Hz, expected rate={self.rate}; "
                             "resample the file or pass rate=None")
        if audio.ndim == 1:
            audio = audio[:, None]
        if self.channels is not None and audio.shape[1] != self.channels:
            raise ValueError(f"the file has {audio.shape[1]} channels, expected "
                             f"channels={self.channels}")
        if audio.dtype.kind == "f":
            out = audio.astype(np.float32, copy=False)
        elif audio.dtype == np.uint8:
            out = (audio.astype(np.float32) - 128.0) / 128.0
        else:
            out = audio.astype(np.float32) / float(2 ** (8 * audio.dtype.itemsize - 1))
        return out if self.rate is not None else {"": out, "rate": int(rate)}

    def __repr__(self) -> str:
        return f"WavDecoder(rate={self.rate}, channels={self.channels})"


class TextDecoder(Decoder):
    """Text files → ``str`` (batches are object arrays of strings).

    Example:
        >>> TextDecoder()("héllo".encode())
        'héllo'
    """

    def __init__(self, encoding: str = "utf-8", errors: str = "strict"):
        self.encoding, self.errors = encoding, errors

    def decode(self, data: Any, row: Mapping[str, Any]) -> str:
        return _as_bytes(data).decode(self.encoding, self.errors)


class BytesDecoder(Decoder):
    """The raw content as ``bytes`` (batches are object arrays).

    Example:
        >>> BytesDecoder()(b"\\x00\\x01")
        b'\\x00\\x01'
    """

    def decode(self, data: Any, row: Mapping[str, Any]) -> bytes:
        return _as_bytes(data)


class JsonDecoder(Decoder):
    """JSON documents → Python objects, or arrays of ``dtype`` (stacked when ``shape`` is given).

    Example:
        >>> JsonDecoder("float32", (2,))(b"[1, 2]").tolist()
        [1.0, 2.0]
        >>> JsonDecoder()(b'{"a": 1}')
        {'a': 1}
    """

    def __init__(self, dtype: Any = None, shape: Sequence[int | None] | None = None):
        if shape is not None and dtype is None:
            raise ValueError(f"shape={shape!r} needs dtype= too, to stack batches")
        self.dtype = None if dtype is None else np.dtype(dtype)
        self.shape = _shape(shape)

    def decode(self, data: Any, row: Mapping[str, Any]) -> Any:
        obj = json.loads(_as_bytes(data))
        return obj if self.dtype is None else np.asarray(obj, dtype=self.dtype)


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


# ---------------------------------------------------------------------- by extension
_BY_EXTENSION: dict[str, Callable[[], Decoder]] = {
    **{ext: ImageDecoder for ext in (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff",
                                     ".webp", ".ppm", ".pgm")},
    ".npy": NpyDecoder, ".wav": WavDecoder, ".txt": TextDecoder, ".json": JsonDecoder,
}


def decoder_for(path: str) -> Decoder:
    """A default decoder for a file name, by extension (raw bytes for unknown extensions).

    Example:
        >>> decoder_for("cat/001.PNG"), decoder_for("x.bin")
        (ImageDecoder(mode=None, size=None), BytesDecoder())
    """
    ext = os.path.splitext(str(path))[1].lower()
    return _BY_EXTENSION.get(ext, BytesDecoder)()
