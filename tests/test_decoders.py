import io
import json
import sys
import wave

import numpy as np
import pytest
from PIL import Image

from ladle.decoders import (BatchDecoder, BytesDecoder, FunctionDecoder, ImageDecoder, JsonDecoder,
                            NpyDecoder, Pad, TextDecoder, WavDecoder, as_decoder, decoder_for)


def png(array: np.ndarray, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, fmt)
    return buf.getvalue()


def npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def test_image_rgb_round_trip_is_uint8_hwc():
    img = np.random.default_rng(0).integers(0, 255, (5, 7, 3), dtype=np.uint8)
    out = ImageDecoder()(png(img))
    np.testing.assert_array_equal(out, img)
    assert out.dtype == np.uint8
    assert ImageDecoder().field.dtype == object  # shape unknown without mode and size
    out = ImageDecoder()(io.BytesIO(png(img)))  # a file object works too
    assert out.shape == (5, 7, 3)


def test_image_mode_and_resize_give_a_fixed_field():
    img = np.zeros((4, 6, 3), np.uint8)
    dec = ImageDecoder(mode="L", size=(2, 3))
    out = dec(png(img))
    assert out.shape == (2, 3, 1) and dec.field.shape == (2, 3, 1) and dec.field.dtype == np.uint8
    gray = ImageDecoder()(png(np.zeros((3, 3), np.uint8)))
    assert gray.shape == (3, 3, 1)
    batch = dec.collate([out, out], [])
    assert batch.shape == (2, 2, 3, 1)
    bilevel = Image.new("1", (2, 2), 1)
    buf = io.BytesIO()
    bilevel.save(buf, "PNG")
    assert ImageDecoder()(buf.getvalue()).tolist() == [[[255], [255]], [[255], [255]]]


def test_image_bad_arguments_and_modes():
    with pytest.raises(ValueError, match="mode='I;16' is not an 8-bit"):
        ImageDecoder(mode="I;16")
    with pytest.raises(ValueError, match="size=.*height, width"):
        ImageDecoder(size=(0, 3))
    with pytest.raises(ValueError, match="resample='cubic' is not one of"):
        ImageDecoder(resample="cubic")
    buf = io.BytesIO()
    Image.fromarray(np.zeros((2, 2), np.uint16)).save(buf, "PNG")
    with pytest.raises(ValueError, match="not 8-bit.*mode='L'"):
        ImageDecoder()(buf.getvalue())
    assert ImageDecoder(mode="L")(buf.getvalue()).shape == (2, 2, 1)


def test_truncated_and_corrupt_images_raise():
    data = png(np.random.default_rng(1).integers(0, 255, (32, 32, 3), dtype=np.uint8))
    with pytest.raises(OSError):
        ImageDecoder()(data[: len(data) // 2])
    with pytest.raises(OSError):
        ImageDecoder()(b"not an image at all")


def test_pillow_missing_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError, match=r"pip install ladle\[images\]"):
        ImageDecoder()(b"")


def test_fixed_decoders_check_each_sample():
    dec = ImageDecoder(mode="RGB", size=(2, 2))
    assert dec.check(np.zeros((2, 2, 3))).shape == (2, 2, 3)
    with pytest.raises(ValueError, match=r"shape \(3, 2, 3\).*declares shape \(2, 2, 3\)"):
        dec.check(np.zeros((3, 2, 3)))


def test_npy_refuses_pickles_and_npz():
    arr = np.arange(6, dtype=np.int32).reshape(2, 3)
    np.testing.assert_array_equal(NpyDecoder()(npy(arr)), arr)
    assert NpyDecoder("float32", (2, 3))(npy(arr)).dtype == np.float32
    with pytest.raises(ValueError, match="allow_pickle"):
        NpyDecoder()(npy(np.array([{"a": 1}], dtype=object)))
    buf = io.BytesIO()
    np.savez(buf, a=arr)
    with pytest.raises(ValueError, match="npz archive"):
        NpyDecoder()(buf.getvalue())
    with pytest.raises(ValueError, match="both dtype= and shape="):
        NpyDecoder(shape=(3,))


def _wav_pcm16(samples: np.ndarray, rate: int, channels: int = 1) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.astype("<i2").tobytes())
    return buf.getvalue()


def test_wav_pcm_is_float32_with_its_rate():
    data = _wav_pcm16(np.array([0, 16384, -32768, 8192]), 16000, channels=2)
    out = WavDecoder()(data)
    assert out[""].dtype == np.float32 and out[""].shape == (2, 2)
    assert out[""].tolist() == [[0.0, 0.5], [-1.0, 0.25]] and out["rate"] == 16000
    assert WavDecoder().extras["rate"].dtype == np.int32
    fixed = WavDecoder(rate=16000, channels=2)
    assert fixed.extras == {} and fixed(data).shape == (2, 2)
    with pytest.raises(ValueError, match="16000 Hz, expected rate=8000"):
        WavDecoder(rate=8000)(data)
    with pytest.raises(ValueError, match="2 channels, expected channels=1"):
        WavDecoder(channels=1)(data)


def test_wav_float_and_uint8():
    from scipy.io import wavfile

    buf = io.BytesIO()
    wavfile.write(buf, 8000, np.array([0.25, -0.5], np.float32))
    assert WavDecoder(rate=8000)(buf.getvalue()).ravel().tolist() == [0.25, -0.5]
    buf = io.BytesIO()
    wavfile.write(buf, 8000, np.array([128, 192], np.uint8))
    assert WavDecoder(rate=8000)(buf.getvalue()).ravel().tolist() == [0.0, 0.5]


def test_text_bytes_json():
    assert TextDecoder()("çà".encode()) == "çà"
    assert TextDecoder("latin-1")("é".encode("latin-1")) == "é"
    with pytest.raises(UnicodeDecodeError):
        TextDecoder()(b"\xff")
    assert BytesDecoder()(io.BytesIO(b"ab")) == b"ab"
    with pytest.raises(TypeError, match="expected bytes or a binary file, got int"):
        TextDecoder()(42)
    listed = FunctionDecoder(lambda d: [1, 2], dtype="int64", shape=(2,))
    assert listed.check(listed(b"")).tolist() == [1, 2]  # a list of the declared shape is fine
    assert JsonDecoder()(json.dumps({"k": [1]}).encode()) == {"k": [1]}
    dec = JsonDecoder("int64", (2,))
    assert dec.field.shape == (2,) and dec(b"[3, 4]").tolist() == [3, 4]
    with pytest.raises(json.JSONDecodeError):
        JsonDecoder()(b"{")
    with pytest.raises(ValueError, match="needs dtype="):
        JsonDecoder(shape=(2,))
    col = TextDecoder().collate(["a", "bcd"], [])
    assert col.dtype == object and col.tolist() == ["a", "bcd"]


def test_function_decoders_and_inputs():
    dec = as_decoder(lambda data, row: len(data) + row["k"])
    assert isinstance(dec, FunctionDecoder) and dec(b"abc", {"k": 1}) == 4
    row_dec = FunctionDecoder(lambda data, row: row["k"] * 2, input="row", dtype="int64", shape=())
    assert row_dec(None, {"k": 5}) == 10 and row_dec.field.shape == ()
    with pytest.raises(ValueError, match="input='disk' is not one of"):
        FunctionDecoder(len, input="disk")
    with pytest.raises(TypeError, match="not a decoder"):
        as_decoder(42)
    with pytest.raises(TypeError, match="must be callable"):
        FunctionDecoder(3)
    assert FunctionDecoder(len)(b"abcd", {"k": 1}) == 4  # one argument: the data only
    assert FunctionDecoder(lambda row: row["k"], input="row")(None, {"k": 7}) == 7
    assert FunctionDecoder(lambda rows: [r["k"] for r in rows], input="row",
                           batch=True).decode_batch([None], [{"k": 2}]) == [2]
    batched = FunctionDecoder(lambda items, rows: np.array([len(x) for x in items]), batch=True)
    assert batched.batch and batched.decode_batch([b"a", b"bb"], [{}, {}]).tolist() == [1, 2]
    assert batched(b"xyz") == 3
    ragged = dec.collate([np.zeros(2), np.zeros(2)], [])
    assert ragged.dtype == object and ragged.shape == (2,)  # equal shapes stay separate samples


def test_batch_decoder_base():
    class Lengths(BatchDecoder):
        dtype, shape = np.dtype("int64"), ()

        def decode_batch(self, items, rows):
            return np.array([len(x) for x in items])

    assert Lengths()(b"abcd") == 4 and Lengths().field.shape == ()


def test_pad_to_longest_and_fixed_length():
    seq = FunctionDecoder(lambda d, r: np.frombuffer(d, np.uint8).astype(np.int64), dtype="int64",
                          shape=(None,))
    pad = Pad(seq, value=-1)
    assert pad.field.shape == (-1,) and pad.field.dtype == np.int64
    out = pad.collate([pad(b"ab"), pad(b"c"), pad(b"")], [])
    assert out.tolist() == [[97, 98], [99, -1], [-1, -1]]
    fixed = Pad(seq, length=3)
    assert fixed.field.shape == (3,)
    assert fixed.collate([fixed(b"a")], []).tolist() == [[97, 0, 0]]
    with pytest.raises(ValueError, match="exceeds length=3.*truncate=True"):
        fixed(b"abcd")
    assert Pad(seq, length=2, truncate=True)(b"abcd").tolist() == [97, 98]


def test_pad_audio_along_frames_keeps_rate():
    pad = Pad(WavDecoder(), length=4)
    out = pad(_wav_pcm16(np.array([16384, 16384]), 8000))
    assert out["rate"] == 8000 and out[""].shape == (2, 1)
    assert pad.extras == WavDecoder().extras
    batch = pad.collate([out[""], np.zeros((3, 1), np.float32)], [])
    assert batch.shape == (2, 4, 1) and batch[0, :, 0].tolist() == [0.5, 0.5, 0, 0]
    with pytest.raises(ValueError, match="cannot pad row 1"):
        pad.collate([np.zeros((2, 1)), np.zeros((2, 2))], [])


def test_pad_arguments():
    with pytest.raises(ValueError, match="needs dtype="):
        Pad(lambda d, r: d)
    with pytest.raises(ValueError, match="length=0 must be >= 1"):
        Pad(WavDecoder(), length=0)
    with pytest.raises(ValueError, match="axis=2 is out of range"):
        Pad(WavDecoder(), axis=2)
    with pytest.raises(TypeError, match="per-sample decoders"):
        Pad(FunctionDecoder(len, batch=True), dtype="int64")


def test_decoder_for_extension():
    assert isinstance(decoder_for("a/B.JPG"), ImageDecoder)
    assert isinstance(decoder_for("x.npy"), NpyDecoder)
    assert isinstance(decoder_for("x.wav"), WavDecoder)
    assert isinstance(decoder_for("x.txt"), TextDecoder)
    assert isinstance(decoder_for("x.json"), JsonDecoder)
    assert isinstance(decoder_for("x"), BytesDecoder)
