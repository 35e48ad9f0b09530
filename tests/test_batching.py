import numpy as np
import pytest
from hypothesis import given, strategies as st

from ladle import batching
from ladle.batching import batch_bounds, carry_owned, num_batches, split


def sizes(n, b, policy):
    return [len(x) for x in split(np.arange(n), b, policy)]


def test_documented_examples():
    assert sizes(20, 6, "merge") == [6, 6, 8]
    assert sizes(11, 3, "merge") == [3, 3, 5]
    assert sizes(20, 6, "short") == [6, 6, 6, 2]
    assert sizes(20, 6, "drop") == [6, 6, 6]
    assert sizes(18, 6, "merge") == [6, 6, 6]


def test_n_extend_as_ketos_documents():
    batches = split(np.arange(20), 6, "merge", n_extend=2)
    assert [b.tolist() for b in batches] == [list(range(0, 8)), list(range(4, 14)),
                                             list(range(10, 20))]


def test_n_extend_follows_the_order_not_the_row_ids():
    order = np.arange(20)[::-1]
    batches = split(order, 6, "merge", n_extend=2)
    assert batches[0].tolist() == order[:8].tolist()


def test_n_extend_larger_than_batch_reaches_past_neighbours_as_ketos():
    starts, stops = batch_bounds(20, 6, "merge", n_extend=7)
    assert list(zip(starts.tolist(), stops.tolist())) == [(0, 13), (0, 18), (5, 20)]


def ketos_reference(n, batch_size, n_extend):
    """ketos' own arithmetic: n // batch_size batches, remainder merged, +-n_extend positions."""
    nb = max(n // batch_size, 1)
    out = []
    for k in range(nb):
        start, stop = k * batch_size, (k + 1) * batch_size if k < nb - 1 else n
        lo = max(start - n_extend, 0) if k else 0
        hi = min(stop + n_extend, nb * batch_size) if k < nb - 1 else n
        out.append((lo, hi))
    return out


@given(n=st.integers(1, 60), b=st.integers(1, 70), ext=st.integers(0, 12))
def test_merge_with_n_extend_matches_ketos(n, b, ext):
    b = min(b, n)
    starts, stops = batch_bounds(n, b, "merge", ext)
    assert list(zip(starts.tolist(), stops.tolist())) == ketos_reference(n, b, ext)


@given(n=st.integers(0, 50), b=st.integers(1, 60),
       policy=st.sampled_from(["short", "merge", "drop"]))
def test_every_sample_once_or_exactly_the_remainder_dropped(n, b, policy):
    if policy == "drop" and 0 < n < b:
        with pytest.raises(ValueError, match="would yield no batch"):
            split(np.arange(n), b, policy)
        return
    batches = split(np.arange(n), b, policy)
    joined = np.concatenate(batches) if batches else np.empty(0, int)
    assert len(batches) == num_batches(n, b, policy)
    if policy == "drop":
        assert joined.tolist() == list(range(n - n % b))
        assert all(len(x) == b for x in batches)
    else:
        assert joined.tolist() == list(range(n))
        if n:
            assert all(len(x) == b for x in batches[:-1])
            if policy == "merge":
                assert b <= len(batches[-1]) < 2 * b or n < b
            else:
                assert 0 < len(batches[-1]) <= b


@given(n=st.integers(1, 50), b=st.integers(1, 60), epochs=st.integers(1, 6))
def test_carry_ownership_partitions_the_stream(n, b, epochs):
    owned = [carry_owned(n, b, e) for e in range(epochs)]
    assert owned[0][0] == 0
    for (a0, a1), (b0, b1) in zip(owned, owned[1:]):
        assert a1 == b0 and a0 <= a1
    # total batches over `epochs` is ceil(total / b)
    assert owned[-1][1] == -(-n * epochs // b)


def test_policy_errors():
    with pytest.raises(ValueError, match="last_batch='partial' is not one of"):
        num_batches(5, 2, "partial")
    with pytest.raises(ValueError, match="batch_size=0 must be >= 1"):
        batch_bounds(5, 0)
    with pytest.raises(ValueError, match="n_extend=-1 must be >= 0"):
        batch_bounds(5, 2, n_extend=-1)
    with pytest.raises(ValueError, match="cannot be combined with last_batch='carry'"):
        batching.check_policy(5, 2, "carry", n_extend=1)


def test_batch_larger_than_data_per_policy():
    assert sizes(5, 8, "short") == [5]
    assert sizes(5, 8, "merge") == [5]
    with pytest.raises(ValueError, match="batch_size=8 is larger than the 5 samples"):
        split(np.arange(5), 8, "drop")
