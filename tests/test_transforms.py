import pickle

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ladle import Batch, Loader
from ladle.transforms import (
    Apply,
    Cast,
    Compose,
    CutMix,
    GaussianNoise,
    Map,
    MixUp,
    Normalize,
    OneHot,
    OneOf,
    RandomBrightness,
    RandomContrast,
    RandomCrop,
    RandomFlip,
    RandomResizedCrop,
    RandomTimeCrop,
    RandomZoom,
    Rescale,
    TimeShift,
)
from ladle.transforms._arrays import PAD_MODES, _map_index, gather_windows


# ----------------------------------------------------------------------------- helpers
def mk(seed=0, number=0, **fields):
    return Batch(fields, seed=seed, number=number)


def images(n=6, h=5, w=7, c=3, layout="channels_last", dtype=np.float32):
    """Distinct values everywhere, so that each output pixel tells where it came from."""
    x = np.arange(n * h * w * c, dtype=np.float64).reshape(n, h, w, c)
    if layout == "channels_first":
        x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    return x.astype(dtype)


def to_first(x):
    return np.ascontiguousarray(np.moveaxis(x, -1, 1))


def negate(a):
    return -a


def add_one(a):
    return a + 1


def add_ten(a):
    return a + 10


def binomial_ok(count, n, p, sigmas=5):
    return abs(count - n * p) <= sigmas * np.sqrt(n * p * (1 - p)) + 1


IMG = {"x": images(), "y": np.arange(6) % 3}
SIG = {"x": np.random.default_rng(0).random((6, 4, 30)).astype(np.float32), "y": np.arange(6) % 3}
CASES = {  # name: (transform, batch fields, expected x shape, expected x dtype)
    "rescale": (Rescale(0.5, 1.0), IMG, (6, 5, 7, 3), np.float32),
    "normalize": (Normalize([1, 2, 3], [2, 2, 2]), IMG, (6, 5, 7, 3), np.float32),
    "cast": (Cast("float16"), IMG, (6, 5, 7, 3), np.float16),
    "flip": (RandomFlip("horizontal_and_vertical"), IMG, (6, 5, 7, 3), np.float32),
    "crop": (RandomCrop((4, 6), padding=2, pad_mode="reflect"), IMG, (6, 4, 6, 3), np.float32),
    "resized_crop": (RandomResizedCrop((3, 4)), IMG, (6, 3, 4, 3), np.float32),
    "zoom": (RandomZoom(0.3, fill_mode="wrap"), IMG, (6, 5, 7, 3), np.float32),
    "brightness": (RandomBrightness(0.2), IMG, (6, 5, 7, 3), np.float32),
    "contrast": (RandomContrast(0.3), IMG, (6, 5, 7, 3), np.float32),
    "noise": (GaussianNoise(0.1), IMG, (6, 5, 7, 3), np.float32),
    "onehot": (OneHot(3, out_field="t"), IMG, (6, 5, 7, 3), np.float32),
    "timeshift": (TimeShift(5), SIG, (6, 4, 30), np.float32),
    "timecrop": (RandomTimeCrop(20), SIG, (6, 4, 20), np.float32),
    "mixup": (MixUp(0.5, num_classes=3), IMG, (6, 5, 7, 3), np.float32),
    "cutmix": (CutMix(1.0, num_classes=3), IMG, (6, 5, 7, 3), np.float32),
    "apply": (Apply(negate, p=0.5), IMG, (6, 5, 7, 3), np.float32),
    "map": (Map(np.flipud), IMG, (6, 5, 7, 3), np.float32),
    "oneof": (OneOf([RandomFlip(p=1), RandomBrightness(1.0)], p=0.7), IMG, (6, 5, 7, 3),
              np.float32),
}
RANDOM = {"flip", "crop", "resized_crop", "zoom", "brightness", "contrast", "noise", "timeshift",
          "timecrop", "mixup", "cutmix", "apply", "oneof"}


# ----------------------------------------------------------------------------- every transform
@pytest.mark.parametrize("name", sorted(CASES))
def test_shape_dtype_determinism_purity_and_pickling(name):
    t, fields, shape, dtype = CASES[name]
    before = {k: v.copy() for k, v in fields.items()}
    out = t(mk(seed=3, number=1, **fields))
    assert isinstance(out, Batch) and out["x"].shape == shape and out["x"].dtype == dtype
    for k, v in before.items():  # the input arrays are never written
        np.testing.assert_array_equal(fields[k], v)
    again = pickle.loads(pickle.dumps(t))(mk(seed=3, number=1, **fields))
    for k in out:
        np.testing.assert_array_equal(out[k], again[k])
    if name in RANDOM:  # another batch number draws other parameters
        other = t(mk(seed=3, number=2, **fields))
        assert any(not np.array_equal(out[k], other[k]) for k in out)


def test_input_must_be_a_batch_and_fields_must_exist():
    with pytest.raises(TypeError, match="takes a ladle.Batch"):
        RandomFlip()({"x": images()})
    with pytest.raises(KeyError, match=r"'img' is not in the batch; fields present: \['x', 'y'\]"):
        RandomFlip(fields="img")(mk(**IMG))
    with pytest.raises(KeyError, match=r"fields present: \['x', 'y'\]"):  # also on a subset
        Apply(RandomFlip(fields="img"), p=0.5)(mk(**IMG))
    with pytest.raises(TypeError, match="field 'x' is a list"):
        Rescale(2)(mk(x=[1, 2]))


@pytest.mark.parametrize("make", [lambda p: RandomFlip(p=p), lambda p: Apply(negate, p=p),
                                  lambda p: OneOf([RandomFlip()], p=p), lambda p: MixUp(p=p),
                                  lambda p: CutMix(p=p)])
@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan"), True, "0.5"])
def test_p_outside_unit_interval_is_refused(make, p):
    with pytest.raises(ValueError, match=r"p=.* must be a probability in \[0, 1\]"):
        make(p)


def test_layout_aliases_and_unknown_layout():
    assert RandomFlip(layout="NHWC").layout == "channels_last"
    assert Normalize(0, 1, layout="NCHW").layout == "channels_first"
    with pytest.raises(ValueError, match="layout='HWC' is not one of 'channels_last'"):
        RandomCrop(3, layout="HWC")
    with pytest.raises(ValueError, match=r"shape \(6, 4\); an image batch is \(N, H, W\)"):
        RandomFlip()(mk(x=np.zeros((6, 4))))


LAYOUT_OPS = [lambda l: RandomFlip("horizontal_and_vertical", layout=l),
              lambda l: RandomCrop((3, 5), padding=(1, 2), layout=l),
              lambda l: RandomResizedCrop((4, 3), layout=l),
              lambda l: RandomZoom(0.4, fill_mode="symmetric", layout=l),
              lambda l: RandomContrast(0.5, layout=l),
              lambda l: Normalize([1, 2, 3], [1, 2, 4], layout=l),
              lambda l: CutMix(num_classes=3, layout=l)]


@pytest.mark.parametrize("make", LAYOUT_OPS)
def test_channels_first_equals_channels_last_transposed(make):
    x = images()
    last = make("channels_last")(mk(seed=5, x=x, y=IMG["y"]))["x"]
    first = make("NCHW")(mk(seed=5, x=to_first(x), y=IMG["y"]))["x"]
    np.testing.assert_allclose(first, to_first(last), rtol=1e-6)


# ----------------------------------------------------------------------------- values
def test_rescale_normalize_cast_values_and_dtypes():
    u8 = np.array([[0, 51, 255]], dtype=np.uint8)
    assert Rescale(1 / 255)(mk(x=u8))["x"].dtype == np.float32
    assert Rescale(2.0, 1.0)(mk(x=np.ones(2)))["x"].tolist() == [3.0, 3.0]
    assert Rescale(2.0, dtype="float64")(mk(x=u8))["x"].dtype == np.float64
    x = images(dtype=np.float64)
    out = Normalize([1, 2, 3], [2, 4, 8])(mk(x=x))["x"]
    np.testing.assert_allclose(out, (x - [1, 2, 3]) / [2, 4, 8])
    assert out.dtype == np.float64
    assert Cast("int16")(mk(x=x))["x"].dtype == np.int16
    assert Cast("float64")(mk(x=x))["x"] is x  # already that dtype: no copy
    with pytest.raises(ValueError, match=r"std=\[1.0, 0.0\] must be > 0"):
        Normalize([0, 0], [1, 0])
    with pytest.raises(ValueError, match="mean/std have 2 values but field 'x'.* has 3 channels"):
        Normalize([0, 0], [1, 1])(mk(x=x))
    with pytest.raises(ValueError, match="mean has 2 values and std 3"):
        Normalize([0, 0], [1, 1, 1])
    with pytest.raises(ValueError, match="scale=nan must be a finite number"):
        Rescale(float("nan"))


def test_one_hot():
    out = OneHot(4)(mk(y=np.array([3, 0])))["y"]
    assert out.tolist() == [[0, 0, 0, 1], [1, 0, 0, 0]] and out.dtype == np.float32
    kept = OneHot(4, out_field="t")(mk(y=np.array([1])))
    assert kept["y"].tolist() == [1] and kept["t"].tolist() == [[0, 1, 0, 0]]
    with pytest.raises(ValueError, match=r"holds label 5 \(sample 1\), outside \[0, 4\)"):
        OneHot(4)(mk(y=np.array([0, 5])))
    with pytest.raises(ValueError, match="must hold integer labels"):
        OneHot(4)(mk(y=np.array([0.0, 1.0])))
    with pytest.raises(ValueError, match="num_classes=0 must be an int >= 1"):
        OneHot(0)


def test_brightness_contrast_noise():
    x = np.random.default_rng(1).random((200, 6, 6, 2)).astype(np.float32)
    delta = RandomBrightness((-0.3, 0.1))(mk(x=x))["x"] - x
    assert np.allclose(delta, delta[:, :1, :1, :1], atol=1e-6)
    assert (delta >= -0.3 - 1e-6).all() and (delta <= 0.1 + 1e-6).all() and delta.std() > 0.05
    clipped = RandomBrightness(0.5, clip=(0, 1))(mk(x=x))["x"]
    assert clipped.min() >= 0 and clipped.max() <= 1 and clipped.dtype == np.float32
    out = RandomContrast(0.5)(mk(x=x))["x"]
    np.testing.assert_allclose(out.mean(axis=(1, 2)), x.mean(axis=(1, 2)), atol=1e-5)
    ratio = out.std(axis=(1, 2)) / x.std(axis=(1, 2))
    assert ratio.min() >= 0.5 - 1e-4 and ratio.max() <= 1.5 + 1e-4
    assert np.allclose(ratio[:, 0], ratio[:, 1], atol=1e-4)  # one factor per sample
    rows = RandomContrast(0.5)(mk(x=x[:, :, 0, 0]))["x"]
    np.testing.assert_allclose(rows.mean(axis=1), x[:, :, 0, 0].mean(axis=1), atol=1e-5)
    noise = GaussianNoise(0.2, mean=0.5)(mk(x=np.zeros((100, 100), np.float32)))["x"]
    assert noise.dtype == np.float32
    assert abs(noise.mean() - 0.5) < 0.01 and abs(noise.std() - 0.2) < 0.01
    for t in (RandomBrightness(0.1), RandomContrast(0.1), GaussianNoise(0.1), MixUp()):
        with pytest.raises(TypeError, match="dtype uint8; .* floating-point data: put Rescale"):
            t(mk(x=np.zeros((2, 3, 3), np.uint8), y=np.zeros((2, 2), np.float32)))
    with pytest.raises(ValueError, match=r"delta=\(2, 1\) must be a finite \(low, high\) pair"):
        RandomBrightness((2, 1))
    with pytest.raises(ValueError, match="factor=1.5 gives a lower bound -0.5 below 0"):
        RandomContrast(1.5)
    with pytest.raises(ValueError, match="std=-1 must be a finite number >= 0"):
        GaussianNoise(-1)


# ----------------------------------------------------------------------------- flips
@pytest.mark.parametrize("mode", ["horizontal", "vertical", "horizontal_and_vertical"])
@pytest.mark.parametrize("layout", ["channels_last", "channels_first"])
def test_flip_twice_is_identity_and_flips_the_right_axis(mode, layout):
    x = images(layout=layout)
    t = RandomFlip(mode, p=1.0, layout=layout)
    once = t(mk(x=x))["x"]
    np.testing.assert_array_equal(t(mk(x=once))["x"], x)
    h, w = (1, 2) if layout == "channels_last" else (2, 3)
    axes = {"horizontal": (w,), "vertical": (h,), "horizontal_and_vertical": (h, w)}[mode]
    np.testing.assert_array_equal(once, np.flip(x, axes))


def test_flip_probability_is_respected_and_fields_flip_together():
    n, p = 4000, 0.3
    x = np.arange(n * 2, dtype=np.float32).reshape(n, 1, 2)
    mask = x.astype(np.int64) * 10
    out = RandomFlip(p=p, fields=("x", "m"))(mk(seed=11, x=x, m=mask))
    flipped = out["x"][:, 0, 0] != x[:, 0, 0]
    np.testing.assert_array_equal(out["x"][flipped], x[flipped][:, :, ::-1])
    np.testing.assert_array_equal(out["x"][~flipped], x[~flipped])
    np.testing.assert_array_equal(out["m"], out["x"].astype(np.int64) * 10)
    assert binomial_ok(int(flipped.sum()), n, p)
    both = RandomFlip("horizontal_and_vertical", p=0.5)(mk(seed=2, x=images(n=n, h=2, w=2, c=1)))
    corner = both["x"][:, :, :, 0].reshape(n, 4).argmin(axis=1)  # where the smallest value went
    assert all(binomial_ok(int((corner == k).sum()), n, 0.25) for k in range(4))
    assert np.array_equal(RandomFlip(p=0)(mk(x=x))["x"], x)
    with pytest.raises(ValueError, match="mode='diagonal' is not one of"):
        RandomFlip("diagonal")
    with pytest.raises(ValueError, match="must share the batch size and image size"):
        RandomFlip(fields=("x", "m"))(mk(x=images(), m=np.zeros((6, 5, 6))))


# ----------------------------------------------------------------------------- crops
@given(n=st.integers(1, 4), h=st.integers(1, 6), w=st.integers(1, 6), c=st.integers(1, 2),
       pads=st.tuples(*[st.integers(0, 3)] * 4), mode=st.sampled_from(PAD_MODES),
       first=st.booleans(), seed=st.integers(0, 1000), data=st.data())
def test_random_crop_gives_a_window_of_the_padded_image(n, h, w, c, pads, mode, first, seed, data):
    top, bottom, left, right = pads
    ch = data.draw(st.integers(1, h + top + bottom))
    cw = data.draw(st.integers(1, w + left + right))
    x = images(n, h, w, c)
    layout = "channels_first" if first else "channels_last"
    out = RandomCrop((ch, cw), padding=pads, pad_mode=mode, fill=-1,
                     layout=layout)(mk(seed=seed, x=to_first(x) if first else x))["x"]
    if first:
        out = np.moveaxis(out, 1, -1)
    kw = {"constant_values": -1} if mode == "constant" else {}
    for i in range(n):
        padded = np.pad(x[i], ((top, bottom), (left, right), (0, 0)), mode=mode, **kw)
        starts = [(a, b) for a in range(padded.shape[0] - ch + 1)
                  for b in range(padded.shape[1] - cw + 1)]
        assert any(np.array_equal(out[i], padded[a:a + ch, b:b + cw]) for a, b in starts)


def test_random_crop_offsets_cover_every_position_and_bad_arguments():
    x = images(n=300, h=3, w=3, c=1)
    out = RandomCrop(3, padding=1, fill=-1)(mk(x=x))["x"][..., 0]
    # out[i, 1, 1] is image pixel (a, b) for a crop at offset (a, b) of the padded image
    offsets = [divmod(int(v), 3) for v in out[:, 1, 1] - 9 * np.arange(300)]
    assert set(offsets) == {(a, b) for a in range(3) for b in range(3)}
    np.testing.assert_array_equal(RandomCrop((5, 7))(mk(x=images()))["x"], images())
    with pytest.raises(ValueError, match=r"size=\(12, 12\) is larger than the padded image 9x11"):
        RandomCrop(12, padding=2)(mk(x=images()))
    with pytest.raises(ValueError, match="fill=-1 cannot be stored in field 'x' of dtype uint8"):
        RandomCrop(3, padding=1, fill=-1)(mk(x=images(dtype=np.uint8)))
    with pytest.raises(ValueError, match="pad_mode='mirror' is not one of"):
        RandomCrop(3, pad_mode="mirror")
    with pytest.raises(ValueError, match="padding=-1 must be an int >= 0"):
        RandomCrop(3, padding=-1)
    with pytest.raises(ValueError, match="size=0 must be a positive int"):
        RandomCrop(0)


def test_random_resized_crop():
    x = images(h=6, w=6)
    same = RandomResizedCrop(6, scale=(1, 1), ratio=(1, 1))(mk(x=x))["x"]
    np.testing.assert_allclose(same, x)
    # no box of ratio 3..4 fits a square: the fallback is a centred crop of ratio 3 (rows 2..3)
    fallback = RandomResizedCrop((2, 6), scale=(1, 1), ratio=(3, 4))(mk(x=x))["x"]
    np.testing.assert_allclose(fallback, x[:, 2:4])
    u8 = images(n=20, h=8, w=8, dtype=np.uint8)
    out = RandomResizedCrop(5, scale=(0.2, 1))(mk(x=u8, m=u8 > 100))
    assert out["x"].dtype == np.uint8 and out["x"].shape == (20, 5, 5, 3)
    assert out["x"].min() >= u8.min() and out["x"].max() <= u8.max()
    near = RandomResizedCrop(5, interpolation="nearest", fields=("x", "m"))(
        mk(x=u8, m=u8 > 100))
    assert set(np.unique(near["x"])) <= set(np.unique(u8)) and near["m"].dtype == bool
    np.testing.assert_array_equal(near["m"], near["x"] > 100)  # the mask follows the image
    with pytest.raises(TypeError, match="dtype bool, which cannot be interpolated"):
        RandomResizedCrop(5, fields="m")(mk(x=u8, m=u8 > 100))
    with pytest.raises(ValueError, match=r"scale=\(0, 1\) must be a \(low, high\) range within"):
        RandomResizedCrop(5, scale=(0, 1))
    with pytest.raises(ValueError, match="interpolation='cubic' is not one of"):
        RandomResizedCrop(5, interpolation="cubic")


def test_random_zoom():
    x = images()
    np.testing.assert_allclose(RandomZoom((0, 0))(mk(x=x))["x"], x, rtol=1e-6)
    ones = np.ones((4, 8, 8), np.float32)
    out = RandomZoom((0.5, 1.0), fill=-2)(mk(x=ones))["x"]
    assert (out[:, 0, 0] == -2).all() and (out[:, 4, 4] == 1).all()
    inside = RandomZoom((-0.5, -0.2), interpolation="nearest")(mk(x=x))["x"]
    assert set(np.unique(inside)) <= set(np.unique(x))
    with pytest.raises(ValueError, match="its low end must be > -1"):
        RandomZoom((-1, 0))


@given(size=st.integers(1, 7), mode=st.sampled_from(PAD_MODES))
def test_out_of_range_positions_follow_numpy_pad(size, mode):
    i = np.arange(-20, size + 20)
    idx, inside = _map_index(i, size, mode)
    values = np.where(inside, idx, -1) if inside is not None else idx
    kw = {"constant_values": -1} if mode == "constant" else {}
    np.testing.assert_array_equal(values, np.pad(np.arange(size), 20, mode=mode, **kw))


# ----------------------------------------------------------------------------- time axis
@given(n=st.integers(1, 4), length=st.integers(1, 12), m=st.integers(0, 15),
       mode=st.sampled_from(PAD_MODES), seed=st.integers(0, 100))
def test_time_shift_is_a_shift_within_max(n, length, m, mode, seed):
    x = np.arange(n * length, dtype=np.float32).reshape(n, length) + 1
    out = TimeShift(m, mode=mode)(mk(seed=seed, x=x))["x"]
    for i in range(n):
        padded = np.pad(x[i], m, mode=mode)
        assert any(np.array_equal(out[i], padded[m - s:m - s + length]) for s in range(-m, m + 1))


def test_time_ops_axes_and_errors():
    spec = SIG["x"]  # (N, F, T)
    a = TimeShift(6, axis=-1)(mk(seed=4, x=spec))["x"]
    b = TimeShift(6, axis=1)(mk(seed=4, x=np.ascontiguousarray(spec.transpose(0, 2, 1))))["x"]
    np.testing.assert_array_equal(a, b.transpose(0, 2, 1))
    shifted = TimeShift(6, fields=("x", "z"))(mk(x=spec, z=spec * 2))
    np.testing.assert_array_equal(shifted["z"], shifted["x"] * 2)
    crop = RandomTimeCrop(7, fields=("x", "z"))(mk(x=spec, z=spec * 2))
    np.testing.assert_array_equal(crop["z"], crop["x"] * 2)
    for i in range(len(spec)):
        starts = [s for s in range(24) if np.array_equal(crop["x"][i], spec[i, :, s:s + 7])]
        assert starts
    np.testing.assert_array_equal(TimeShift(0)(mk(x=spec))["x"], spec)
    with pytest.raises(ValueError, match="axis=0 is not a time axis.*axis 0 is the batch axis"):
        TimeShift(2, axis=0)(mk(x=spec))
    with pytest.raises(ValueError, match="length=31 exceeds the 30 steps of field 'x'"):
        RandomTimeCrop(31)(mk(x=spec))
    with pytest.raises(ValueError, match="max_shift=-1 must be an int >= 0"):
        TimeShift(-1)


def test_gather_windows_matches_slicing():
    x = np.arange(3 * 4 * 5 * 2).reshape(3, 4, 5, 2)
    ys, xs = np.array([0, 2, 1]), np.array([3, 0, 1])
    out = gather_windows(x, (1, 2), [ys, xs], (2, 2))
    for i in range(3):
        np.testing.assert_array_equal(out[i], x[i, ys[i]:ys[i] + 2, xs[i]:xs[i] + 2])


@given(data=st.data())
def test_gather_windows_on_any_consecutive_axes(data):
    shape = tuple(data.draw(st.lists(st.integers(1, 5), min_size=2, max_size=5)))
    x = np.arange(int(np.prod(shape))).reshape(shape)
    first = data.draw(st.integers(1, len(shape) - 1))
    last = data.draw(st.integers(first, len(shape) - 1))
    axes = list(range(first, last + 1))
    sizes = [data.draw(st.integers(1, shape[a])) for a in axes]
    starts = [np.array(data.draw(st.lists(st.integers(0, shape[a] - s), min_size=shape[0],
                                          max_size=shape[0])))
              for a, s in zip(axes, sizes)]
    out = gather_windows(x, axes, starts, sizes)
    for i in range(shape[0]):
        where = [i] + [slice(None)] * (len(shape) - 1)
        for a, s, st_ in zip(axes, sizes, starts):
            where[a] = slice(st_[i], st_[i] + s)
        np.testing.assert_array_equal(out[i], x[tuple(where)])


# ----------------------------------------------------------------------------- mixing
def test_mixup_targets_sum_to_one_and_follow_the_inputs():
    n = 50
    y = np.arange(n) % 10
    x = np.eye(10, dtype=np.float32)[y]  # inputs equal to the one-hot targets: mixed alike
    out = MixUp(0.4, num_classes=10)(mk(seed=2, x=x, y=y))
    np.testing.assert_allclose(out["y"].sum(axis=1), 1, rtol=1e-6)
    np.testing.assert_allclose(out["x"], out["y"], rtol=1e-5)
    assert (out["y"].max(axis=1) < 0.999).sum() > n / 2
    soft = MixUp(1.0)(mk(x=x, y=np.eye(10, dtype=np.float32)[y]))["y"]
    np.testing.assert_allclose(soft.sum(axis=1), 1, rtol=1e-6)
    labels = np.arange(2000) % 10
    half = MixUp(1.0, num_classes=10, p=0.5)(mk(seed=3, x=np.eye(10, dtype=np.float32)[labels],
                                                y=labels))
    assert binomial_ok(int((half["y"].max(axis=1) < 1).sum()), 2000, 0.5 * 0.9)
    with pytest.raises(ValueError, match="holds integer labels; give num_classes="):
        MixUp()(mk(x=x, y=y))
    with pytest.raises(ValueError, match="has 10 columns but num_classes=3"):
        MixUp(num_classes=3)(mk(x=x, y=np.eye(10, dtype=np.float32)[y]))
    with pytest.raises(ValueError, match="alpha=0 must be a finite number > 0"):
        MixUp(alpha=0)


def test_padding_buffers_are_reused_without_mixing_fills_or_sizes():
    for fill, n in ((-1, 4), (-2, 2), (-1, 6), (-2, 6)):
        out = RandomCrop(3, padding=2, fill=fill)(mk(seed=n, x=images(n=n, h=3, w=3, c=1)))["x"]
        assert set(np.unique(out[out < 0])) <= {fill} and (out < 0).any()
        x = images(n=n, h=3, w=3, c=1)
        assert all(np.isin(o[o >= 0], x[i]).all() for i, o in enumerate(out))


@pytest.mark.parametrize("layout", ["channels_last", "channels_first"])
def test_cutmix_targets_match_the_pasted_area(layout):
    n = 40
    ids = np.arange(n)
    x = np.broadcast_to(ids[:, None, None, None], (n, 9, 7, 2)).astype(np.uint8)
    x = to_first(x) if layout == "channels_first" else x
    out = CutMix(1.0, num_classes=n, layout=layout)(mk(seed=1, x=x, y=ids))
    axes = (1, 2, 3)
    kept = (out["x"] == ids[:, None, None, None]).mean(axis=axes)
    np.testing.assert_allclose(out["y"][ids, ids], kept)
    np.testing.assert_allclose(out["y"].sum(axis=1), 1, rtol=1e-6)
    assert out["x"].dtype == np.uint8 and (kept < 1).sum() > n / 2
    untouched = CutMix(num_classes=n, p=0, layout=layout)(mk(x=x, y=ids))
    np.testing.assert_array_equal(untouched["x"], x)
    big = np.broadcast_to(np.arange(2000)[:, None, None], (2000, 4, 4)).astype(np.float32)
    some = CutMix(num_classes=2, p=0.3)(mk(seed=2, x=big, y=np.zeros(2000, np.int64)))["x"]
    mixed = (some != big).any(axis=(1, 2))
    # on 4x4 images the box is empty unless 1 - lam >= 1/4 (lam ~ Beta(1, 1): probability 3/4)
    assert binomial_ok(int(mixed.sum()), 2000, 0.3 * 0.75)


# ----------------------------------------------------------------------------- composition
def test_compose_order_plain_callables_and_owned_arrays():
    x = np.ones((3, 2), np.float32)
    kept = []

    def spy(batch):
        kept.append(batch["x"])

    out = Compose([Rescale(2.0), spy, Rescale(3.0), lambda b: {**b, "z": b["x"] + 1}])(mk(x=x))
    assert out["x"].tolist() == [[6.0, 6.0]] * 3 and out["z"][0, 0] == 7
    assert kept[0].tolist() == [[2.0, 2.0]] * 3  # a reference a function kept is not overwritten
    assert x.tolist() == [[1.0, 1.0]] * 3
    assert Compose([Rescale(2.0), Rescale(3.0)])(mk(x=x))["x"][0, 0] == 6
    with pytest.raises(TypeError, match="must be a list of transforms"):
        Compose(Rescale(2.0))
    with pytest.raises(TypeError, match="returned a int"):
        Compose([lambda b: 3])(mk(x=x))


def test_apply_on_a_random_subset():
    n, p = 3000, 0.25
    x = np.ones((n, 2), np.float32)
    out = Apply(negate, p=p)(mk(seed=5, x=x))["x"]
    assert binomial_ok(int((out[:, 0] < 0).sum()), n, p) and (out[:, 0] == out[:, 1]).all()
    assert (Apply(negate, p=0)(mk(x=x))["x"] == 1).all()
    assert (Apply(negate, p=1)(mk(x=x))["x"] == -1).all()
    joint = Apply(lambda a, b: (a + b, b), fields=("x", "z"), p=0.5)(mk(x=x, z=x * 2))
    assert set(np.unique(joint["x"])) == {1.0, 3.0} and (joint["z"] == 2).all()
    noisy = Apply(lambda a, g: a + g.random(a.shape), p=0.5, requires_rng=True)
    np.testing.assert_array_equal(noisy(mk(x=x))["x"], noisy(mk(x=x))["x"])
    flipped = Apply(RandomFlip(p=1), p=0.5)(mk(seed=1, x=images(n=400)))["x"]
    changed = (flipped != images(n=400)).any(axis=(1, 2, 3))
    assert binomial_ok(int(changed.sum()), 400, 0.5)
    batchwise = Apply(lambda b: {**b, "x": b["x"] * 0}, fields=None, p=0.5)(mk(x=x, y=np.arange(n)))
    assert binomial_ok(int((batchwise["x"][:, 0] == 0).sum()), n, 0.5)
    assert batchwise["y"].tolist() == list(range(n))
    owned = Compose([Rescale(2.0), Apply(negate, p=0.5)])(mk(x=x))["x"]  # rows written in place
    assert set(np.unique(owned)) == {-2.0, 2.0} and (x == 1).all()
    wider = Apply(lambda a: a.astype(np.float64) * 3, p=0.5)(mk(x=x))["x"]
    assert wider.dtype == np.float64 and set(np.unique(wider)) == {1.0, 3.0}
    with pytest.raises(ValueError, match="must keep the shape"):
        Apply(lambda a: a[:, :1], p=0.5)(mk(x=x))
    with pytest.raises(ValueError, match="requires_rng=True needs fields"):
        Apply(negate, fields=None, requires_rng=True)
    with pytest.raises(TypeError, match="fn=3 is not callable"):
        Apply(3)
    with pytest.raises(ValueError, match="set the fields on the transform itself"):
        Apply(RandomFlip(), fields="x")
    with pytest.raises(ValueError, match="must return one entry per sample"):
        Apply(lambda a: a.sum())(mk(x=x))


@given(n=st.integers(1, 60), p=st.floats(0, 1), w=st.floats(0.01, 10), seed=st.integers(0, 99))
def test_subsets_are_put_back_in_place(n, p, w, seed):
    x = np.arange(n, dtype=np.float64)[:, None] * np.ones((1, 3))
    ids = np.arange(n) * 7
    t = Compose([OneOf([Apply(add_one), Apply(add_ten)], p=p, weights=[1, w]), Apply(negate, p=p)])
    out = t(Batch({"x": x, "y": ids}, ids, seed=seed))
    delta = np.abs(out["x"]) - x
    assert set(np.unique(delta)) <= {0.0, 1.0, 10.0} and (delta == delta[:, :1]).all()
    assert out["y"].tolist() == ids.tolist() and out.indices.tolist() == ids.tolist()


def test_map_runs_per_sample():
    x = images()
    np.testing.assert_array_equal(Map(np.flipud)(mk(x=x))["x"], x[:, ::-1])
    assert Map(lambda a: a[:2])(mk(x=x))["x"].shape == (6, 2, 7, 3)
    ragged = Map(lambda a: a[: int(a[0, 0, 0]) // 105 % 3 + 1])(mk(x=x))["x"]
    assert ragged.dtype == object and [len(r) for r in ragged] == [1, 2, 3, 1, 2, 3]
    two = Map(lambda a, b: (b, a), fields=("x", "y"))(mk(x=x, y=IMG["y"]))
    assert two["x"].tolist() == IMG["y"].tolist() and two["y"].shape == x.shape
    draw = Map(lambda a, g: a + g.random(), requires_rng=True)
    np.testing.assert_array_equal(draw(mk(x=x))["x"], draw(mk(x=x))["x"])
    with pytest.raises(ValueError, match="must return a tuple of 2 arrays"):
        Map(lambda a, b: a, fields=("x", "y"))(mk(x=x, y=IMG["y"]))


def test_one_of_picks_one_transform_per_sample():
    n = 4000
    x = np.zeros((n, 2), np.float32)
    out = OneOf([Apply(add_one), Apply(add_ten)], weights=[3, 1])(mk(seed=9, x=x))["x"][:, 0]
    assert set(np.unique(out)) == {1.0, 10.0} and binomial_ok(int((out == 10).sum()), n, 0.25)
    some = OneOf([Apply(add_one)], p=0.4)(mk(seed=9, x=x))["x"][:, 0]
    assert binomial_ok(int((some == 1).sum()), n, 0.4)
    names = [f"s{i}" for i in range(n)]
    kept = OneOf([lambda b: b], p=0.5)(mk(x=x, names=names))
    assert kept["names"] == names  # a ragged field is put back in order
    with pytest.raises(ValueError, match="needs at least one transform"):
        OneOf([])
    with pytest.raises(ValueError, match="must be 2 finite non-negative numbers"):
        OneOf([Apply(add_one), Apply(add_ten)], weights=[1])


# ----------------------------------------------------------------------------- in a Loader
def pipeline():
    return Compose([
        RandomCrop(8, padding=2, layout="NCHW"),
        OneOf([RandomFlip("horizontal", layout="NCHW"), RandomZoom(0.2, layout="NCHW")], p=0.8),
        Apply(RandomBrightness(0.2), p=0.5), GaussianNoise(0.05),
        Normalize([0.5, 0.5], [0.2, 0.2], layout="NCHW"), CutMix(num_classes=3, layout="NCHW")])


def loader_data():
    rng = np.random.default_rng(0)
    return {"x": rng.random((90, 2, 8, 8), dtype=np.float32), "y": rng.integers(0, 3, 90)}


def run(loader):
    return [(b.number, b.indices.copy(), b["x"].copy(), b["y"].copy()) for b in loader]


def same(a, b):
    assert len(a) == len(b)
    for u, v in zip(a, b):
        assert u[0] == v[0] and np.array_equal(u[1], v[1])
        np.testing.assert_array_equal(u[2], v[2])
        np.testing.assert_array_equal(u[3], v[3])


def test_same_output_for_any_workers_and_after_resume():
    data = loader_data()
    serial = run(Loader(data, 16, shuffle=True, seed=4, transform=pipeline(), epochs=2))
    with Loader(data, 16, shuffle=True, seed=4, transform=pipeline(), epochs=2, workers=2) as lt:
        same(serial, run(lt))
    first = Loader(data, 16, shuffle=True, seed=4, transform=pipeline(), epochs=2)
    it = iter(first)
    head = [next(it) for _ in range(5)]
    resumed = Loader(data, 16, shuffle=True, seed=4, transform=pipeline(), epochs=2, workers=2)
    resumed.load_state_dict(first.state_dict())
    same(serial[5:], run(resumed))
    resumed.close()
    assert len(head) == 5
    other = run(Loader(data, 16, shuffle=True, seed=5, transform=pipeline()))
    assert not np.array_equal(other[0][2], serial[0][2])


def test_same_output_in_process_workers():
    data = loader_data()
    t = Compose([RandomCrop(8, padding=2, layout="NCHW"), Apply(negate, p=0.5),
                 Map(np.fliplr), MixUp(num_classes=3)])
    serial = run(Loader(data, 30, shuffle=True, seed=1, transform=t))
    with Loader(data, 30, shuffle=True, seed=1, transform=t, workers=2, backend="process") as lp:
        same(serial, run(lp))
