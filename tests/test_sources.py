import pickle

import numpy as np
import pytest
from hypothesis import given, strategies as st

from ladle import ArraySource, ConcatSource, Loader, MixSource, ZipSource, concat, zip_sources
from ladle.sources.base import contiguous_runs, gather_runs


class CountingArray:
    """A storage-like array-like: supports slices only, and counts the reads."""

    def __init__(self, data):
        self.data = data
        self.reads = []

    def __len__(self):
        return len(self.data)

    def __getitem__(self, key):
        if not isinstance(key, slice):
            raise TypeError("slices only")
        self.reads.append((key.start, key.stop))
        return self.data[key]


class ItemOnly:
    """A user class with integer indexing only."""

    def __len__(self):
        return 10

    def __getitem__(self, i):
        if isinstance(i, slice):
            raise TypeError("no slices")
        return np.full(3, i)


def test_keyword_dict_and_positional_fields():
    x, y = np.zeros((4, 2)), np.arange(4)
    assert list(ArraySource(x=x, y=y).fields) == ["x", "y"]
    assert list(ArraySource({"a": x}).fields) == ["a"]
    assert list(ArraySource([x, y]).fields) == ["0", "1"]
    assert ArraySource(x=x).fields["x"].shape == (2,)


def test_lengths_must_agree():
    with pytest.raises(ValueError, match="x has 4 rows, y has 3 rows"):
        ArraySource(x=np.zeros(4), y=np.zeros(3))


def test_non_arraylike_is_refused():
    with pytest.raises(TypeError, match="field 'x' is a int"):
        ArraySource(x=5)


@given(idx=st.lists(st.integers(0, 99), min_size=1, max_size=60))
def test_storage_reads_are_runs_in_requested_order(idx):
    data = np.arange(100) * 3
    arr = CountingArray(data)
    src = ArraySource(x=arr)
    arr.reads.clear()  # construction may probe one row for the field's dtype and shape
    got = src.read(np.array(idx, dtype=np.int64))["x"]
    assert got.tolist() == (data[idx]).tolist()
    uniq = np.unique(idx)
    assert len(arr.reads) == len(contiguous_runs(uniq)[0])  # one read per contiguous run


def test_item_only_arraylikes_fall_back_to_items():
    got = ArraySource(x=ItemOnly()).read(np.array([4, 1]))["x"]
    assert got.tolist() == [[4, 4, 4], [1, 1, 1]]


def test_gather_runs_with_gaps_reads_once():
    reads = []
    data = np.arange(50)

    def read(a, b):
        reads.append((a, b))
        return data[a:b]

    got = gather_runs(read, np.array([9, 2, 5, 5, 30]), max_gap=4)
    assert got.tolist() == [9, 2, 5, 5, 30] and reads == [(2, 10), (30, 31)]


def test_ragged_and_string_fields():
    src = ArraySource(seq=[[1, 2], [3], [4, 5, 6]], name=["a", "bb", "c"])
    out = src.read(np.array([2, 0]))
    assert out["seq"].dtype == object and [s.tolist() for s in out["seq"]] == [[4, 5, 6], [1, 2]]
    assert out["name"].tolist() == ["c", "a"]
    batch = next(iter(Loader(src, 3)))
    assert batch["seq"][1].tolist() == [3]


def test_memmap_pickles_as_a_spec(tmp_path):
    path = tmp_path / "x.dat"
    mm = np.memmap(path, dtype=np.float32, mode="w+", shape=(1000, 16))
    mm[:] = np.arange(16000, dtype=np.float32).reshape(1000, 16)
    mm.flush()
    src = ArraySource(x=np.memmap(path, dtype=np.float32, mode="r", shape=(1000, 16)))
    blob = pickle.dumps(src)
    assert len(blob) < 2000  # the data does not travel
    back = pickle.loads(blob)
    np.testing.assert_array_equal(back.read(np.array([999, 0]))["x"], mm[[999, 0]])
    # a view of a memmap is not whole-file: it travels as data, correctly
    view_src = ArraySource(x=src.arrays["x"][10:20])
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(view_src)).read(np.array([0]))["x"],
                                  mm[[10]])


def test_zip_sources():
    src = zip_sources(ArraySource(x=np.arange(3)), ArraySource(y=np.arange(3) * 2))
    assert isinstance(src, ZipSource) and src.read(np.array([2]))["y"].tolist() == [4]
    with pytest.raises(ValueError, match="equal lengths, got \\[3, 2\\]"):
        zip_sources(ArraySource(x=np.arange(3)), ArraySource(y=np.arange(2)))
    with pytest.raises(ValueError, match="field 'x' is in source 0 and source 1"):
        zip_sources(ArraySource(x=np.arange(3)), ArraySource(x=np.arange(3)))


@given(idx=st.lists(st.integers(0, 9), min_size=1, max_size=30))
def test_concat_reads_across_members_in_order(idx):
    a = ArraySource(x=np.arange(4), s=["a", "b", "c", "d"])
    b = ArraySource(x=np.arange(10, 16), s=["e", "f", "g", "h", "i", "j"])
    src = concat([a, b])
    assert isinstance(src, ConcatSource) and len(src) == 10
    expected = np.r_[np.arange(4), np.arange(10, 16)][idx]
    out = src.read(np.array(idx, dtype=np.int64))
    assert out["x"].tolist() == expected.tolist()
    assert out["s"].tolist() == [list("abcdefghij")[i] for i in idx]


def test_concat_of_different_shapes_gives_object_arrays():
    src = concat([ArraySource(x=np.zeros((2, 3))), ArraySource(x=np.ones((2, 5)))])
    out = src.read(np.array([0, 3]))["x"]
    assert out.dtype == object and out[1].shape == (5,)


def test_concat_needs_same_fields():
    with pytest.raises(ValueError, match="need the same fields"):
        concat([ArraySource(x=[1]), ArraySource(y=[1])])


def test_mix_validation_and_weights():
    src = MixSource([ArraySource(x=np.zeros(3)), ArraySource(x=np.ones(1))], [3, 1])
    np.testing.assert_allclose(src.row_weights(), [0.25, 0.25, 0.25, 0.25])
    with pytest.raises(ValueError, match="weights has 1 entries for 2 sources"):
        MixSource([ArraySource(x=[0]), ArraySource(x=[1])], [1])
