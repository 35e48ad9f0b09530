"""ladle.compat.batchflow: Batch components, apply_parallel (batchflow's documented examples, every
target), merge, load/dump in every format, DatasetIndex and Dataset iteration."""

import asyncio
import pickle

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, strategies as st

from ladle.compat.batchflow import Batch, Dataset, DatasetIndex, action


class ImagesBatch(Batch):
    components = ("images", "masks", "labels")

    def some_method(self, item, offset=0):
        """A plain method: ``apply_parallel(ImagesBatch.some_method, ...)`` runs it on the batch."""
        return item + offset + len(self)

    @staticmethod
    def some_static_method(ix):
        return ix * 2


def make_batch(n=6, ids=None):
    rs = np.random.RandomState(0)
    images = rs.rand(n, 4, 4)
    return ImagesBatch.from_data(ids, {"images": images, "labels": np.arange(n)})


# --------------------------------------------------------------------------- functions for mpc
def make_masks_fn(image, src=None, dst=None):
    assert (src, dst) == ("images", "masks")
    return image > 0.5


def apply_mask(pair):
    image, mask = pair
    return image * mask


def rotate(item, rng=None):
    return np.rot90(item)


def draw(item, rng):
    return rng.integers(1 << 30)


def fail_on_three(x):
    if x == 3:
        raise ValueError("three is bad")
    return x


async def slow_double(x):
    await asyncio.sleep(0.001 * (5 - x % 5))
    return x * 2


def sizes(x):
    return np.zeros(int(x) + 1)


# --------------------------------------------------------------------------- components
def test_components_read_write_and_defaults():
    b = ImagesBatch(DatasetIndex(3))
    assert b.images is None and b.masks is None and b.size == 3 == len(b)
    b.images = np.zeros((3, 2))
    assert b.images.shape == (3, 2) and b["images"] is b.images and "images" in dict(b)
    assert b.data.images is b.images and b.data.labels is None
    assert b.indices.tolist() == [0, 1, 2] == b.items.tolist()
    with pytest.raises(AttributeError, match="no component or attribute 'nope'"):
        b.nope
    b.note = "an attribute"  # not a component: an ordinary attribute
    assert "note" not in dict(b) and b.note == "an attribute"


def test_add_components():
    b = ImagesBatch(2)
    b.add_components("extra", init=np.array([1, 2]))
    b.add_components(["p", "q"], init=(np.zeros(2), np.ones(2)))
    assert b.extra.tolist() == [1, 2] and b.q.tolist() == [1.0, 1.0]
    assert b.components == ("images", "masks", "labels", "extra", "p", "q")
    assert ImagesBatch.components == ("images", "masks", "labels")  # the class is unchanged
    for name in ("images", "extra", "size", "apply_parallel"):
        with pytest.raises(ValueError, match=f"'{name}' already exists"):
            b.add_components(name)
    with pytest.raises(TypeError, match="must be a tuple"):
        type("Bad", (Batch,), {"components": ["x"]})(2)


def test_get_items_attrs_copies():
    b = make_batch(3, ids=["a", "b", "c"])
    assert b.get("b", "labels") == 1 and b.get(component="labels").tolist() == [0, 1, 2]
    item = b.get("c")
    assert item.labels == 2 and item.images.shape == (4, 4) and item.masks is None
    assert b["c"].labels == 2  # non-component keys are items
    assert b["masks"] is None
    b.create_attrs(scale=3, name="x")
    assert b.get_attrs() == {"scale": 3, "name": "x"}
    c = b.deepcopy()
    c.labels[0] = 100
    assert b.labels[0] == 0 and c.get_attrs() == b.get_attrs() and type(c) is ImagesBatch
    assert b.do_nothing(1, k=2) is b
    assert b.array_of_nones.tolist() == [None, None, None]
    restored = pickle.loads(pickle.dumps(b))
    assert type(restored) is ImagesBatch and restored.indices.tolist() == ["a", "b", "c"]
    np.testing.assert_array_equal(restored.images, b.images)
    assert restored.scale == 3 and restored.dataset is None


def test_random_and_random_seed():
    b = make_batch()
    assert isinstance(b.random, np.random.Generator)
    assert isinstance(b.random_seed, np.random.SeedSequence)
    expected = np.random.Generator(np.random.Philox(b.random_seed)).integers(1 << 30, size=3)
    assert b.random.integers(1 << 30, size=3).tolist() == expected.tolist()
    assert make_batch().seed != make_batch().seed  # standalone batches get fresh entropy


def test_to_array():
    from PIL import Image

    imgs = [Image.fromarray(np.full((5, 4, 3), i, dtype=np.uint8)) for i in range(2)]
    b = Batch.from_data(None, {"images": imgs})
    assert b.to_array("images").images.shape == (2, 5, 4, 3)
    assert b.images.dtype == np.float32
    gray = Batch.from_data(None, {"g": [np.zeros((5, 4)), np.ones((5, 4))]})
    assert gray.to_array("g", dtype=np.uint8, channels="first").g.shape == (2, 1, 5, 4)
    with pytest.raises(ValueError, match="channels='middle'"):
        gray.to_array("g", channels="middle")


def test_action_decorator_keeps_methods():
    class B(Batch):
        @action
        def double(self):
            return self

        @action(use_lock=True)
        def other(self):
            return 1

    assert B(1).double().size == 1 and B(1).other() == 1


# --------------------------------------------------------------------------- apply_parallel
@pytest.mark.parametrize("target", ["for", "f", "threads", "t", "mpc", "m", "async", "a"])
def test_documented_examples_on_every_target(target):
    b = make_batch()
    # apply_parallel(make_masks_fn, src='images', dst='masks')
    b.apply_parallel(make_masks_fn, src="images", dst="masks", target=target)
    np.testing.assert_array_equal(b.masks, b.images > 0.5)
    # apply_parallel(apply_mask, src=('images', 'masks'), dst='images_with_masks')
    b.apply_parallel(apply_mask, src=("images", "masks"), dst="images_with_masks", target=target)
    np.testing.assert_array_equal(b.images_with_masks, b.images * b.masks)
    assert "images_with_masks" in b.components
    # apply_parallel(rotate, src=['images', 'masks'], dst=['images', 'masks'], p=.2)
    before_i, before_m = b.images.copy(), b.masks.copy()
    b.apply_parallel(rotate, src=["images", "masks"], dst=["images", "masks"], p=0.5, target=target)
    turned = [not np.array_equal(b.images[i], before_i[i]) for i in range(6)]
    for i in range(6):  # the same items are rotated in both components
        expected_i = np.rot90(before_i[i]) if turned[i] else before_i[i]
        np.testing.assert_array_equal(b.images[i], expected_i)
        expected_m = np.rot90(before_m[i]) if turned[i] else before_m[i]
        np.testing.assert_array_equal(b.masks[i], expected_m)
    # apply_parallel(MyBatch.some_static_method, p=.5): no src -> the items are the indices
    out = b.apply_parallel(ImagesBatch.some_static_method, dst="doubled", target=target)
    assert out is b and b.doubled.tolist() == [0, 2, 4, 6, 8, 10]
    # apply_parallel(B.some_method, src='features', p=.5): a method of the class, on this batch
    b.apply_parallel(ImagesBatch.some_method, src="labels", dst="shifted", offset=10, target=target)
    assert b.shifted.tolist() == [16, 17, 18, 19, 20, 21]


def test_docstring_equivalence_and_dst_defaults_to_src():
    b = make_batch()
    container = [np.fliplr(item) for item in b.images]  # func without src/dst parameters
    b.apply_parallel(np.fliplr, src="images", dst="images_transformed")
    np.testing.assert_array_equal(b.images_transformed, np.stack(container))
    b.apply_parallel(lambda x: x + 1, src="labels")
    assert b.labels.tolist() == [1, 2, 3, 4, 5, 6]
    b.apply_parallel(lambda x: x - 1, src=["labels", "images"])  # list: each in place
    assert b.labels.tolist() == [0, 1, 2, 3, 4, 5]


def test_tuple_results_unzip_into_a_tuple_dst():
    b = make_batch()
    b.apply_parallel(lambda pair: (pair[1], pair[0]), src=("labels", "images"),
                     dst=("labels", "images"))
    assert b.labels.shape == (6, 4, 4) and b.images.tolist() == list(range(6))
    with pytest.raises(ValueError, match="tuple of 2 values"):
        b.apply_parallel(lambda pair: 1, src=("labels", "images"))


def test_p_probability():
    b = make_batch(200)
    b.apply_parallel(lambda x: -1, src="labels", dst="none", p=0.0)
    assert (b.none == b.labels).all()
    b.apply_parallel(lambda x: -1, src="labels", dst="all", p=1.0)
    assert (b.all == -1).all()
    b.apply_parallel(lambda x: -1, src="labels", dst="some", p=0.3)
    assert 30 < int((b.some == -1).sum()) < 90
    with pytest.raises(ValueError, match="p=1.5"):
        b.apply_parallel(lambda x: x, src="labels", p=1.5)


def test_requires_rng_and_rng_seeds():
    b = make_batch()
    b.seed, b.epoch, b.number = 5, 1, 2
    b.random = None
    b.apply_parallel(draw, src="labels", dst="r", requires_rng=True, target="mpc")
    c = make_batch()
    c.seed, c.epoch, c.number = 5, 1, 2
    c.random = None
    c.apply_parallel(draw, src="labels", dst="r", requires_rng=True)
    assert b.r.tolist() == c.r.tolist() and len(set(b.r.tolist())) == 6
    b.apply_parallel(draw, src="labels", dst="s", requires_rng=True, rng_seeds=range(6))
    assert b.s.tolist() == [np.random.default_rng(s).integers(1 << 30) for s in range(6)]
    with pytest.raises(ValueError, match="rng_seeds has 2 seeds for 6 items"):
        b.apply_parallel(draw, src="labels", requires_rng=True, rng_seeds=[1, 2])


def test_async_target_awaits_coroutines_together():
    b = make_batch(10)
    b.apply_parallel(slow_double, src="labels", dst="doubled", target="async")
    assert b.doubled.tolist() == [2 * i for i in range(10)]

    async def inside_a_running_loop():
        return b.apply_parallel(slow_double, src="labels", dst="again", target="a")

    assert asyncio.run(inside_a_running_loop()).again.tolist() == b.doubled.tolist()


def test_init_post_and_ragged_results():
    b = make_batch()
    b.apply_parallel(sizes, src="labels", dst="ragged", target="threads")
    assert b.ragged.dtype == object and [len(v) for v in b.ragged] == [1, 2, 3, 4, 5, 6]
    b.apply_parallel(lambda x: x * 3, init=[1, 2, 3, 4, 5, 6], dst="from_container")
    assert b.from_container.tolist() == [3, 6, 9, 12, 15, 18]
    b.apply_parallel(lambda x: x, init=lambda src, dst: np.arange(6) + 100, dst="from_callable")
    assert b.from_callable.tolist() == list(range(100, 106))
    seen = {}
    out = b.apply_parallel(lambda x: x, src="labels",
                           post=lambda results, src, dst: seen.update(n=len(results), src=src))
    assert out is b and seen == {"n": 6, "src": "labels"}


def test_errors():
    b = make_batch()
    with pytest.raises(ValueError, match="target='gpu'"):
        b.apply_parallel(abs, src="labels", target="gpu")
    for target in ("for", "threads", "mpc", "async"):
        with pytest.raises(ValueError, match="three is bad") as info:
            b.apply_parallel(fail_on_three, src="labels", target=target)
        assert any("item 3" in n for n in info.value.__notes__)
    with pytest.raises(KeyError, match="'nope' is not a field"):
        b.apply_parallel(abs, src="nope")
    with pytest.raises(ValueError, match="must be a list of the same length"):
        b.apply_parallel(abs, src=["labels", "images"], dst="x")
    with pytest.raises((pickle.PicklingError, AttributeError)):  # lambdas do not pickle
        b.apply_parallel(lambda x: x, src="labels", target="mpc")


# --------------------------------------------------------------------------- merge
def test_merge_renumbers_and_cuts():
    a, b = make_batch(3, ids=[10, 11, 12]), make_batch(4, ids=[20, 21, 22, 23])
    first, rest = ImagesBatch.merge([a, b], batch_size=5)
    assert type(first) is ImagesBatch and first.indices.tolist() == [0, 1, 2, 3, 4]
    assert first.labels.tolist() == [0, 1, 2, 0, 1] and rest.labels.tolist() == [2, 3]
    assert rest.indices.tolist() == [0, 1] and first.masks is None
    whole, nothing = Batch.merge([a, b])
    assert len(whole) == 7 and nothing is None and type(whole) is ImagesBatch
    only, _ = Batch.merge([a, b], components="labels", batch_class=Batch)
    assert type(only) is Batch and list(only.components) == ["labels"]
    a.masks = np.zeros(3)
    with pytest.raises(ValueError, match="'masks' is None in batches \\[1\\]"):
        Batch.merge([a, b])
    assert Batch.merge_component("x", [np.arange(2), np.arange(3)]).tolist() == [0, 1, 0, 1, 2]
    assert Batch.merge_component("x", [None, None]) is None


# --------------------------------------------------------------------------- load / dump
def test_load_in_memory_sources():
    df = pd.DataFrame({"images": np.arange(10.0), "labels": np.arange(10) % 2, "other": 0},
                      index=np.arange(100, 110))
    b = ImagesBatch(DatasetIndex([105, 101]))
    b.load(src=df)  # all batch components found in the columns
    assert b.images.tolist() == [5.0, 1.0] and b.labels.tolist() == [1, 1] and "other" not in b
    b.load(src=df, dst=("other",))
    assert b.other.tolist() == [0, 0]
    b.load(src=df, dst="features")  # the whole rows
    assert b.features.shape == (2, 3)
    arrays = ImagesBatch(DatasetIndex([2, 0]))
    arrays.load(src=dict(images=np.arange(5) * 10, masks=np.arange(5)), dst=("images", "masks"))
    assert arrays.images.tolist() == [20, 0] and arrays.masks.tolist() == [2, 0]
    arrays.load(src=(np.arange(3) + 1, np.arange(3) - 1), dst=("images", "masks"))
    assert arrays.images.tolist() == [3, 1] and arrays.masks.tolist() == [1, -1]
    arrays.load(src=np.arange(3) * 7, dst="images")
    assert arrays.images.tolist() == [14, 0]
    with pytest.raises(TypeError, match="labels, not row numbers"):
        ImagesBatch(DatasetIndex(["a"])).load(src=np.arange(3), dst="images")
    with pytest.raises(IndexError, match="outside the 3 rows"):
        ImagesBatch(DatasetIndex([5])).load(src=np.arange(3), dst="images")
    with pytest.raises(ValueError, match="fmt='xls'"):
        arrays.load(src="f.xls", fmt="xls")


def test_csv_and_feather_round_trips(tmp_path):
    b = make_batch(4, ids=[7, 8, 9, 10])
    b.add_components("score", init=np.linspace(0, 1, 4))
    b.dump(dst=str(tmp_path / "b.csv"), fmt="csv", components=("labels", "score"))
    back = ImagesBatch(DatasetIndex([9, 7])).load(fmt="csv", src=str(tmp_path / "b.csv"),
                                                  dst=("labels", "score"), index_col=0)
    assert back.labels.tolist() == [2, 0] and back.score.tolist() == pytest.approx([2 / 3, 0])
    b.save(dst=str(tmp_path / "b.feather"), fmt="feather", components=["labels", "score"])
    back = Batch(DatasetIndex([10, 8])).load(fmt="feather", src=str(tmp_path / "b.feather"))
    assert back.labels.tolist() == [3, 1] and sorted(back.components) == ["labels", "score"]
    with pytest.raises(ValueError, match="has shape \\(4, 4, 4\\)"):
        b.dump(dst=str(tmp_path / "x.csv"), fmt="csv")


def test_hdf5_round_trip_appends_batches(tmp_path):
    path = str(tmp_path / "data.h5")
    first, second = make_batch(3, ids=[0, 1, 2]), make_batch(3, ids=[3, 4, 5])
    second.images += 10
    first.dump(dst=path, fmt="hdf5", components=("images", "labels"))
    second.dump(dst=path, fmt="hdf5", components=("images", "labels"))  # appended
    back = ImagesBatch(DatasetIndex([4, 1])).load(fmt="hdf5", src=path)
    np.testing.assert_array_equal(back.images, [second.images[1], first.images[1]])
    assert back.labels.tolist() == [1, 1] and back.masks is None
    first.dump(dst=path, fmt="hdf5", mode="w", components="labels")
    with pytest.raises(KeyError, match="ids \\[4\\]"):
        ImagesBatch(DatasetIndex([4])).load(fmt="hdf5", src=path, dst="labels")
    first.dump(dst=path, fmt="hdf5", components="labels")
    with pytest.raises(ValueError, match="repeated ids"):
        ImagesBatch(DatasetIndex([1])).load(fmt="hdf5", src=path, dst="labels")
    ragged = Batch.from_data(None, {"r": [np.zeros(1), np.zeros(2)]})
    with pytest.raises(TypeError, match="use fmt='blosc'"):
        ragged.dump(dst=str(tmp_path / "r.h5"), fmt="hdf5")


def test_hdf5_written_by_h5py_is_read_by_row_numbers(tmp_path):
    import h5py

    path = str(tmp_path / "plain.h5")
    with h5py.File(path, "w") as f:
        f["images"] = np.arange(40.0).reshape(10, 4)
        f["labels"] = np.arange(10) * 3
    b = ImagesBatch(DatasetIndex([8, 2, 3])).load(fmt="hdf5", src=path)
    assert b.labels.tolist() == [24, 6, 9] and b.images[0].tolist() == [32.0, 33.0, 34.0, 35.0]


def test_blosc_round_trip(tmp_path):
    b = make_batch(3, ids=["x", "y", "z"])
    b.add_components("ragged", init=[np.zeros(1), np.zeros(2), "text"])
    b.dump(dst=str(tmp_path / "store"), fmt="blosc")
    files = sorted(p.name for p in (tmp_path / "store").iterdir())
    assert files == ["x.blosc", "y.blosc", "z.blosc"]
    back = ImagesBatch(DatasetIndex(["z", "x"])).load(fmt="blosc", src=str(tmp_path / "store"))
    np.testing.assert_array_equal(back.images, b.images[[2, 0]])  # the declared components
    assert back.labels.tolist() == [2, 0] and "ragged" not in back
    everything = Batch(DatasetIndex(["z", "x"])).load(fmt="blosc", src=str(tmp_path / "store"))
    assert sorted(everything.components) == ["images", "labels", "ragged"]
    assert everything.ragged[0] == "text" and everything.ragged.dtype == object
    via_callable = Batch(DatasetIndex(["y"])).load(
        fmt="blosc", src=lambda ix: str(tmp_path / "store" / f"{ix}.blosc"), dst="labels")
    assert via_callable.labels.tolist() == [1]
    with pytest.raises(FileNotFoundError, match="item 'w'"):
        Batch(DatasetIndex(["w"])).load(fmt="blosc", src=str(tmp_path / "store"), dst="labels")


def test_dump_in_memory():
    b = make_batch(3, ids=[3, 0, 1])
    out = {}
    b.dump(dst=out, components="labels")
    assert out["labels"].tolist() == [0, 1, 2]
    target = np.full(4, -1)
    b.dump(dst=target, components="labels")
    assert target.tolist() == [1, 2, -1, 0]
    with pytest.raises(TypeError, match="give a dict"):
        b.dump(dst=[], components="labels")
    with pytest.raises(KeyError, match="'masks' is not set"):
        b.dump(dst={}, components="masks")


# --------------------------------------------------------------------------- index and dataset
def test_next_batch_crosses_epochs_and_drop_last():
    ix = DatasetIndex(4)
    got = [ix.next_batch(3, n_epochs=2).indices.tolist() for _ in range(3)]
    assert got == [[0, 1, 2], [3, 0, 1], [2, 3]]
    with pytest.raises(StopIteration, match="no batches left"):
        ix.next_batch(3, n_epochs=2)
    ix.reset_iter()
    assert ix.next_batch(3, n_epochs=2).indices.tolist() == [0, 1, 2]
    dropped = [b.indices.tolist() for b in ix.gen_batch(3, n_epochs=2, drop_last=True)]
    assert dropped == [[0, 1, 2], [0, 1, 2]]
    assert len([b for b in DatasetIndex(4).gen_batch(3, n_iters=5)]) == 5
    endless = DatasetIndex(4).gen_batch(3)
    assert len([next(endless) for _ in range(50)]) == 50
    with pytest.raises(ValueError, match="give only one"):
        next(ix.gen_batch(3, n_iters=2, n_epochs=1))
    with pytest.raises(ValueError, match="batch_size=5 is larger than the 4 samples"):
        next(ix.gen_batch(5, n_epochs=1, drop_last=True))


@given(n=st.integers(1, 15), batch_size=st.integers(1, 20), n_epochs=st.integers(1, 4),
       drop_last=st.booleans(), shuffle=st.sampled_from([False, True, 3, "rs"]))
def test_gen_batch_property(n, batch_size, n_epochs, drop_last, shuffle):
    if drop_last and batch_size > n:
        return
    ids = np.arange(n) * 10 + 5
    shuffle = np.random.RandomState(1) if shuffle == "rs" else shuffle
    gen = DatasetIndex(ids).gen_batch(batch_size, shuffle=shuffle, n_epochs=n_epochs,
                                      drop_last=drop_last)
    batches = [b.indices for b in gen]
    if drop_last:
        per_epoch = n // batch_size
        assert len(batches) == per_epoch * n_epochs and all(len(b) == batch_size for b in batches)
        for e in range(n_epochs):  # within an epoch, no item twice
            epoch = np.concatenate(batches[e * per_epoch:(e + 1) * per_epoch])
            assert len(set(epoch.tolist())) == len(epoch)
    else:
        stream = np.concatenate(batches)
        assert len(stream) == n * n_epochs
        assert all(len(b) == batch_size for b in batches[:-1])
        for e in range(n_epochs):  # the stream is one permutation of the ids per epoch
            assert sorted(stream[e * n:(e + 1) * n].tolist()) == ids.tolist()
        if shuffle is False:
            assert stream.tolist() == np.tile(ids, n_epochs).tolist()


def test_shuffle_seed_and_generator_reshuffle_every_epoch():
    def run(s):
        return [b.indices.tolist() for b in DatasetIndex(20).gen_batch(20, shuffle=s, n_epochs=3)]

    assert run(7) == run(7) and run(7) != run(8)
    epochs = run(7)
    assert epochs[0] != epochs[1] and sorted(epochs[0]) == list(range(20))
    rs = [np.random.RandomState(2).permutation(20).tolist() for _ in range(1)]
    ref = np.random.RandomState(2)
    assert run(np.random.RandomState(2)) == [ref.permutation(20).tolist() for _ in range(3)]
    assert rs[0] == run(np.random.RandomState(2))[0]
    with pytest.raises(TypeError, match="shuffle='yes'"):
        next(DatasetIndex(3).gen_batch(2, shuffle="yes"))


def test_index_ids_positions_and_split():
    ix = DatasetIndex(["a", "b", "c", "d", "e"])
    assert ix.get_pos("d") == 3 and ix.get_pos(["e", "a"]).tolist() == [4, 0]
    assert "b" in ix and len(ix) == 5 and ix[1] == "b"
    with pytest.raises(KeyError, match="'z'"):
        ix.get_pos("z")
    assert ix.create_batch([1, 2]).indices.tolist() == ["b", "c"]
    assert ix.create_batch(["e"], pos=False).indices.tolist() == ["e"]
    assert ix.create_batch(DatasetIndex(["a"]), pos=False).indices.tolist() == ["a"]
    ix.split((0.6, 0.2, 0.2))
    assert ix.train.indices.tolist() == ["a", "b", "c"] and ix.validation.indices.tolist() == ["e"]
    ix.split(0.8, shuffle=5)
    assert sorted(ix.train.indices.tolist() + ix.test.indices.tolist()) == list("abcde")
    with pytest.raises(ValueError, match="shares"):
        ix.split((0.9, 0.5))
    assert DatasetIndex(DatasetIndex(3)).indices.tolist() == [0, 1, 2]
    assert DatasetIndex(lambda: [4, 5]).indices.tolist() == [4, 5]


def test_dataset_batches_carry_their_data():
    data = {"images": np.arange(40.0).reshape(10, 4), "labels": np.arange(10)}
    ds = Dataset(10, batch_class=ImagesBatch, preloaded=data)
    batches = list(ds.gen_batch(4, shuffle=3, n_epochs=1))
    assert [len(b) for b in batches] == [4, 4, 2]
    for b in batches:
        assert type(b) is ImagesBatch and b.dataset is ds
        np.testing.assert_array_equal(b.labels, b.indices)
        np.testing.assert_array_equal(b.images, data["images"][b.indices])
    again = list(ds.gen_batch(4, shuffle=3, n_epochs=1))
    draws = [b.random.integers(1 << 30) for b in batches]
    assert draws == [b.random.integers(1 << 30) for b in again]
    assert ds.next_batch(4, n_epochs=1).labels.tolist() == [0, 1, 2, 3]


def test_dataset_subsets_split_and_frames():
    frame = pd.DataFrame({"labels": np.arange(6) * 2}, index=list("uvwxyz"))
    ds = Dataset(DatasetIndex(frame.index), batch_class=ImagesBatch, preloaded=frame)
    assert ds.create_batch(["y", "u"]).labels.tolist() == [8, 0]
    ds.split(0.5)
    sub = ds.test
    assert sub.indices.tolist() == ["x", "y", "z"]
    assert sub.next_batch(2, n_epochs=1).labels.tolist() == [6, 8]  # rows of the parent's data
    parts = (np.zeros((3, 2)), np.ones(3), np.arange(3))
    tup = Dataset(3, batch_class=ImagesBatch, preloaded=parts)
    assert tup.create_batch([2]).labels.tolist() == [2]
    with pytest.raises(TypeError, match="batch_class"):
        Dataset(3, batch_class=dict)


def test_as_dataset_round_trip():
    b = make_batch(3, ids=[30, 10, 20])
    ds = b.as_dataset()
    assert type(ds) is Dataset and ds.batch_class is ImagesBatch
    got = ds.create_batch([10])
    np.testing.assert_array_equal(got.images[0], b.images[1])


def test_missing_optional_packages_name_the_extra(tmp_path, monkeypatch):
    import sys

    b = make_batch(2)
    for module, fmt in (("blosc2", "blosc"), ("pyarrow", "feather")):
        monkeypatch.setitem(sys.modules, module, None)
        with pytest.raises(ImportError, match=r"pip install ladle\[batchflow\]"):
            b.dump(dst=str(tmp_path / "out"), fmt=fmt, components="labels")
