"""ladle.compat.batchup: batchup's README examples and documented behaviour, checked batch for batch
against a reimplementation of batchup 0.2.3's index logic (including when it draws from the RNG)."""

import collections.abc
import configparser
import functools
import http.server
import os
import threading

import numpy as np
import pytest
from hypothesis import given, strategies as st

from ladle.compat.batchup import config, data_source, sampling, work_pool


# --------------------------------------------------------------------------- reference (batchup)
def ref_index_batches(rows, batch_size, repeats=1, rng=None):
    """batchup's StandardSampler/SubsetSampler stream: ``rows`` is a length or an index array."""
    base = np.arange(rows) if isinstance(rows, int) else np.asarray(rows)
    length = len(base)

    def order():
        if rng is None:
            return base
        return rng.permutation(rows) if isinstance(rows, int) else rng.permutation(base)

    if repeats == 1:
        idx = order()
        for i in range(0, length, batch_size):
            yield idx[i:i + batch_size]
        return
    idx, i, left = order(), 0, repeats
    while True:
        j = i + batch_size
        if j <= length:
            yield idx[i:j]
            i = j
            continue
        parts = []
        while j > length:
            parts.append(idx[i:])
            idx, i, j = order(), 0, j - length
            if left != -1:
                left -= 1
                if left == 0:
                    if sum(len(p) for p in parts):
                        yield np.concatenate(parts)
                    return
        parts.append(idx[:j])
        yield np.concatenate(parts)
        i = j


def state(rng):
    s = rng.get_state()
    return s[1].tolist(), s[2]


def lists(batches):
    return [np.asarray(b).tolist() for b in batches]


@pytest.fixture
def train():
    rs = np.random.RandomState(0)
    x = rs.rand(150, 1, 4, 4).astype(np.float32)
    y = (np.arange(150) % 3).astype(np.int32)
    return x, y


# --------------------------------------------------------------------------- README examples
def test_readme_quick_batch_iteration(train):
    train_X, train_y = train
    ds = data_source.ArrayDataSource([train_X, train_y])
    batches = list(ds.batch_iterator(batch_size=64, shuffle=np.random.RandomState(12345)))
    perm = np.random.RandomState(12345).permutation(150)
    assert [len(b[0]) for b in batches] == [64, 64, 22]  # the last batch is short
    for k, (batch_X, batch_y) in enumerate(batches):
        np.testing.assert_array_equal(batch_X, train_X[perm[k * 64:(k + 1) * 64]])
        np.testing.assert_array_equal(batch_y, train_y[perm[k * 64:(k + 1) * 64]])


def test_each_iteration_draws_a_new_permutation():
    ds = data_source.ArrayDataSource([np.arange(30)])
    rng, ref = np.random.RandomState(7), np.random.RandomState(7)
    first = np.concatenate([b[0] for b in ds.batch_iterator(8, shuffle=rng)])
    second = np.concatenate([b[0] for b in ds.batch_iterator(8, shuffle=rng)])
    assert first.tolist() == ref.permutation(30).tolist()
    assert second.tolist() == ref.permutation(30).tolist() != first.tolist()


@pytest.mark.parametrize("shuffle", [None, False])
def test_no_shuffle_is_in_order(train, shuffle):
    ds = data_source.ArrayDataSource([train[1]])
    got = np.concatenate([b[0] for b in ds.batch_iterator(64, shuffle=shuffle)])
    np.testing.assert_array_equal(got, train[1])


def test_shuffle_true_uses_the_global_numpy_rng(train):
    ds = data_source.ArrayDataSource([train[1]], include_indices=True)
    np.random.seed(100)
    got = [b[0] for b in ds.batch_iterator(64, shuffle=True)]
    after = np.random.rand()
    np.random.seed(100)
    expected = list(ref_index_batches(150, 64, 1, np.random))
    assert lists(got) == lists(expected) and np.random.rand() == after


def test_readme_subset_by_indices(train):
    train_X, train_y = train
    np.random.seed(3)
    subset_a = np.random.permutation(train_X.shape[0])[:100]
    ds = data_source.ArrayDataSource([train_X, train_y], indices=subset_a)
    batches = list(ds.batch_iterator(batch_size=64, shuffle=np.random.RandomState(12345)))
    perm = np.random.RandomState(12345).permutation(subset_a)
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), train_y[perm])
    in_order = np.concatenate([b[1] for b in ds.batch_iterator(64)])
    np.testing.assert_array_equal(in_order, train_y[subset_a])


def augment_batch(batch_X, batch_y):
    """The README's augmentation (its flip line fixed: it indexed flip_flags instead of batch_X)."""
    flip_flags = np.random.binomial(1, 0.5, size=(len(batch_X),)) != 0
    batch_X = batch_X.copy()
    batch_X[flip_flags, ...] = batch_X[flip_flags, :, :, ::-1]
    return batch_X, batch_y


def test_readme_data_augmentation_with_map(train):
    train_X, train_y = train
    ds = data_source.ArrayDataSource([train_X, train_y]).map(augment_batch)
    np.random.seed(5)
    got = list(ds.batch_iterator(batch_size=64, shuffle=np.random.RandomState(12345)))
    np.random.seed(5)
    perm = np.random.RandomState(12345).permutation(150)
    for k, (bx, by) in enumerate(got):
        rows = perm[k * 64:(k + 1) * 64]
        ex, ey = augment_batch(train_X[rows], train_y[rows])
        np.testing.assert_array_equal(bx, ex)
        np.testing.assert_array_equal(by, ey)


def test_readme_include_indices(train):
    train_X, train_y = train
    ds = data_source.ArrayDataSource([train_X, train_y], include_indices=True)
    for batch_ndx, batch_X, batch_y in ds.batch_iterator(64, shuffle=np.random.RandomState(12345)):
        np.testing.assert_array_equal(batch_X, train_X[batch_ndx])
        np.testing.assert_array_equal(batch_y, train_y[batch_ndx])


def test_readme_infinite_iteration_runs_across_passes():
    ds = data_source.ArrayDataSource([np.arange(10)], repeats=-1)
    it = ds.batch_iterator(batch_size=7)
    assert [next(it)[0].tolist() for _ in range(3)] == [
        [0, 1, 2, 3, 4, 5, 6], [7, 8, 9, 0, 1, 2, 3], [4, 5, 6, 7, 8, 9, 0]]
    assert ds.num_samples() == np.inf


def test_infinite_iteration_with_fewer_samples_than_the_batch():
    ds = data_source.ArrayDataSource([np.arange(3)], repeats=-1)
    rng, ref_rng = np.random.RandomState(9), np.random.RandomState(9)
    it, ref = ds.batch_iterator(7, shuffle=rng), ref_index_batches(3, 7, -1, ref_rng)
    for _ in range(4):
        assert next(it)[0].tolist() == next(ref).tolist()
        assert state(rng) == state(ref_rng)


def test_finite_repeats_short_final_batch_and_final_draw():
    ds = data_source.ArrayDataSource([np.arange(10)], repeats=2)
    assert lists(b[0] for b in ds.batch_iterator(7)) == [
        [0, 1, 2, 3, 4, 5, 6], [7, 8, 9, 0, 1, 2, 3], [4, 5, 6, 7, 8, 9]]
    rng, ref_rng = np.random.RandomState(4), np.random.RandomState(4)
    assert lists(b[0] for b in ds.batch_iterator(5, shuffle=rng)) == lists(
        ref_index_batches(10, 5, 2, ref_rng))
    assert state(rng) == state(ref_rng)  # batchup draws a permutation when the last pass ends


@given(n=st.integers(0, 23), batch_size=st.integers(1, 30), repeats=st.sampled_from([1, 2, 3, -1]),
       shuffled=st.booleans(), subset=st.booleans(), seed=st.integers(0, 2**31),
       take=st.integers(1, 12))
def test_index_stream_and_rng_draws_match_batchup(n, batch_size, repeats, shuffled, subset, seed,
                                                  take):
    data = np.arange(40) * 10
    rows = np.random.RandomState(seed).permutation(40)[:n] if subset else n
    rng = np.random.RandomState(seed) if shuffled else None
    ref_rng = np.random.RandomState(seed) if shuffled else None
    if repeats == -1 and n == 0:
        ds = data_source.ArrayDataSource([data[:0]], repeats=-1)
        with pytest.raises(ValueError, match="endless"):
            next(ds.batch_iterator(batch_size, shuffle=rng))
        return
    if subset:
        ds = data_source.ArrayDataSource([data], indices=rows, repeats=repeats,
                                         include_indices=True)
    else:
        ds = data_source.ArrayDataSource([data[:n]], repeats=repeats, include_indices=True)
    it = ds.batch_iterator(batch_size, shuffle=rng)
    ref = ref_index_batches(rows, batch_size, repeats, ref_rng)
    for _ in range(take):
        expected = next(ref, None)
        got = next(it, None)
        if expected is None:
            assert got is None
            break
        assert got[0].tolist() == expected.tolist()
        np.testing.assert_array_equal(got[1], data[expected])
        if shuffled:
            assert state(rng) == state(ref_rng)  # same draws at the same moments


def test_sampler_iterators_directly():
    rng, ref_rng = np.random.RandomState(2), np.random.RandomState(2)
    sampler = sampling.SubsetSampler(np.array([5, 1, 7]), repeats=2)
    got = sampler.shuffled_indices_batch_iterator(2, rng)
    assert lists(got) == lists(ref_index_batches(np.array([5, 1, 7]), 2, 2, ref_rng))
    assert sampling.StandardSampler(5, repeats=3).num_indices_generated() == 15
    assert sampling.SubsetSampler([1, 2], repeats=-1).num_indices_generated() == np.inf
    assert sampling.num_batches(10, 4) == 3


# --------------------------------------------------------------------------- weighted sampling
def test_readme_weighted_sampler_draws_one_choice_per_batch(train):
    train_X, train_y = train
    train_w = np.linspace(1, 2, 150)
    ds = data_source.ArrayDataSource([train_X, train_y],
                                     sampler=sampling.WeightedSampler(weights=train_w))
    it = ds.batch_iterator(batch_size=64, shuffle=np.random.RandomState(12345))
    ref = np.random.RandomState(12345)
    for _ in range(4):  # endless
        expected = ref.choice(150, size=(64,), p=train_w / train_w.sum())
        np.testing.assert_array_equal(next(it)[1], train_y[expected])
    assert ds.num_samples() == np.inf
    with pytest.raises(NotImplementedError, match="in-order"):
        next(ds.batch_iterator(64))


def test_readme_weighted_subset_sampler(train):
    train_X, train_y = train
    train_w = np.arange(150) + 1.0
    subset_a = np.arange(0, 150, 3)
    sampler = sampling.WeightedSubsetSampler(sub_weights=train_w[subset_a], indices=subset_a)
    ds = data_source.ArrayDataSource([train_X, train_y], sampler=sampler, include_indices=True)
    ref = np.random.RandomState(12345)
    w = train_w[subset_a]
    it = ds.batch_iterator(batch_size=64, shuffle=np.random.RandomState(12345))
    for _ in range(3):
        expected = subset_a[ref.choice(len(subset_a), size=(64,), p=w / w.sum())]
        assert next(it)[0].tolist() == expected.tolist()
    with pytest.raises(ValueError, match="one weight per index"):
        sampling.WeightedSubsetSampler(np.ones(3), indices=[1, 2])


def test_readme_class_balancing_accepts_n_classes(train):
    train_X, train_y = train
    y = np.array([0, 0, 0, 1, 2, 2])
    w = sampling.WeightedSampler.class_balancing_sample_weights(y=y, n_classes=y.max() + 1)
    np.testing.assert_allclose(w, [1 / 9, 1 / 9, 1 / 9, 1 / 3, 1 / 6, 1 / 6])  # 1/(count*classes)
    np.testing.assert_allclose(sampling.WeightedSampler.class_balancing_sample_weights(y), w)
    present = sampling.WeightedSampler.class_balancing_sample_weights(np.array([0, 0, 5]))
    np.testing.assert_allclose(present, [0.25, 0.25, 0.5])  # classes present, not max label + 1
    sampler = sampling.WeightedSampler.class_balancing_sampler(y=train_y,
                                                               n_classes=train_y.max() + 1)
    ds = data_source.ArrayDataSource([train_X, train_y], sampler=sampler)
    batch_y = next(ds.batch_iterator(batch_size=3000, shuffle=np.random.RandomState(12345)))[1]
    assert np.all(np.abs(np.bincount(batch_y) / 3000 - 1 / 3) < 0.05)
    with pytest.raises(ValueError, match="n_classes=2"):
        sampling.WeightedSampler.class_balancing_sample_weights(y, n_classes=2)
    sub = sampling.WeightedSubsetSampler.class_balancing_sampler(y, indices=[0, 1, 3])
    np.testing.assert_allclose(sub.sample_p, [0.25, 0.25, 0.5])


def test_readme_modified_class_balancing_weights(train):
    train_X, train_y = train
    weights = sampling.WeightedSampler.class_balancing_sample_weights(y=train_y,
                                                                      n_classes=train_y.max() + 1)
    weights = weights * (train_y == 0)  # modify_weights: only class 0
    ds = data_source.ArrayDataSource([train_X, train_y], sampler=sampling.WeightedSampler(weights))
    assert set(next(ds.batch_iterator(64, shuffle=np.random.RandomState(1)))[1].tolist()) == {0}
    with pytest.raises(ValueError, match="all zero"):
        sampling.WeightedSampler(np.zeros(3))


# --------------------------------------------------------------------------- composite sources
def semi_supervised_data():
    lab_X, lab_y = np.arange(20).reshape(10, 2), np.arange(10)
    unlab_X = np.arange(100, 125)
    return lab_X, lab_y, unlab_X


def test_readme_semi_supervised_without_composite():
    lab_X, lab_y, unlab_X = semi_supervised_data()
    rng = np.random.RandomState(12345)
    ds_lab = data_source.ArrayDataSource([lab_X, lab_y], repeats=-1)
    ds_unlab = data_source.ArrayDataSource([unlab_X])
    lab_iter = ds_lab.batch_iterator(batch_size=4, shuffle=rng)
    got = []
    for (batch_unlab_X,) in ds_unlab.batch_iterator(batch_size=4, shuffle=rng):
        batch_lab_X, batch_lab_y = next(lab_iter)
        got.append((batch_unlab_X.tolist(), batch_lab_y.tolist()))
    # batchup: the generators draw lazily, so the unlabeled permutation comes first
    ref = np.random.RandomState(12345)
    unlab_ref = ref_index_batches(25, 4, 1, ref)
    lab_ref = ref_index_batches(10, 4, -1, ref)
    expected = []
    for u in unlab_ref:
        expected.append((unlab_X[u].tolist(), next(lab_ref).tolist()))
    assert got == expected and len(got) == 7


def expected_composite(n_lab, n_unlab, bs, seed):
    ref = np.random.RandomState(seed)
    lab, unlab = ref_index_batches(n_lab, bs, -1, ref), ref_index_batches(n_unlab, bs, 1, ref)
    out = []
    for pair in zip(lab, unlab):  # zip pulls the labeled stream first
        n = min(len(pair[0]), len(pair[1]))
        out.append((pair[0][:n].tolist(), pair[1][:n].tolist()))
    return out


def test_readme_semi_supervised_with_composite_flat_and_structured():
    lab_X, lab_y, unlab_X = semi_supervised_data()
    ds_lab = data_source.ArrayDataSource([lab_X, lab_y], repeats=-1)
    ds_unlab = data_source.ArrayDataSource([unlab_X])
    ds = data_source.CompositeDataSource([ds_lab, ds_unlab])
    got = [(y.tolist(), (u - 100).tolist()) for x, y, u in
           ds.batch_iterator(batch_size=4, shuffle=np.random.RandomState(12345))]
    expected = expected_composite(10, 25, 4, 12345)
    assert got == expected and [len(a) for a, _ in got][-1] == 1  # trimmed to the shortest
    ds_struct = data_source.CompositeDataSource([ds_lab, ds_unlab], flatten=False)
    got_struct = [(y.tolist(), (u - 100).tolist()) for (x, y), (u,) in
                  ds_struct.batch_iterator(batch_size=4, shuffle=np.random.RandomState(12345))]
    assert got_struct == expected
    assert ds.num_samples() == 25


def test_composite_untrimmed_and_nested():
    a = data_source.ArrayDataSource([np.arange(5)])
    b = data_source.ArrayDataSource([np.arange(3)], repeats=-1)
    untrimmed = data_source.CompositeDataSource([a, b], trim=False)
    assert [(x.tolist(), y.tolist()) for x, y in untrimmed.batch_iterator(2)] == [
        ([0, 1], [0, 1]), ([2, 3], [2, 0]), ([4], [1, 2])]
    nested = data_source.CompositeDataSource([data_source.CompositeDataSource([a, b]), a])
    assert [len(batch) for batch in nested.batch_iterator(2)] == [3, 3, 3]
    assert nested.is_random_access
    idx = next(nested.batch_indices_iterator(2))
    assert [i.tolist() for i in idx[0]] == [[0, 1], [0, 1]] and idx[1].tolist() == [0, 1]
    with pytest.raises(TypeError, match="not a data source"):
        data_source.CompositeDataSource([np.arange(3)])


def test_choice_data_source():
    a = data_source.ArrayDataSource([np.arange(6)])
    b = data_source.ArrayDataSource([np.arange(100, 103)])
    ds = data_source.ChoiceDataSource([a, b])
    in_order = np.concatenate([x for x, in ds.batch_iterator(4)])
    assert in_order.tolist() == [0, 1, 2, 3, 4, 5, 100, 101, 102]
    shuffled = np.concatenate([x for x, in ds.batch_iterator(4, shuffle=np.random.RandomState(0))])
    assert sorted(shuffled.tolist()) == [0, 1, 2, 3, 4, 5, 100, 101, 102]
    strat = [x.tolist() for x, in data_source.ChoiceDataSource([a, b], stratified=True)
             .batch_iterator(3, shuffle=np.random.RandomState(0))]
    assert [sum(v >= 100 for v in batch) for batch in strat] == [1, 1, 1]


# --------------------------------------------------------------------------- other sources
class LoadFromDisk:
    """The README's array-like: integers, slices and index arrays (here: computed, not imread)."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def load(self, i):
        return np.full((2, 2), i, dtype=np.float32)

    def __getitem__(self, index):
        if isinstance(index, (int, np.integer)):
            return self.load(index)
        if isinstance(index, slice):
            return np.stack([self.load(i) for i in range(*index.indices(self.n))])
        if isinstance(index, np.ndarray):
            if index.ndim != 1:
                raise ValueError(f"index array should only have 1 dimension, not {index.ndim}")
            return np.stack([self.load(i) for i in index])
        raise TypeError(type(index))


def test_readme_data_not_stored_as_numpy_arrays():
    train_X = LoadFromDisk(30)
    train_y = np.array([i % 2 for i in range(30)], dtype=np.int32)
    ds = data_source.ArrayDataSource([train_X, train_y])
    for batch_X, batch_y in ds.batch_iterator(batch_size=8, shuffle=np.random.RandomState(12345)):
        assert batch_X.shape[1:] == (2, 2)
        np.testing.assert_array_equal(batch_X[:, 0, 0].astype(int) % 2, batch_y)


def test_callable_iterator_and_coerce():
    calls = []

    def fn(batch_size, **kwargs):
        calls.append(kwargs)
        return iter([(np.zeros(batch_size),)])

    ds = data_source.CallableDataSource(fn, num_samples_fn=lambda **kw: 7)
    assert next(ds.batch_iterator(3, shuffle=True))[0].shape == (3,)
    assert calls == [{"shuffle": True}]
    assert ds.num_samples() == 7
    gen = (b for b in [(np.ones(2),)])
    assert isinstance(data_source.coerce_data_source(gen), data_source.IteratorDataSource)

    class Counter:  # an iterator that only implements the protocol (collections.abc, not Iterator)
        def __iter__(self):
            return self

        def __next__(self):
            raise StopIteration

    assert isinstance(Counter(), collections.abc.Iterator)
    assert isinstance(data_source.coerce_data_source(Counter()), data_source.IteratorDataSource)
    assert isinstance(data_source.coerce_data_source(fn), data_source.CallableDataSource)
    arr = data_source.coerce_data_source((np.arange(3), np.arange(3)))
    assert isinstance(arr, data_source.ArrayDataSource)
    assert data_source.coerce_data_source(arr) is arr
    with pytest.raises(TypeError, match="x\\[1\\] is a int"):
        data_source.coerce_data_source([np.arange(3), 5])
    with pytest.raises(ValueError, match="empty"):
        data_source.coerce_data_source([])
    with pytest.raises(TypeError, match="cannot make a data source of a int"):
        data_source.coerce_data_source(3)


def test_random_access_api():
    ds = data_source.ArrayDataSource([np.arange(10) * 10], indices=[4, 2, 8])
    assert ds.samples_by_indices(np.array([0, 2]))[0].tolist() == [40, 80]
    assert ds.samples_by_indices_nomapping(slice(1, 3))[0].tolist() == [10, 20]
    assert lists(ds.batch_indices_iterator(2)) == [[4, 2], [8]]
    mapped = ds.map(lambda x: (x + 1,))
    assert mapped.is_random_access and mapped.samples_by_indices_nomapping([3])[0].tolist() == [31]
    assert lists(mapped.batch_indices_iterator(2)) == [[4, 2], [8]]
    assert not data_source.IteratorDataSource(iter([])).map(lambda x: (x,)).is_random_access


def test_empty_data_finite_yields_nothing():
    assert list(data_source.ArrayDataSource([np.zeros(0)]).batch_iterator(4)) == []


@pytest.mark.parametrize("make, error, match", [
    (lambda: data_source.ArrayDataSource((np.arange(3),)), TypeError, "must be a list"),
    (lambda: data_source.ArrayDataSource([np.arange(3), np.arange(4)]), ValueError,
     "different lengths"),
    (lambda: data_source.ArrayDataSource([3]), TypeError, "data\\[0\\] is a int"),
    (lambda: data_source.ArrayDataSource([]), ValueError, "empty list"),
    (lambda: data_source.ArrayDataSource([np.arange(3)], repeats=2,
                                         sampler=sampling.StandardSampler(3)),
     ValueError, "repeats=2"),
    (lambda: data_source.ArrayDataSource([np.arange(3)], indices=[0],
                                         sampler=sampling.StandardSampler(3)),
     ValueError, "indices"),
    (lambda: data_source.ArrayDataSource([np.arange(3)], repeats=0), ValueError, "repeats=0"),
    (lambda: data_source.ArrayDataSource([np.arange(3)], sampler=sampling.StandardSampler(5)),
     ValueError, "up to 4, but the data has 3"),
    (lambda: data_source.ArrayDataSource([np.arange(3)], indices=[5]), IndexError, "contains 5"),
    (lambda: next(data_source.ArrayDataSource([np.arange(3)]).batch_iterator(2, shuffle=5)),
     TypeError, "shuffle=5"),
    (lambda: next(data_source.ArrayDataSource([np.arange(3)]).batch_iterator(0)), ValueError,
     "batch_size=0"),
])
def test_bad_arguments_raise_clear_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()


# --------------------------------------------------------------------------- gathering results
def f_pred(batch_X):
    return batch_X.reshape(len(batch_X), -1).sum(axis=1)


def test_readme_batch_map_concat_with_progress(train):
    test_X = train[0]
    test_ds = data_source.ArrayDataSource([test_X])
    (pred_y,) = test_ds.batch_map_concat(f_pred, batch_size=64)
    np.testing.assert_allclose(pred_y, f_pred(test_X), rtol=1e-6)
    seen = {}

    def progress(it, total, leave):
        seen.update(total=total, leave=leave)
        return it

    (pred_y2,) = test_ds.batch_map_concat(f_pred, batch_size=64, progress_iter_func=progress)
    np.testing.assert_array_equal(pred_y, pred_y2)
    assert seen == {"total": 3, "leave": False}
    import tqdm

    (pred_y3,) = test_ds.batch_map_concat(f_pred, batch_size=64, progress_iter_func=tqdm.tqdm)
    np.testing.assert_array_equal(pred_y, pred_y3)


def test_readme_batch_map_mean(train):
    val_X, val_y = train

    def f_eval(batch_X, batch_y):  # returns [log_loss_sum, err_count], a list as Theano does
        pred = (f_pred(batch_X) > 8).astype(np.int32)
        return [float(np.sum((pred - batch_y) ** 2)), int(np.sum(pred != batch_y))]

    val_ds = data_source.ArrayDataSource([val_X, val_y])
    mean_log_loss, mean_err_rate = val_ds.batch_map_mean(f_eval, batch_size=64)
    total = f_eval(val_X, val_y)
    assert mean_log_loss == pytest.approx(total[0] / 150)
    assert mean_err_rate == pytest.approx(total[1] / 150)
    (per_sample,) = val_ds.batch_map_mean(lambda x, y: y.astype(float), batch_size=64, sum_axis=0)
    assert per_sample == pytest.approx(val_y.mean())


def test_batch_map_returns_empty_tuple_and_prepend_args():
    ds = data_source.ArrayDataSource([np.arange(5)])
    assert ds.batch_map_concat(lambda x: None, batch_size=2) == ()  # batchup returned None
    assert ds.batch_map_mean(lambda x: None, batch_size=2) == ()
    got = ds.batch_map_concat(lambda k, x: (x * k,), batch_size=2, prepend_args=(3,))
    assert got[0].tolist() == [0, 3, 6, 9, 12]
    with pytest.raises(TypeError, match="returned a dict"):
        ds.batch_map_concat(lambda x: {}, batch_size=2)


def test_batch_map_refuses_endless_without_n_batches():
    ds = data_source.ArrayDataSource([np.arange(5)], repeats=-1)
    with pytest.raises(ValueError, match="n_batches="):
        ds.batch_map_concat(lambda x: x, batch_size=2)
    with pytest.raises(ValueError, match="n_batches="):
        ds.batch_map_mean(lambda x: x.sum(), batch_size=2)
    weighted = data_source.ArrayDataSource([np.arange(5)],
                                           sampler=sampling.WeightedSampler(np.ones(5)))
    with pytest.raises(ValueError, match="endless"):
        weighted.batch_map_concat(lambda x: x, batch_size=2, shuffle=True)
    (out,) = ds.batch_map_concat(lambda x: x, batch_size=2, n_batches=4)
    assert out.tolist() == [0, 1, 2, 3, 4, 0, 1, 2]
    mean = ds.batch_map_mean(lambda x: x.sum(), batch_size=2, n_batches=3)[0]
    assert mean == pytest.approx(10 / 6)


# --------------------------------------------------------------------------- parallel
def times_ten(x, y):
    return x * 10, y


def fail_on_seven(x):
    if 7 in x:
        raise KeyError("sample seven is corrupt")
    return (x,)


def collect(it):
    return [tuple(np.asarray(a).tolist() for a in b) for b in it]


@pytest.mark.parametrize("pool_class", [work_pool.WorkerThreadPool, work_pool.WorkerProcessPool])
def test_readme_parallel_same_batches_as_serial(train, pool_class):
    train_X, train_y = train
    ds = data_source.ArrayDataSource([train_X, train_y], repeats=2).map(times_ten)
    serial = collect(ds.batch_iterator(batch_size=64, shuffle=np.random.RandomState(12345)))
    with pool_class(processes=2) as pool:
        par_ds = pool.parallel_data_source(ds, batch_buffer_size=4)
        par_iter = par_ds.batch_iterator(batch_size=64, shuffle=np.random.RandomState(12345))
        assert collect(par_iter) == serial
        np.random.seed(8)
        a = collect(ds.batch_iterator(batch_size=64, shuffle=True))
        np.random.seed(8)
        assert collect(par_ds.batch_iterator(batch_size=64, shuffle=True)) == a  # global RNG
        assert par_ds.num_samples() == 300


def test_parallel_worker_exception_is_reraised_on_next():
    ds = data_source.ArrayDataSource([np.arange(20)]).map(fail_on_seven)
    pool = work_pool.WorkerThreadPool(processes=2)
    it = pool.parallel_data_source(ds, batch_buffer_size=3).batch_iterator(4)
    assert next(it)[0].tolist() == [0, 1, 2, 3]
    with pytest.raises(KeyError, match="seven") as info:
        next(it)
    assert any("rows [4, 5, 6, 7]" in note for note in info.value.__notes__)
    first = pool.parallel_data_source(data_source.ArrayDataSource([np.arange(20)], indices=[7])
                                      .map(fail_on_seven)).batch_iterator(4)
    with pytest.raises(KeyError):  # a failing first batch raises on next(), not on creation
        next(first)
    with pytest.raises(KeyError):  # and serially too, as itself
        list(ds.batch_iterator(4))
    pool.close()


def test_parallel_refuses_non_random_access():
    pool = work_pool.WorkerThreadPool(1)
    with pytest.raises(TypeError, match="random-access"):
        pool.parallel_data_source(data_source.IteratorDataSource(iter([])))
    with pytest.raises(ValueError, match="processes=0"):
        work_pool.WorkerThreadPool(processes=0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_parallel_composite_with_shared_rng_matches_serial(seed):
    lab_X, lab_y, unlab_X = semi_supervised_data()
    ds = data_source.CompositeDataSource([
        data_source.ArrayDataSource([lab_X, lab_y], repeats=-1),
        data_source.ArrayDataSource([unlab_X], repeats=2),
        data_source.ArrayDataSource([np.arange(7)], sampler=sampling.WeightedSampler(np.ones(7))),
    ]).map(lambda *b: b)
    rng = np.random.RandomState(seed)
    serial = collect(ds.batch_iterator(batch_size=3, shuffle=rng))
    after_serial = state(rng)
    with work_pool.WorkerThreadPool(processes=2) as pool:
        rng = np.random.RandomState(seed)
        par_ds = pool.parallel_data_source(ds, batch_buffer_size=5)
        par = collect(par_ds.batch_iterator(3, shuffle=rng))
    assert par == serial and len(par) == 17
    assert state(rng) == after_serial  # the same draws, in batchup's serial order


def test_work_stream_in_order_with_errors():
    with work_pool.WorkerThreadPool(processes=2) as pool:
        tasks = [(pow, (2, k)) for k in range(6)] + [functools.partial(int, "12")]
        assert list(pool.work_stream(tasks, task_buffer_size=2)) == [1, 2, 4, 8, 16, 32, 12]
        stream = pool.work_stream([(int, ("1",)), (int, ("x",)), (int, ("3",), {})])
        assert next(stream) == 1
        with pytest.raises(ValueError, match="invalid literal"):
            next(stream)
        with pytest.raises(TypeError, match="must be a callable"):
            list(pool.work_stream([42]))


# --------------------------------------------------------------------------- config
def test_config_data_dir_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("BATCHUP_HOME", raising=False)
    assert config.get_data_dir() == str(tmp_path / ".batchup")
    monkeypatch.setenv("BATCHUP_HOME", str(tmp_path / "env"))
    assert config.get_data_dir() == str(tmp_path / "env")
    cfg = configparser.ConfigParser()
    cfg["paths"] = {"data_dir": str(tmp_path / "cfg")}
    with open(tmp_path / ".batchup.cfg", "w") as f:
        cfg.write(f)
    assert config.get_data_dir() == str(tmp_path / "cfg")  # the file wins over the environment
    assert config.get_data_path("a.npz") == str(tmp_path / "cfg" / "a.npz")
    (tmp_path / ".batchup.cfg").write_text("not an ini file")
    with pytest.raises(ValueError, match="not a valid config file"):
        config.get_data_dir()


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    (root / "data.bin").write_bytes(b"batchup data" * 100)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_download_and_verify(server, tmp_path, monkeypatch):
    import hashlib

    good = hashlib.sha256(b"batchup data" * 100).hexdigest()
    path = str(tmp_path / "cache" / "data.bin")
    assert config.download_and_verify(path, server + "/data.bin", good) == path
    assert config.verify_file(path, good) and config.compute_sha256(path) == good
    cached = config.download_and_verify(path, "http://127.0.0.1:9/unreachable", good)
    assert cached == path  # a verified copy is not downloaded again
    with pytest.raises(ValueError, match="expected 0000"):
        config.download_and_verify(str(tmp_path / "bad.bin"), server + "/data.bin", "0000",
                                   retries=1)
    assert not os.path.exists(tmp_path / "bad.bin")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("BATCHUP_HOME", str(tmp_path / "home"))
    got = config.download_data("d.bin", server + "/data.bin", good)
    assert got == str(tmp_path / "home" / "d.bin")
    with pytest.raises(OSError, match="could not download"):
        config.download(str(tmp_path / "x"), server + "/missing.bin", retries=0)
