import numpy as np
import pytest
from hypothesis import given, strategies as st

from ladle import sampling
from ladle.sampling import (BlockShuffle, ClassBalanced, Repeat, Sequential, Shuffle, Subset,
                            Weighted, as_order)

sizes = st.integers(0, 300)
seeds = st.integers(0, 2**32)
epochs = st.integers(0, 50)


def is_permutation(idx, n):
    return idx.dtype == np.int64 and np.array_equal(np.sort(idx), np.arange(n))


@given(n=sizes, seed=seeds, epoch=epochs)
def test_shuffle_is_a_permutation(n, seed, epoch):
    assert is_permutation(sampling.shuffle(n, seed, epoch), n)


@given(n=sizes, seed=seeds, epoch=epochs, block=st.integers(1, 40), window=st.integers(1, 5))
def test_block_shuffle_is_a_permutation(n, seed, epoch, block, window):
    assert is_permutation(sampling.block_shuffle(n, block, seed, epoch, window), n)


@given(n=st.integers(1, 300), seed=seeds, block=st.integers(1, 40))
def test_block_shuffle_window_one_keeps_blocks_together(n, seed, block):
    order = sampling.block_shuffle(n, block, seed, 0, window=1)
    # every run of `block` positions (aligned to the shuffled blocks) holds rows of one block
    blocks_in_order = order // block
    changes = np.flatnonzero(np.diff(blocks_in_order)) + 1
    # each block appears as one contiguous run
    assert len(changes) + 1 == len(np.unique(blocks_in_order))


def test_block_shuffle_window_mixes_neighbouring_blocks():
    order = sampling.block_shuffle(1000, 10, seed=3, window=4)
    first_window_blocks = np.unique(order[:40] // 10)
    assert len(first_window_blocks) == 4  # 4 blocks, interleaved
    assert not np.array_equal(order[:10] // 10, np.full(10, order[0] // 10))


@given(seed=seeds, epoch=epochs)
def test_same_seed_same_order_different_seed_or_epoch_differs(seed, epoch):
    a = sampling.shuffle(200, seed, epoch)
    assert np.array_equal(a, sampling.shuffle(200, seed, epoch))
    assert not np.array_equal(a, sampling.shuffle(200, seed + 1, epoch))
    assert not np.array_equal(a, sampling.shuffle(200, seed, epoch + 1))


def test_orders_do_not_touch_the_global_rng():
    np.random.seed(0)
    before = np.random.get_state()[1].copy()
    sampling.shuffle(100, 1, 2)
    sampling.weighted(np.ones(10), 5, seed=1)
    sampling.block_shuffle(100, 7, 1)
    assert np.array_equal(before, np.random.get_state()[1])


@given(n=st.integers(0, 200), world=st.integers(1, 8), even=st.sampled_from(["pad", "drop"]),
       seed=seeds)
def test_shards_are_disjoint_cover_and_equal(n, world, even, seed):
    idx = sampling.shuffle(n, seed, 0)
    if n == 0 and even == "pad":
        # padding nothing is impossible when ranks exist
        if world > 1 or n == 0:
            shards = [sampling.shard(idx, r, world, even="drop") for r in range(world)]
            assert all(s.size == 0 for s in shards)
        return
    shards = [sampling.shard(idx, r, world, even=even) for r in range(world)]
    assert len({s.size for s in shards}) == 1
    joined = np.concatenate(shards)
    if even == "drop":
        assert joined.size == n - n % world
        assert np.unique(joined).size == joined.size  # disjoint
    else:
        assert set(joined.tolist()) == set(range(n))  # covers everything
        assert joined.size == n + (-n) % world
        # only the padding repeats: the first n positions of the interleaving are disjoint
        assert np.unique(joined).size == n


def test_shard_validation():
    with pytest.raises(ValueError, match="rank=2 must be < world_size=2"):
        sampling.shard(np.arange(4), 2, 2)
    with pytest.raises(ValueError, match="even='x'"):
        sampling.shard(np.arange(4), 0, 2, even="x")


@given(seed=st.integers(0, 1000))
def test_weighted_with_replacement_matches_weights(seed):
    w = np.array([1.0, 2.0, 0.0, 7.0])
    draws = sampling.weighted(w, 20000, True, seed, 0)
    freq = np.bincount(draws, minlength=4) / draws.size
    assert freq[2] == 0
    # 5 sigma bound on a binomial proportion
    sigma = np.sqrt(0.7 * 0.3 / 20000)
    assert np.all(np.abs(freq - w / w.sum()) < 5 * sigma + 1e-9)


@given(n=st.integers(1, 100), seed=seeds, data=st.data())
def test_weighted_without_replacement_is_distinct_and_skips_zero(n, seed, data):
    w = np.array(data.draw(st.lists(st.sampled_from([0.0, 0.5, 1.0, 3.0]), min_size=n, max_size=n)))
    if not w.any():
        w[0] = 1.0
    k = data.draw(st.integers(1, int(np.count_nonzero(w))))
    draws = sampling.weighted(w, k, False, seed, 0)
    assert draws.size == k and np.unique(draws).size == k
    assert np.all(w[draws] > 0)


def test_weighted_without_replacement_prefers_heavy_rows():
    w = np.array([1.0] * 9 + [100.0])
    hits = sum(9 in sampling.weighted(w, 1, False, s, 0) for s in range(300))
    assert hits > 250


@pytest.mark.parametrize("weights, match", [
    ([1, -1], r"weights\[1\]=-1.0 must be >= 0"),
    ([1, float("nan")], r"weights\[1\]=nan must be finite"),
    ([0, 0], "all zero"),
    ([], "empty"),
])
def test_bad_weights_are_refused(weights, match):
    with pytest.raises(ValueError, match=match):
        Weighted(weights)


def test_weighted_without_replacement_too_many():
    with pytest.raises(ValueError, match="num_samples=3 exceeds the 2 rows"):
        Weighted([1, 0, 1], num_samples=3, replacement=False)


def test_weighted_length_must_match_source():
    with pytest.raises(ValueError, match="weights has 3 entries but the source has 4 rows"):
        Weighted([1, 1, 1])(4, 0, 0)


@given(seed=st.integers(0, 1000))
def test_class_balanced_gives_equal_shares(seed):
    y = np.array([0] * 900 + [1] * 90 + [2] * 10)
    draws = sampling.class_balanced(y, 30000, seed=seed)
    share = np.bincount(y[draws], minlength=3) / draws.size
    assert np.all(np.abs(share - 1 / 3) < 5 * np.sqrt(2 / 9 / 30000))


def test_class_balanced_on_a_subset():
    y = np.array([0] * 50 + [1] * 50)
    subset = np.r_[0:40, 90:100]  # 40 of class 0, 10 of class 1
    draws = sampling.class_balanced(y, 20000, indices=subset, seed=1)
    assert set(np.unique(draws)) <= set(subset.tolist())
    share1 = np.mean(y[draws] == 1)
    assert abs(share1 - 0.5) < 0.02


def test_class_weights_formula():
    w = sampling.class_weights(np.array(["a", "a", "b"]))
    np.testing.assert_allclose(w, [1 / 4, 1 / 4, 1 / 2])


def test_subset_checks_range():
    with pytest.raises(IndexError, match="contains 7, outside the valid range \\[0, 5\\)"):
        Subset([1, 7])(5, 0, 0)
    with pytest.raises(IndexError, match="contains -1"):
        Subset([-1])(5, 0, 0)


def test_subset_shuffle_changes_per_epoch():
    s = Subset(np.arange(50), shuffle=True)
    a, b = s(100, 1, 0), s(100, 1, 1)
    assert sorted(a.tolist()) == list(range(50)) and not np.array_equal(a, b)


def test_repeat_joins_independent_passes():
    r = Repeat(Shuffle(), 3)(10, 0, 0)
    assert r.size == 30
    passes = r.reshape(3, 10)
    assert all(sorted(p.tolist()) == list(range(10)) for p in passes)
    assert not np.array_equal(passes[0], passes[1])
    assert Repeat(Shuffle(), 3).length(10) == 30


def test_block_shuffle_binds_to_source_block_size():
    class S:
        block_size = 16
    assert BlockShuffle().bind(S()).block == 16
    assert BlockShuffle(block=4).bind(S()).block == 4
    assert BlockShuffle().bind(object()).block == BlockShuffle.DEFAULT_BLOCK


def test_as_order_variants():
    assert isinstance(as_order(None), Sequential)
    assert isinstance(as_order(None, shuffle=True), Shuffle)
    assert isinstance(as_order("block"), BlockShuffle)
    assert isinstance(as_order([3, 1]), Subset)
    f = as_order(lambda epoch: [epoch, 0])
    assert f(5, 0, 3).tolist() == [3, 0]
    with pytest.raises(ValueError, match="order='random' is not one of"):
        as_order("random")
    with pytest.raises(TypeError, match="must take one argument"):
        as_order(lambda a, b: None)
    with pytest.raises(TypeError, match="order=3.5"):
        as_order(3.5)


def test_function_order_is_range_checked():
    with pytest.raises(IndexError, match="outside the valid range"):
        as_order(lambda epoch: [10])(5, 0, 0)


def test_class_balanced_order_checks_labels():
    with pytest.raises(ValueError, match="labels has 3 entries but the source has 4 rows"):
        ClassBalanced([0, 1, 1])(4, 0, 0)


@given(n=st.integers(1, 300), seed=seeds, block=st.integers(2, 40))
def test_block_shuffle_keeps_the_short_block_last_so_blocks_stay_aligned(n, seed, block):
    order = sampling.block_shuffle(n, block, seed, 0, window=1)
    full = n // block
    # every aligned run of `block` positions before the tail is exactly one whole storage block
    head = order[: full * block].reshape(full, block) if full else np.empty((0, block), int)
    assert all(len(set((row // block).tolist())) == 1 and sorted(row.tolist()) ==
               list(range(row.min(), row.min() + block)) for row in head)
    assert sorted(order[full * block:].tolist()) == list(range(full * block, n))
