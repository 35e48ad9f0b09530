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
