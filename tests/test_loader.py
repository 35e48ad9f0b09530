import pickle

import numpy as np
import pytest
from hypothesis import given, strategies as st

import ladle
from ladle import ArraySource, BatchError, Loader, Weighted
from helpers import collect, noisy, same


def test_quickstart(xy):
    x, y = xy
    loader = Loader(ArraySource(x=x, y=y), batch_size=32, shuffle=True, seed=0)
    batches = list(loader)
    assert len(loader) == 4 == len(batches)
    seen = np.concatenate([b.indices for b in batches])
    assert sorted(seen.tolist()) == list(range(100))
    for b in batches:
        np.testing.assert_array_equal(b["x"], x[b.indices])
        np.testing.assert_array_equal(b.y, y[b.indices])


def test_each_iter_is_a_new_epoch_with_a_new_order(xy):
    loader = Loader({"x": xy[0]}, batch_size=10, shuffle=True, seed=1)
    e0 = np.concatenate([b.indices for b in loader])
    e1 = np.concatenate([b.indices for b in loader])
    assert loader.epoch == 2
    assert sorted(e0.tolist()) == sorted(e1.tolist()) and not np.array_equal(e0, e1)


def test_epochs_and_endless(xy):
    loader = Loader({"x": xy[0]}, batch_size=40, epochs=3)
    assert [b.epoch for b in loader] == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    endless = iter(Loader({"x": xy[0]}, batch_size=40, epochs=None))
    assert [next(endless).epoch for _ in range(10)][-1] == 3


def test_same_seed_same_batches_different_seed_differs(xy):
    run = lambda seed: collect(Loader({"x": xy[0]}, 16, shuffle=True, seed=seed, transform=noisy,
                                      epochs=2))
    same(run(7), run(7))
    assert run(7)[0][2] != run(8)[0][2]


def test_random_transform_depends_only_on_seed_epoch_number(xy):
    a = Loader({"x": xy[0]}, 16, shuffle=True, seed=3, transform=noisy)
    b = Loader({"x": xy[0]}, 16, shuffle=True, seed=3, transform=noisy)
    via_iter = collect(a)
    np.testing.assert_array_equal(b[2]["x"], via_iter[2][3])


@given(position=st.integers(0, 30), policy=st.sampled_from(["short", "drop", "merge", "carry"]),
       batch_size=st.integers(1, 40), shuffle=st.booleans())
def test_resume_at_any_position_equals_uninterrupted(position, policy, batch_size, shuffle):
    x = np.arange(37, dtype=np.float32)[:, None]
    if policy == "drop" and batch_size > 37:
        batch_size = 37
    make = lambda: Loader({"x": x}, batch_size, shuffle=shuffle, seed=11, last_batch=policy,
                          transform=noisy, epochs=3)
    full = collect(make())
    position = min(position, len(full))
    first = make()
    it = iter(first)
    head = [next(it) for _ in range(position)]
    state = pickle.loads(pickle.dumps(first.state_dict()))
    resumed = make()
    resumed.seed = 999  # the state carries the seed
    resumed.load_state_dict(state)
    rest = collect(resumed)
    same([(b.epoch, b.number, b.indices.tolist(), b["x"]) for b in head] + rest, full)


def test_resume_then_following_epochs_match(xy):
    a = Loader({"x": xy[0]}, 30, shuffle=True, seed=2)
    list(a)
    it = iter(a)
    next(it)
    b = Loader({"x": xy[0]}, 30, shuffle=True)
    b.load_state_dict(a.state_dict())
    same(collect(b), collect(it))
    same(collect(b), collect(a))  # the next epochs agree too


def test_state_from_another_configuration_is_refused(xy):
    state = Loader({"x": xy[0]}, 10).state_dict()
    with pytest.raises(ValueError, match="batch_size=10 but this loader has batch_size=20"):
        Loader({"x": xy[0]}, 20).load_state_dict(state)


def test_carry_crosses_epochs_like_batchflow():
    loader = Loader({"x": np.arange(4)}, 3, last_batch="carry", epochs=2)
    assert [b["x"].tolist() for b in loader] == [[0, 1, 2], [3, 0, 1], [2, 3]]
    endless = iter(Loader({"x": np.arange(4)}, 3, last_batch="carry", epochs=None))
    assert [next(endless)["x"].tolist() for _ in range(4)] == [[0, 1, 2], [3, 0, 1], [2, 3, 0],
                                                               [1, 2, 3]]


def test_carry_batch_larger_than_epoch():
    loader = Loader({"x": np.arange(3)}, 5, last_batch="carry", epochs=4)
    assert [b["x"].tolist() for b in loader] == [[0, 1, 2, 0, 1], [2, 0, 1, 2, 0], [1, 2]]


def test_merge_and_n_extend_through_the_loader():
    loader = Loader({"x": np.arange(20)}, 6, last_batch="merge", n_extend=2)
    assert [b["x"].tolist() for b in loader] == [list(range(0, 8)), list(range(4, 14)),
                                                 list(range(10, 20))]


def test_drop_is_counted(xy):
    loader = Loader({"x": xy[0]}, 30, last_batch="drop", epochs=2)
    assert sum(b.size for b in loader) == 180
    assert loader.stats.dropped == 20 and loader.stats.samples == 180 and loader.stats.batches == 6


def test_drop_with_batch_larger_than_data_raises(xy):
    with pytest.raises(ValueError, match="batch_size=200 is larger than the 100 samples"):
        Loader({"x": xy[0]}, 200, last_batch="drop")


def test_getitem_matches_iteration_and_checks_range(xy):
    loader = Loader({"x": xy[0]}, 32, shuffle=True, seed=4, transform=noisy)
    got = [loader[i]["x"] for i in range(len(loader))]
    for g, b in zip(got, loader):
        np.testing.assert_array_equal(g, b["x"])
    loader.set_epoch(0)
    np.testing.assert_array_equal(loader[-1]["x"], got[-1])
    with pytest.raises(IndexError, match="batch 4 is out of range: epoch 0 has 4 batches"):
        loader[4]


def test_tuple_output_and_indices(xy):
    x, y = xy
    loader = Loader({"x": x, "y": y}, 50, output=("y", "x"), return_indices=True)
    ids, yb, xb = next(iter(loader))
    assert ids.tolist() == list(range(50))
    np.testing.assert_array_equal(xb, x[:50]) and np.testing.assert_array_equal(yb, y[:50])
    with pytest.raises(ValueError, match=r"output fields \['z'\] are not in the source"):
        Loader({"x": x}, 5, output=("z",))


def test_weighted_order_through_loader():
    loader = Loader({"x": np.arange(4)}, 100, order=Weighted([0, 0, 1, 3], num_samples=4000), seed=0)
    counts = np.bincount(np.concatenate([b["x"] for b in loader]), minlength=4)
    assert counts[:2].sum() == 0 and 2700 < counts[3] < 3300
    assert len(loader) == 40


def test_mix_source_draws_with_its_weights():
    big, small = ArraySource(x=np.zeros(900)), ArraySource(x=np.ones(100))
    loader = Loader(ladle.mix([big, small], [0.5, 0.5]), batch_size=100, seed=0)
    share = np.mean(np.concatenate([b["x"] for b in loader]))
    assert 0.45 < share < 0.55


def test_shard_ranks_are_disjoint_and_equal(xy):
    parts = [list(Loader({"x": xy[0]}, 8, shuffle=True, seed=5, shard=(r, 3), even="drop"))
             for r in range(3)]
    assert len({len(p) for p in parts}) == 1
    ids = [i for p in parts for b in p for i in b.indices.tolist()]
    assert len(ids) == len(set(ids)) == 99


def test_map_concat_and_map_mean(xy):
    x, y = xy
    loader = Loader({"x": x, "y": y}, 32)
    (doubled,) = loader.map_concat(lambda b: b["x"] * 2)
    np.testing.assert_array_equal(doubled, x * 2)
    total, count = Loader([x, y], 32, output=("0", "1")).map_concat(lambda xb, yb: (xb, yb))
    assert total.shape == (100, 2) and count.shape == (100,)
    mean_x, mean_count = loader.map_mean(lambda b: (b["x"][:, 0].sum(), np.float64(b.size)))
    assert mean_x == pytest.approx(x[:, 0].mean()) and mean_count == 1
    per_sample = loader.map_mean(lambda b: b["x"][:, 0], sum_axis=0)
    assert per_sample == pytest.approx(x[:, 0].mean())
    assert loader.epoch == 0 and loader.stats.batches == 0  # state untouched
    assert loader.map_concat(lambda b: ()) == ()


def test_map_progress_bar_has_the_right_total(xy, capsys):
    Loader({"x": xy[0]}, 10).map_concat(lambda b: b["x"], progress=True)
    err = capsys.readouterr().err
    assert "10/10" in err


def test_iteration_progress_bar(xy, capsys):
    list(Loader({"x": xy[0]}, 25, epochs=2, progress=True))
    assert "0/8" in capsys.readouterr().err  # the bar knows its total (2 epochs x 4 batches)


def test_errors_name_the_batch_and_rows():
    class Bad(ArraySource):
        def read(self, indices):
            if 7 in indices:
                raise OSError("disk on fire")
            return super().read(indices)

    loader = Loader(Bad(x=np.arange(10)), 4)
    with pytest.raises(BatchError, match=r"batch 1 of epoch 0 \(rows \[4, 5, 6, 7\]\) failed: "
                                         r"OSError: disk on fire") as info:
        list(loader)
    assert isinstance(info.value.__cause__, OSError)


def test_transform_must_return_a_batch():
    with pytest.raises(BatchError, match="must return the batch"):
        list(Loader({"x": np.arange(4)}, 2, transform=lambda b: 3))
    out = list(Loader({"x": np.arange(4)}, 2, transform=lambda b: {"z": b["x"] + 1}))
    assert out[1]["z"].tolist() == [3, 4] and out[1].indices.tolist() == [2, 3]


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(batch_size=0), ValueError, "batch_size=0 must be >= 1"),
    (dict(batch_size=2.5), TypeError, "batch_size=2.5 must be an integer"),
    (dict(last_batch="partial"), ValueError, "last_batch='partial' is not one of"),
    (dict(seed=-1), ValueError, "seed=-1 must be a non-negative integer"),
    (dict(epochs=0), ValueError, "epochs=0 must be >= 1"),
    (dict(workers=-1), ValueError, "workers=-1 must be >= 0"),
    (dict(backend="gpu"), ValueError, "backend='gpu' is not one of"),
    (dict(order=[0, 10]), IndexError, "contains 10, outside the valid range"),
    (dict(shard=(3, 2)), ValueError, "rank must be in"),
    (dict(timeout=0), ValueError, "timeout=0 must be a positive number"),
    (dict(transform=5), TypeError, "transform=5 must be callable"),
])
def test_arguments_are_validated(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        Loader({"x": np.arange(10)}, **{"batch_size": 2, **kwargs})


def test_empty_source_is_refused():
    with pytest.raises(ValueError, match="has no samples"):
        Loader({"x": np.empty((0, 3))}, 2)


def test_stale_iterator_is_refused(xy):
    loader = Loader({"x": xy[0]}, 10)
    first = iter(loader)
    next(first)
    second = iter(loader)
    next(second)
    with pytest.raises(RuntimeError, match="stale"):
        next(first)


def test_a_broken_off_iteration_continues_where_it_stopped(xy):
    loader = Loader({"x": xy[0]}, 10)
    for b in loader:
        if b.number == 3:
            break
    assert [b.number for b in loader] == list(range(4, 10))
    assert [b.number for b in loader][0] == 0  # next epoch


@pytest.mark.parametrize("workers", [1, 3])
def test_threads_give_the_serial_output(xy, workers):
    serial = collect(Loader({"x": xy[0]}, 7, shuffle=True, seed=9, transform=noisy, epochs=2))
    with Loader({"x": xy[0]}, 7, shuffle=True, seed=9, transform=noisy, epochs=2,
                workers=workers, prefetch=4) as loader:
        same(collect(loader), serial)


def test_executor_argument_and_resume_with_workers(xy):
    from concurrent.futures import ThreadPoolExecutor

    serial = collect(Loader({"x": xy[0]}, 7, shuffle=True, seed=9, transform=noisy))
    with ThreadPoolExecutor(2) as ex:
        loader = Loader({"x": xy[0]}, 7, shuffle=True, seed=9, transform=noisy, executor=ex)
        it = iter(loader)
        head = [next(it) for _ in range(5)]
        state = loader.state_dict()
        resumed = Loader({"x": xy[0]}, 7, shuffle=True, transform=noisy, executor=ex)
        resumed.load_state_dict(state)
        rest = collect(resumed)
    same([(b.epoch, b.number, b.indices.tolist(), b["x"]) for b in head] + rest, serial)


def test_thread_errors_are_reported_with_the_batch(xy):
    def fail(batch):
        if batch.number == 2:
            raise ValueError("boom")
        return batch

    with Loader({"x": xy[0]}, 10, transform=fail, workers=2) as loader:
        with pytest.raises(BatchError, match=r"batch 2 of epoch 0 .*ValueError: boom"):
            list(loader)


def test_timeout_names_the_batch():
    import time

    def slow(batch):
        if batch.number == 1:
            time.sleep(1.0)
        return batch

    with Loader({"x": np.arange(6)}, 2, transform=slow, workers=1, timeout=0.2) as loader:
        with pytest.raises(ladle.BatchTimeout, match="batch 1 of epoch 0"):
            list(loader)


def test_skipped_samples_are_counted_and_bounded():
    class Flaky(ArraySource):
        def read(self, indices):
            data = ladle.Batch(super().read(indices), indices)
            data.skipped = indices[indices % 10 == 3]
            return data

    loader = Loader(Flaky(x=np.arange(100)), 10, max_error_ratio=0.2)
    list(loader)
    assert loader.stats.skipped == 10 and loader.stats.skipped_ids[:2] == [3, 13]
    strict = Loader(Flaky(x=np.arange(100)), 10, max_error_ratio=0.05)
    with pytest.raises(RuntimeError, match="could not be read .*max_error_ratio=0.05"):
        list(strict)


def test_torch_distributed_shard_is_detected(monkeypatch, xy):
    import sys
    import types

    fake = types.SimpleNamespace(is_available=lambda: True, is_initialized=lambda: True,
                                 get_rank=lambda: 1, get_world_size=lambda: 2)
    monkeypatch.setitem(sys.modules, "torch.distributed", fake)
    loader = Loader({"x": xy[0]}, 10)
    assert loader.shard == (1, 2) and len(loader) == 5
    assert next(iter(loader)).indices.tolist() == list(range(1, 20, 2))


def test_loader_pickles_its_work_unit(xy):
    maker = pickle.loads(pickle.dumps(Loader({"x": xy[0]}, 10, transform=noisy)._maker))
    assert maker(np.array([1, 2]), 0, 0)["x"].shape == (2, 2)


def test_random_access_counts_skipped_samples():
    class Flaky(ArraySource):
        def read(self, indices):
            data = ladle.Batch(super().read(indices), indices)
            data.skipped = indices[indices % 10 == 3]
            return data

    loader = Loader(Flaky(x=np.arange(100)), 10, max_error_ratio=0.5)
    for i in range(len(loader)):
        loader[i]
    assert loader.stats.skipped == 10 and loader.stats.batches == 10
    strict = Loader(Flaky(x=np.arange(100)), 10, max_error_ratio=0.05)
    with pytest.raises(RuntimeError, match="could not be read"):
        for i in range(len(strict)):
            strict[i]


def test_random_access_from_threads_while_epochs_advance(xy):
    from concurrent.futures import ThreadPoolExecutor

    loader = Loader({"x": xy[0]}, 10, shuffle=True, seed=3)
    expected = {}
    for epoch in range(12):
        loader.set_epoch(epoch)
        expected[epoch] = [loader[i].indices.tolist() for i in range(len(loader))]
    loader.set_epoch(0)
    errors = []

    def fetch(i):
        try:
            b = loader[i % 10]
            assert b.indices.tolist() == expected[b.epoch][b.number]
        except Exception as exc:  # noqa: BLE001 - collected and re-raised below
            errors.append(exc)

    with ThreadPoolExecutor(8) as pool:
        for epoch in range(1, 12):
            list(pool.map(fetch, range(40)))
            loader._cache.clear() if epoch % 4 == 0 else None
            loader.set_epoch(epoch)
    assert not errors


def test_loader_pickles_as_configuration_and_position(xy):
    loader = Loader({"x": xy[0]}, 10, shuffle=True, seed=4, workers=2, transform=noisy)
    it = iter(loader)
    next(it)
    copy = pickle.loads(pickle.dumps(loader))
    np.testing.assert_array_equal(next(iter(copy))["x"], next(it)["x"])
    loader.close()
    copy.close()


def test_carry_draws_a_function_order_once_per_epoch():
    calls = []

    def order(epoch):
        calls.append(epoch)
        return np.arange(5)

    loader = Loader({"x": np.arange(5)}, 3, order=order, last_batch="carry", epochs=6)
    assert sum(b.size for b in loader) == 30
    assert sorted(calls) == list(range(6))  # epoch 0 was not drawn again for the epoch length
