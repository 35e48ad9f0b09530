import pickle

import numpy as np
import pytest

from ladle import Batch


def test_batch_is_a_dict_with_metadata():
    b = Batch({"x": np.zeros((3, 2)), "y": np.arange(3)}, np.array([7, 8, 9]), epoch=2, number=5,
              seed=1)
    assert isinstance(b, dict) and b.size == 3 and len(b) == 2
    assert b.x.shape == (3, 2) and b.indices.tolist() == [7, 8, 9]
    assert b.as_tuple("y", "x")[0].tolist() == [0, 1, 2]
    assert [a.shape for a in b.as_tuple()] == [(3, 2), (3,)]
    with pytest.raises(KeyError, match="field 'z' is not in the batch"):
        b.as_tuple("z")
    with pytest.raises(AttributeError, match="no field or attribute 'z'"):
        b.z
    assert "x: float64[3, 2]" in repr(b)


def test_random_is_keyed_by_seed_epoch_number():
    draw = lambda **k: Batch({"x": np.zeros(1)}, **k).random.integers(1 << 30, size=4).tolist()
    assert draw(seed=1, epoch=2, number=3) == draw(seed=1, epoch=2, number=3)
    assert draw(seed=1, epoch=2, number=3) != draw(seed=1, epoch=2, number=4)
    assert draw(seed=1, epoch=2, number=3) != draw(seed=1, epoch=3, number=3)
    assert draw(seed=1, epoch=2, number=3) != draw(seed=2, epoch=2, number=3)


def test_pickle_and_copy_keep_metadata():
    b = Batch({"x": np.arange(2)}, np.array([4, 5]), epoch=1, number=2, seed=3)
    for c in (pickle.loads(pickle.dumps(b)), b.copy()):
        assert (c.epoch, c.number, c.seed, c.indices.tolist()) == (1, 2, 3, [4, 5])
        assert c["x"].tolist() == [0, 1]
        assert c.random.integers(100) == Batch(b, seed=3, epoch=1, number=2).random.integers(100)


def test_empty_batch_size_from_indices():
    assert Batch({}, np.arange(4)).size == 4


# ------------------------------------------------------------------ apply_parallel and merge (core)
from hypothesis import given, strategies as st  # noqa: E402

from ladle.batch import stack_items  # noqa: E402


def square(v):
    return v * v


@pytest.mark.parametrize("target", ["for", "threads", "mpc", "async"])
def test_apply_parallel_on_fields(target):
    b = Batch({"x": np.arange(5), "y": np.arange(5) * 2}, np.arange(10, 15), seed=1)
    assert b.apply_parallel(square, src="x", dst="x2", target=target) is b
    assert b["x2"].tolist() == [0, 1, 4, 9, 16] and b.x.tolist() == [0, 1, 2, 3, 4]
    b.apply_parallel(square, src=["x", "y"], target=target)  # in place, pairwise
    assert b.x.tolist() == [0, 1, 4, 9, 16] and b.y.tolist() == [0, 4, 16, 36, 64]


def test_apply_parallel_defaults_to_indices_and_is_reproducible():
    b = Batch({"x": np.zeros(3)}, np.array([7, 8, 9]))
    assert b.apply_parallel(lambda i: i + 1, dst="next")["next"].tolist() == [8, 9, 10]
    run = lambda: Batch({"x": np.arange(50)}, seed=3, epoch=1, number=2).apply_parallel(
        lambda v: -1, src="x", dst="y", p=0.5)["y"].tolist()
    assert run() == run() and -1 in run() and 0 in run()


def test_stack_items():
    assert stack_items([1, 2.5]).tolist() == [1.0, 2.5]
    assert stack_items(["a", "bb"]).tolist() == ["a", "bb"]
    mixed = stack_items([np.zeros(2), (1, 2)])
    assert mixed.dtype == object and mixed[1] == (1, 2)
    assert stack_items([]).shape == (0,)


def test_merge_core_batches():
    a = Batch({"x": np.arange(3), "r": [[1], [2, 3], []]}, np.array([5, 6, 7]), seed=4)
    b = Batch({"x": np.arange(3, 5), "r": [[4], [5]]}, np.array([1, 2]))
    first, rest = Batch.merge([a, b], batch_size=4)
    assert first.indices.tolist() == [5, 6, 7, 1] and first.seed == 4  # source row ids kept
    assert first.x.tolist() == [0, 1, 2, 3] and first["r"] == [[1], [2, 3], [], [4]]
    assert rest.x.tolist() == [4] and rest.indices.tolist() == [2]
    assert Batch.merge([a], batch_size=3)[1] is None
    with pytest.raises(ValueError, match="batch_size=0"):
        Batch.merge([a], batch_size=0)
    with pytest.raises(ValueError, match="at least one batch"):
        Batch.merge([])


@given(sizes=st.lists(st.integers(0, 6), min_size=1, max_size=5), batch_size=st.integers(1, 20))
def test_merge_property(sizes, batch_size):
    batches, start = [], 0
    for n in sizes:
        batches.append(Batch({"x": np.arange(start, start + n)}, np.arange(start, start + n)))
        start += n
    first, rest = Batch.merge(batches, batch_size=batch_size)
    total = sum(sizes)
    assert first.x.tolist() == list(range(min(batch_size, total)))
    assert (rest is None) == (total <= batch_size)
    if rest is not None:
        assert rest.x.tolist() == list(range(batch_size, total))
