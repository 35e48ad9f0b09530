"""Decoders of file formats: images (Pillow), ``.npy``, WAV audio, text, raw bytes, JSON.

Example:
    >>> from ladle.decoders.media import decoder_for
    >>> decoder_for("a/b.npy")
    NpyDecoder(dtype=None, shape=None)
"""

from __future__ import annotations

import io  # noqa: F401 - used by the doctests
import json
import os
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import numpy as np

from .._checks import check_choice
from .base import Decoder, _as_bytes, _as_file, _field, _shape

if TYPE_CHECKING:
    from ..sources.base import Field

__all__ = ["BytesDecoder", "ImageDecoder", "JsonDecoder", "NpyDecoder", "TextDecoder",
           "WavDecoder", "decoder_for"]


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
