"""Parallel preparation: threads, worker processes with shared memory, failures, cleanup."""

import concurrent.futures as cf
import gc
import multiprocessing as mp
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from ladle import ArraySource, BatchError, BatchTimeout, Loader, Source
from ladle.parallel import BatchMaker, Prefetcher, ordered_map
from ladle.shm import SlotPool, in_shared_memory
from ladle.workers import ProcessExecutor, WorkerDied
from helpers import collect, noisy, same

X = (np.arange(100)[:, None] + np.arange(64) / 100).astype(np.float32)  # 7 rows: 1.8 KB, shared
Y = (np.arange(100) % 3).astype(np.int64)





def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie is dead too
        return f.read().split(")")[-1].split()[0] != "Z"


def shm_files(prefix):
    return [n for n in os.listdir("/dev/shm") if n.startswith(prefix)]


def released(executor):
    """No worker alive and no shared-memory segment of this executor left."""
    return not any(alive(p) for p in executor.pids) and not shm_files(
        executor._state.slots.prefix)


@pytest.fixture(scope="module")
def pool():
    with ProcessExecutor(1) as ex:
        yield ex


# ---------------------------------------------------------------- same output everywhere
@pytest.mark.parametrize("workers, backend", [(1, "thread"), (3, "thread"), (1, "process"),
                                              (2, "process")])
def test_every_backend_gives_the_serial_output_bit_for_bit(workers, backend):
    make = lambda **kw: Loader({"x": X, "y": Y}, 7, shuffle=True, seed=9, transform=noisy,
                               epochs=3, **kw)
    serial = collect(make())
    with make(workers=workers, backend=backend, prefetch=5) as loader:
        same(collect(loader), serial)
        if backend == "process":
            pids = loader.executor.pids
            later = make()
            later.set_epoch(3)
            same(collect(loader), collect(later))  # epochs 3-5
            assert loader.executor.pids == pids  # the same processes served every epoch


def test_resume_with_process_workers_equals_the_uninterrupted_run():
    make = lambda **kw: Loader({"x": X}, 6, shuffle=True, seed=4, transform=noisy, epochs=2, **kw)
    serial = collect(make())
    with make(workers=2, backend="process") as first:
        it = iter(first)
        head = [next(it) for _ in range(20)]
        state = first.state_dict()
    head = [(b.epoch, b.number, b.indices.tolist(), b["x"]) for b in head]
    with make(workers=2, backend="process") as resumed:
        resumed.load_state_dict(state)
        same(head + collect(resumed), serial)


def test_lambda_transforms_and_unpicklable_sources_work_with_fork():
    lock = threading.Lock()  # does not pickle: the source is inherited at fork, never pickled

    class Locked(ArraySource):
        def read(self, indices):
            with lock:
                return super().read(indices)

    make = lambda **kw: Loader(Locked(x=X), 10, seed=1, transform=lambda b: {"x": b["x"] * 2}, **kw)
    with make(workers=2, backend="process") as loader:
        same(collect(loader), collect(make()))


# ---------------------------------------------------------------- shared memory transport
def test_batches_come_back_through_shared_memory_and_tasks_stay_small():
    big = np.random.default_rng(0).random((512, 32, 32), dtype=np.float32)  # 2 MB source
    with Loader({"x": big}, 64, workers=2, backend="process", epochs=2) as loader:
        batches = list(loader)
        stats = loader.executor.stats
    assert all(in_shared_memory(b["x"]) for b in batches)
    np.testing.assert_array_equal(np.concatenate([b["x"] for b in batches[:8]]), big)
    assert stats["shared_bytes"] >= 2 * big.nbytes
    assert stats["pipe_bytes"] / stats["tasks"] < 2000  # descriptors, not 256 KB batches
    assert stats["task_bytes"] / stats["tasks"] < 2000  # the source is not pickled per task


def test_held_batches_are_never_overwritten_and_slots_are_reused():
    make = lambda **kw: Loader({"x": X}, 25, shuffle=True, seed=2, transform=noisy, epochs=4, **kw)
    with make(workers=2, backend="process", prefetch=3) as loader:
        held = list(loader)  # 16 batches alive at once: each keeps its own slot
        same(collect(make()), [(b.epoch, b.number, b.indices.tolist(), b["x"]) for b in held])
        assert loader.executor.stats["slots"] >= 16
        del held
        gc.collect()
        for _ in range(3):
            for b in loader:
                pass
        assert loader.executor.stats["slots"] <= 3 + 2 + 2  # in flight + idle store + held


def test_results_of_growing_size_and_object_fields_round_trip():
    def grow(batch):
        k = batch.number + 1
        return {"x": np.repeat(batch["x"], 200 * k, axis=0), "names": np.array(
            [f"row{i}" * k for i in batch.indices], dtype=object), "small": batch["x"][:1]}

    make = lambda **kw: Loader({"x": X}, 10, transform=grow, **kw)
    with make(workers=1, backend="process") as loader:
        out = list(loader)
        assert loader.executor.stats["pipe_bytes"] < 20_000
    for a, b in zip(out, make()):
        assert a.keys() == b.keys() and a["names"].tolist() == b["names"].tolist()
        np.testing.assert_array_equal(a["x"], b["x"])
        assert in_shared_memory(a["x"]) and not in_shared_memory(a["small"])


array_strategy = st.one_of(
    hnp.arrays(hnp.scalar_dtypes(), hnp.array_shapes(min_dims=0, max_dims=3, max_side=40)),
    hnp.arrays(np.dtype([("a", "<i4"), ("b", "<f8", (2,))]), st.integers(0, 300)),
    hnp.arrays(np.float64, (60, 30)).map(lambda a: a[::2, ::-3]),  # not contiguous
)


@settings(max_examples=30)
@given(arrays=st.lists(array_strategy, min_size=1, max_size=4), copy=st.booleans())
def test_any_arrays_round_trip_through_a_worker(pool, arrays, copy):
    pool._state.copy = copy
    out = pool.submit(tuple, arrays).result(timeout=60)
    assert len(out) == len(arrays)
    for got, want in zip(out, arrays):
        want = pickle.loads(pickle.dumps(want, protocol=5))  # the contract: what a pipe delivers
        assert got.dtype == want.dtype and got.shape == want.shape
        assert got.tobytes() == want.tobytes()  # bit for bit, NaN payloads included


def test_copy_mode_hands_out_private_arrays():
    with ProcessExecutor(1, copy=True) as ex:
        out = ex.submit(np.ones, 10_000).result()
        assert not in_shared_memory(out) and out.sum() == 10_000
        assert ex.stats["shared_bytes"] == 80_000


def test_slot_pool_caps_idle_slots_and_sweeps_orphans():
    from multiprocessing import shared_memory

    slots = SlotPool(max_free=1)
    slots.note_size(5000)
    a, b = slots.take(), slots.take()
    slots.give_back(a)
    slots.give_back(b)  # beyond max_free: dropped
    assert slots.count == 1 and slots.dropped == [b.name]
    orphan = shared_memory.SharedMemory(f"{slots.prefix}_w1_0", create=True, size=10)
    slots.close()
    assert not shm_files(slots.prefix)
    orphan.close()


# ---------------------------------------------------------------- lifetime and cleanup
def test_workers_persist_and_close_releases_processes_and_shared_memory():
    loader = Loader({"x": X}, 10, workers=2, backend="process", epochs=3)
    list(loader)
    ex = loader.executor
    assert all(alive(p) for p in ex.pids) and shm_files(ex._state.slots.prefix)
    loader.close()
    assert released(ex)
    assert [b.number for b in loader][-1] == 9  # usable again: new workers start
    second = loader.executor
    assert second is not ex
    loader.close()
    assert released(second)


def test_garbage_collection_releases_workers_and_shared_memory():
    loader = Loader({"x": X}, 10, workers=2, backend="process")
    it = iter(loader)
    next(it)
    ex = loader.executor
    del loader, it
    gc.collect()
    assert released(ex)


def test_keyboard_interrupt_in_the_loop_body_with_a_context_manager():
    with pytest.raises(KeyboardInterrupt):
        with Loader({"x": X}, 10, workers=2, backend="process") as loader:
            for batch in loader:
                ex = loader.executor
                raise KeyboardInterrupt
    assert released(ex)


def sleepy(batch):
    if batch.number == 1:
        time.sleep(30)
    return batch


def test_keyboard_interrupt_while_waiting_for_a_batch_stops_everything():
    loader = Loader({"x": X}, 10, transform=sleepy, workers=2, backend="process", timeout=60)
    it = iter(loader)
    next(it)
    ex = loader.executor
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        next(it)
    timer.join()
    assert released(ex)
    assert not set(ex.pids) & {p.pid for p in mp.active_children()}  # none left as a child
    assert loader.executor is not ex  # the next iteration starts fresh workers


SCRIPT = textwrap.dedent("""
    import os, signal, sys, time
    import numpy as np
    from ladle import Loader

    def slow(batch):
        if batch.number == 2:
            time.sleep(30)
        return batch

    loader = Loader({"x": np.arange(400.0).reshape(100, 4)}, 10, transform=slow, workers=2,
                    backend="process")
    for batch in loader:
        ex = loader.executor
        if batch.number == 1:
            print(ex._state.slots.prefix, *ex.pids, flush=True)
            if sys.argv[1] == "body":
                raise KeyboardInterrupt
            signal.setitimer(signal.ITIMER_REAL, 0.3)  # SIGALRM -> SIGINT while waiting
            signal.signal(signal.SIGALRM, lambda *a: os.kill(os.getpid(), signal.SIGINT))
""")


@pytest.mark.parametrize("where", ["body", "waiting"])
def test_an_interrupted_program_leaves_no_process_or_segment(tmp_path, where):
    script = tmp_path / "interrupted.py"
    script.write_text(SCRIPT)
    run = subprocess.run([sys.executable, str(script), where], capture_output=True, text=True,
                         timeout=120)
    assert "KeyboardInterrupt" in run.stderr and run.returncode != 0
    prefix, *pids = run.stdout.split()
    assert not any(alive(int(p)) for p in pids)
    assert not shm_files(prefix)
    assert "leaked" not in run.stderr  # the resource tracker found nothing to clean


# ---------------------------------------------------------------- failures
def failing(batch):
    if batch.number == 2:
        raise ValueError("boom")
    return batch


class Picky(Exception):
    def __init__(self, a, b):  # does not unpickle from its args
        super().__init__(f"{a}/{b}")


def picky(batch):
    raise Picky(1, 2)


@pytest.mark.parametrize("backend", ["thread", "process"])
def test_worker_exceptions_name_the_batch_and_keep_the_traceback(backend):
    loader = Loader({"x": X}, 10, transform=failing, workers=2, backend=backend)
    with loader, pytest.raises(BatchError, match=r"batch 2 of epoch 0 \(rows \[20, 21, .*29\]\) "
                                                 r"failed: ValueError: boom") as info:
        list(loader)
    err = info.value
    assert isinstance(err.cause, ValueError) and err.__cause__ is err.cause
    assert "in failing" in err.traceback and 'raise ValueError("boom")' in err.traceback
    assert err.number == 2 and err.indices.tolist() == list(range(20, 30))
    loader = Loader({"x": X}, 10, transform=picky, workers=1, backend=backend)
    with loader, pytest.raises(BatchError, match=r"batch 0 .*Picky.*1/2") as info:
        list(loader)
    assert "in picky" in info.value.traceback
    assert pickle.loads(pickle.dumps(err)).number == 2


def stall_when_flagged(batch):
    flag = os.environ["LADLE_TEST_FLAG"]
    if batch.number == 3 and os.path.exists(flag):
        with open(f"{flag}.pid", "w") as f:
            f.write(str(os.getpid()))
        time.sleep(60)
    return batch


def test_a_killed_worker_is_an_error_naming_the_batch_and_the_loader_recovers(tmp_path,
                                                                              monkeypatch):
    flag = tmp_path / "stall"
    flag.touch()
    monkeypatch.setenv("LADLE_TEST_FLAG", str(flag))
    loader = Loader({"x": X}, 10, transform=stall_when_flagged, workers=2, backend="process",
                    timeout=120)
    it = iter(loader)
    assert [next(it).number for _ in range(3)] == [0, 1, 2]
    ex = loader.executor
    pidfile = tmp_path / "stall.pid"
    for _ in range(600):
        if pidfile.exists() and pidfile.read_text():
            break
        time.sleep(0.05)
    flag.unlink()
    os.kill(int(pidfile.read_text()), signal.SIGKILL)
    with pytest.raises(BatchError, match=r"batch 3 of epoch 0 \(rows \[30, .*\) failed: "
                                         r"WorkerDied: worker process \d+ was killed by SIGKILL"):
        next(it)
    assert released(ex)
    rest = collect(loader)  # continues at batch 3 with new workers
    same(rest, collect(Loader({"x": X}, 10))[3:])
    loader.close()


def test_timeout_names_the_batch_and_leaves_no_stuck_worker():
    loader = Loader({"x": X}, 10, transform=sleepy, workers=2, backend="process", timeout=0.5)
    ex = loader.executor
    with pytest.raises(BatchTimeout, match="batch 1 of epoch 0"):
        list(loader)
    assert released(ex)  # the stuck worker is stopped; the next iteration starts new ones


def test_the_executor_refuses_bad_use():
    with pytest.raises(ValueError, match="workers=0 must be >= 1"):
        ProcessExecutor(0)
    with pytest.raises(ValueError, match="start_method='bogus' is not available"):
        ProcessExecutor(1, start_method="bogus")
    with pytest.raises(TypeError, match="must pickle"):
        ProcessExecutor(1, [lambda: 1], start_method="spawn")
    ex = ProcessExecutor(1)
    with pytest.raises(TypeError, match="cannot be sent to a worker process"):
        ex.submit(lambda: 1)
    ex.shutdown()
    with pytest.raises(RuntimeError, match="after shutdown"):
        ex.submit(abs, 1)


def test_a_broken_executor_refuses_new_tasks():
    ex = ProcessExecutor(1)
    fut = ex.submit(time.sleep, 30)
    os.kill(ex.pids[0], signal.SIGKILL)
    with pytest.raises(WorkerDied, match="killed by SIGKILL"):
        fut.result(timeout=60)
    with pytest.raises(WorkerDied, match="not run: the ProcessExecutor is broken"):
        ex.submit(abs, 1).result(timeout=60)
    ex.shutdown()
    assert released(ex)


def test_spawned_workers_given_as_executor_give_the_same_output():
    source = ArraySource(x=X)
    with ProcessExecutor(1, shared=(source, noisy), start_method="spawn") as ex:
        loader = Loader(source, 30, shuffle=True, seed=3, transform=noisy, executor=ex)
        same(collect(loader), collect(Loader({"x": X}, 30, shuffle=True, seed=3, transform=noisy)))
        assert ex.stats["task_bytes"] / ex.stats["tasks"] < 1000  # source sent once, at start


class OpenCount(ArraySource):
    """Reports the process that last closed it: forked workers close inherited handles."""

    closed_by = None

    def close(self):
        self.closed_by = os.getpid()

    def read(self, indices):
        return {"who": np.full(len(indices), self.closed_by or 0)}


def test_forked_workers_close_the_inherited_source():
    with Loader(OpenCount(x=X), 50, workers=2, backend="process") as loader:
        who = {int(b["who"][0]) for b in loader}
        assert who <= set(loader.executor.pids) and os.getpid() not in who


# ---------------------------------------------------------------- ordering (property)
@settings(max_examples=40)
@given(delays=st.lists(st.integers(0, 3), min_size=0, max_size=25), prefetch=st.integers(1, 6),
       workers=st.integers(1, 4))
def test_ordered_map_yields_in_submission_order(delays, prefetch, workers):
    def work(k, d):
        time.sleep(d / 1000)
        return k

    submitted = []

    def counted():
        for task in [((k, d), k) for k, d in enumerate(delays)]:
            submitted.append(task[1])
            yield task

    with cf.ThreadPoolExecutor(workers) as ex:
        got = []
        for result in ordered_map(ex, work, counted(), prefetch):
            got.append(result)
            assert len(submitted) - len(got) <= prefetch  # at most prefetch not yet delivered
    assert got == list(range(len(delays)))


@settings(max_examples=15)
@given(start=st.integers(0, 12), prefetch=st.integers(1, 5), batch_size=st.integers(1, 30))
def test_process_pool_serves_any_slice_in_order(pool, start, prefetch, batch_size):
    maker = BatchMaker(ArraySource(x=X), noisy, seed=5)
    bounds = [(k, np.arange(k * batch_size, min((k + 1) * batch_size, 100)))
              for k in range(start, -(-100 // batch_size))]
    tasks = [((idx, 0, k), (k, 0, idx)) for k, idx in bounds]
    pool._state.copy = False
    got = list(ordered_map(pool, maker, tasks, prefetch, 60, describe=lambda t: t))
    for b, (k, idx) in zip(got, bounds):
        want = maker(idx, 0, k)
        assert b.number == k and b.indices.tolist() == idx.tolist()
        np.testing.assert_array_equal(b["x"], want["x"])


def test_prefetcher_serial_and_external_executors():
    p = Prefetcher(0)
    with pytest.raises(BatchError, match=r"batch 1 of epoch 0 \(rows \[7\]\)"):
        list(p.map(lambda v: 1 / v, [((1,), (0, 0, [6])), ((0,), (1, 0, [7]))],
                   describe=lambda t: t))
    with cf.ThreadPoolExecutor(1) as ex:
        p = Prefetcher(executor=ex)
        assert list(p.map(abs, [((-2,), 0)], describe=None)) == [2]
        p.close()
        assert ex.submit(abs, -1).result() == 1  # the caller's executor keeps running


# ---------------------------------------------------------------- distributed training
def test_torch_distributed_gloo_world_of_one_is_detected():
    import torch
    dist = torch.distributed
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=0, world_size=1)
    try:
        loader = Loader({"x": X}, 10, shuffle=True, seed=1)
        assert loader.shard == (0, 1) and len(loader) == 10
        ids = np.concatenate([b.indices for b in loader])
        assert sorted(ids.tolist()) == list(range(100))
    finally:
        dist.destroy_process_group()
    assert Loader({"x": X}, 10).shard is None


# ---------------------------------------------------------------- memory of forked workers
def private_mb(pid):
    with open(f"/proc/{pid}/smaps_rollup") as f:
        kb = sum(int(line.split()[1]) for line in f if line.startswith("Private_"))
    return kb / 1024


class Inventory(Source):
    """One row per file: ``read`` touches each path, as a file loader would."""

    def __init__(self, paths, labels):
        self.paths, self.labels = paths, labels

    def __len__(self):
        return len(self.paths)

    @property
    def fields(self):
        return {}

    def read(self, indices):
        sizes = np.fromiter((len(p) for p in self.paths[indices].tolist()), np.int64, len(indices))
        return {"size": sizes, "label": self.labels[indices]}


@pytest.mark.parametrize("objects", [False, True])
def test_forked_workers_do_not_copy_a_numpy_inventory(objects):
    """NumPy columns are read without copy-on-access; a column of Python objects is copied."""
    n = 300_000
    paths = np.char.add("images/img_", np.arange(n).astype("U7"))  # fixed-width str: 56 MB
    if objects:
        paths = paths.astype(object)  # Python str objects
    source = Inventory(paths, np.arange(n) % 10)
    with Loader(source, 5000, shuffle=True, seed=0, workers=2, backend="process") as loader:
        pids = loader.executor.pids
        start = [private_mb(p) for p in pids]
        for _ in range(3):
            for _ in loader:
                pass
        growth = max(private_mb(p) - s for p, s in zip(pids, start))
    if objects:
        assert growth > 15  # refcounts written: the string objects are copied into each worker
    else:
        assert growth < 6  # flat: the paths stay shared with the main process
