"""Persistent worker processes that return results through shared memory.

:class:`ProcessExecutor` is a :class:`concurrent.futures.Executor`. Its processes start once (by
``fork`` where the platform has it, so big sources such as arrays are shared with the workers
without a copy) and serve every epoch until :meth:`~ProcessExecutor.shutdown`, the context manager,
garbage collection or the end of the program stops them.

- Objects named in ``shared`` (the loader's source and transform) reach the workers once: inherited
  at fork, or pickled once at start under ``spawn``. A task that refers to them carries a small
  reference, not a copy (a pickle ``persistent_id``), so a task costs a few hundred bytes whatever
  the size of the source. Under fork, in-memory arrays are shared with the workers without a copy
  (pages are copied only if written; keep inventories as NumPy columns, not Python objects, whose
  reference counts would be written), and transforms may be lambdas. Under ``spawn`` (macOS,
  Windows) the source is pickled into each worker: an :class:`~ladle.ArraySource` of in-memory
  arrays is then copied once per worker, while memmaps and HDF5 stores travel as file specs and
  open lazily in each worker.
- Results come back through shared memory (:mod:`ladle.shm`): large arrays are written into a slot
  the main process lent with the task; only a small descriptor goes through the pipe.
- A worker's exception comes back with its traceback text (as the ``__cause__``); a worker that dies
  (killed, segfault, out of memory) fails its tasks with :class:`WorkerDied` at once; the executor
  is then *broken* and refuses new tasks (the loader starts a new one on the next iteration).
- Workers ignore SIGINT (the main process stops them) and exit when the main process goes away.

Example:
    >>> with ProcessExecutor(2) as ex:
    ...     ex.submit(sum, [1, 2, 3]).result()
    6
"""

from __future__ import annotations

import concurrent.futures as cf
import io
import itertools
import multiprocessing as mp
import multiprocessing.connection as mpc
import os
import pickle
import signal
import sys
import threading
import traceback
import weakref
from multiprocessing import resource_tracker, shared_memory
from typing import Any, Callable, Sequence

from ._checks import check_int
from .shm import Slot, SlotPool, read_result, write_result

__all__ = ["ProcessExecutor", "RemoteTraceback", "WorkerDied", "default_start_method"]


class WorkerDied(RuntimeError):
    """A worker process exited (killed, crashed, out of memory) while it had this task.

    Example:
        >>> str(WorkerDied("worker process 12 was killed by SIGKILL"))
        'worker process 12 was killed by SIGKILL'
    """


class RemoteTraceback(Exception):
    """The traceback text of an exception raised in a worker process (set as its ``__cause__``).

    Example:
        >>> RemoteTraceback("Traceback ...").tb
        'Traceback ...'
    """

    def __init__(self, tb: str):
        super().__init__(tb)
        self.tb = tb

    def __str__(self) -> str:
        return f'\n"""\n{self.tb}"""'


def default_start_method() -> str:
    """``"fork"`` where it is available and safe (Linux and other POSIX systems but macOS), else
    ``"spawn"``.

    Example:
        >>> default_start_method() in ("fork", "spawn")
        True
    """
    if sys.platform != "darwin" and "fork" in mp.get_all_start_methods():
        return "fork"
    return "spawn"


# ---------------------------------------------------------------------------------------- worker


class _Loader(pickle.Unpickler):
    def __init__(self, data: bytes, shared: Sequence[Any]):
        super().__init__(io.BytesIO(data))
        self.shared = shared

    def persistent_load(self, pid: Any) -> Any:
        return self.shared[pid]


def _dump_exception(exc: BaseException) -> tuple[bytes, str]:
    text = "".join(traceback.format_exception(exc))
    try:
        data = pickle.dumps(exc, protocol=pickle.HIGHEST_PROTOCOL)
        pickle.loads(data)
    except Exception:
        data = pickle.dumps(RuntimeError(f"{type(exc).__qualname__}: {exc}"))
    return data, text


def _own_slot(attached: dict, prefix: str, counter: Any, needed: int) -> tuple[str, memoryview]:
    """A new segment for a result that did not fit the lent slot; the main process adopts it."""
    name = f"{prefix}_w{os.getpid()}_{next(counter)}"
    shm = attached[name] = shared_memory.SharedMemory(name, create=True, size=needed)
    return name, shm.buf


def _worker_main(conn: mpc.Connection, shared: Sequence[Any], others: list, parent: int,
                 prefix: str) -> None:
    """A worker's loop: receive a task, run it, send the result (arrays into the lent slot)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if others:  # forked: a lock another thread held at fork time would stay locked forever here;
        # the resource tracker's (taken when a segment is attached) must start free
        tracker = getattr(resource_tracker, "_resource_tracker", None)
        if tracker is not None and hasattr(tracker, "_lock"):
            tracker._lock = type(tracker._lock)()
    for other in others:  # the main process's pipe ends inherited at fork: EOF must reach us
        other.close()
    from .sources.base import Source

    for obj in shared:  # file handles inherited at fork are the parent's: sources reopen lazily
        if isinstance(obj, Source) and others:
            try:
                obj.close()
            except Exception:  # pragma: no cover - a source that cannot close stays as it is
                pass
    attached: dict[str, shared_memory.SharedMemory] = {}
    counter = itertools.count()
    try:
        while True:
            while not conn.poll(1.0):
                if os.getppid() != parent:
                    return
            try:
                message = conn.recv_bytes()
            except (EOFError, OSError):
                return
            tid, slot_name, forget, payload = pickle.loads(message)
            for name in forget:
                old = attached.pop(name, None)
                if old is not None:
                    try:
                        old.close()
                    except BufferError:  # pragma: no cover - still in use: unmapped at exit
                        pass
            try:
                fn, args, kwargs = _Loader(payload, shared).load()
                result = fn(*args, **kwargs)
            except BaseException as exc:
                reply = ("err", tid, *_dump_exception(exc))
            else:
                try:
                    buf = None
                    if slot_name is not None:
                        shm = attached.get(slot_name)
                        if shm is None:
                            shm = attached[slot_name] = shared_memory.SharedMemory(slot_name)
                        buf = shm.buf
                    data, used, needed = write_result(result, buf)
                    made = None
                    if needed > used:  # some arrays did not fit: into a segment of our own
                        made, buf = _own_slot(attached, prefix, counter, needed + needed // 8)
                        data, used, needed = write_result(result, buf)
                    reply = ("ok", tid, data, used, needed, made)
                except BaseException as exc:
                    error = TypeError(f"the result ({type(result).__name__}) could not be sent "
                                      f"back from the worker process: {type(exc).__name__}: {exc}")
                    reply = ("err", tid, *_dump_exception(error))
            try:
                conn.send_bytes(pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL))
            except (BrokenPipeError, OSError):
                return
    finally:
        for shm in attached.values():
            try:
                shm.close()
            except BufferError:  # pragma: no cover - still in use: unmapped at exit
                pass


# ---------------------------------------------------------------------------------------- main


class _Dumper(pickle.Pickler):
    def __init__(self, file: io.BytesIO, ids: dict[int, int]):
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.ids = ids

    def persistent_id(self, obj: Any) -> Any:
        return self.ids.get(id(obj))


def _describe_exit(pid: int, code: int | None) -> str:
    if code is None:
        return f"worker process {pid} stopped responding"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = " (out of memory, or killed)" if name == "SIGKILL" else ""
        return f"worker process {pid} was killed by {name}{hint}"
    return f"worker process {pid} exited with code {code}"


class _State:
    """Everything the collector thread and the finalizer need (never the executor itself)."""

    def __init__(self, n: int, copy: bool, max_free: int):
        self.lock = threading.Lock()
        self.procs: list[Any] = []
        self.conns: list[mpc.Connection] = []
        self.send_locks = [threading.Lock() for _ in range(n)]
        self.tasks: list[set[int]] = [set() for _ in range(n)]
        self.alive = [True] * n
        self.forget_cursor = [0] * n
        self.inflight: dict[int, tuple[cf.Future, int, Slot | None]] = {}
        self.counter = itertools.count()
        self.rr = 0
        self.slots = SlotPool(max_free=max_free)
        self.copy = copy
        self.closed = False
        self.broken: str | None = None
        self.stats = {"tasks": 0, "task_bytes": 0, "pipe_bytes": 0, "shared_bytes": 0}
        self.wake_r, self.wake_w = mp.Pipe(duplex=False)
        self.thread: threading.Thread | None = None

    # -------------------------------------------------------------- collector thread
    def collect(self) -> None:
        while not self.closed:
            live = [i for i, a in enumerate(self.alive) if a]
            waitables: list[Any] = [self.wake_r]
            waitables += [self.conns[i] for i in live] + [self.procs[i].sentinel for i in live]
            try:
                ready = mpc.wait(waitables)
            except (OSError, ValueError):  # a pipe closed under us: we are shutting down
                return
            if self.closed:
                return
            for i in live:
                if self.conns[i] in ready:
                    self.receive(i)
            for i in live:
                if self.procs[i].sentinel in ready:
                    self.died(i)
            if self.wake_r in ready:
                try:
                    self.wake_r.recv_bytes()
                except (EOFError, OSError):
                    return

    def receive(self, i: int) -> bool:
        try:
            message = self.conns[i].recv_bytes()
        except (EOFError, OSError):
            return False
        self.stats["pipe_bytes"] += len(message)
        kind, tid, *rest = pickle.loads(message)
        with self.lock:
            entry = self.inflight.pop(tid, None)
            self.tasks[i].discard(tid)
        if entry is None:  # pragma: no cover - shut down meanwhile
            return True
        fut, _, slot = entry
        if kind == "ok":
            data, used, needed, made = rest
            self.stats["shared_bytes"] += used
            self.slots.note_size(needed)
            if made is not None:
                if slot is not None:
                    self.slots.give_back(slot)
                slot = self.slots.adopt(made)
            try:
                result = read_result(data, slot, used, self.slots, self.copy)
            except BaseException as exc:  # pragma: no cover - unpickling failed in the main process
                fut.set_exception(exc)
            else:
                fut.set_result(result)
        else:
            if slot is not None:
                self.slots.give_back(slot)
            data, text = rest
            try:
                exc = pickle.loads(data)
            except Exception:  # pragma: no cover - checked in the worker
                exc = RuntimeError("an exception in the worker process could not be unpickled")
            exc.__cause__ = RemoteTraceback(text)
            fut.set_exception(exc)
        return True

    def died(self, i: int) -> None:
        while self.conns[i].poll():  # results it sent before dying still count
            if not self.receive(i):
                break
        proc = self.procs[i]
        proc.join(0.5)
        why = _describe_exit(proc.pid, proc.exitcode)
        with self.lock:
            self.alive[i] = False
            self.broken = self.broken or why
            lost = [self.inflight.pop(t) for t in sorted(self.tasks[i]) if t in self.inflight]
            self.tasks[i].clear()
        for fut, _, slot in lost:
            if slot is not None:
                self.slots.give_back(slot)
            fut.set_exception(WorkerDied(f"{why} while making this task"))

    # -------------------------------------------------------------- shutdown
    def shutdown(self, wait: bool = True) -> None:
        with self.lock:
            if self.closed:
                return
            self.closed = True
            pending = list(self.inflight.values())
            self.inflight.clear()
        try:
            self.wake_w.send_bytes(b"s")
        except OSError:  # pragma: no cover
            pass
        thread = self.thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(5.0)
        for conn in self.conns:
            conn.close()  # idle workers see EOF and exit
        grace = 1.0 if wait else 0.05
        for proc in self.procs:
            proc.join(grace)
            grace = 0.05
        for proc in self.procs:
            if proc.is_alive():
                proc.terminate()
        for proc in self.procs:
            proc.join(2.0)
            if proc.is_alive():  # pragma: no cover - ignores SIGTERM
                proc.kill()
                proc.join()
        for proc in self.procs:
            proc.close()
        for fut, _, slot in pending:
            if not fut.done():
                fut.set_exception(cf.CancelledError("the ProcessExecutor was shut down"))
            if slot is not None:
                self.slots.give_back(slot)
        self.slots.close()
        self.wake_r.close()
        self.wake_w.close()


class ProcessExecutor(cf.Executor):
    """An executor of persistent worker processes whose results come back through shared memory.

    Args:
        workers: number of processes (>= 1).
        shared: objects the workers receive once (at fork, or pickled once under ``spawn``);
            tasks refer to them instead of pickling them, e.g. the loader's source and transform.
        start_method: ``"fork"`` (default where available, not macOS) or ``"spawn"``/
            ``"forkserver"``; everything in ``shared`` must then pickle.
        copy: copy arrays out of shared memory once on arrival (the slot is reused at once)
            instead of handing out views of it (the default: no copy).
        max_free_slots: idle shared-memory slots kept for reuse (default ``2 * workers + 2``).

    Attributes:
        pids: the worker processes' ids.
        broken: why the executor refuses new tasks (a worker died), or None.
        stats: ``tasks``, ``task_bytes`` (sent to the workers), ``pipe_bytes`` (results received
            through pipes), ``shared_bytes`` (received through shared memory) and ``slots``
            (shared-memory segments alive).

    Example:
        >>> import numpy as np
        >>> with ProcessExecutor(1) as ex:
        ...     big = ex.submit(np.ones, 100_000).result()
        ...     float(big.sum()), ex.stats["pipe_bytes"] < 1000
        (100000.0, True)
    """

    def __init__(self, workers: int, shared: Sequence[Any] = (), *, start_method: str | None = None,
                 copy: bool = False, max_free_slots: int | None = None):
        n = check_int("workers", workers, 1)
        method = start_method or default_start_method()
        if method not in mp.get_all_start_methods():
            raise ValueError(f"start_method={method!r} is not available here; use one of "
                             f"{mp.get_all_start_methods()}")
        ctx = mp.get_context(method)
        self._shared = list(shared)
        self._ids = {id(obj): k for k, obj in enumerate(self._shared)
                     if not isinstance(obj, (type(None), bool, int, float, str, bytes))}
        if method != "fork":
            try:
                pickle.dumps(self._shared)
            except Exception as exc:
                raise TypeError(f"with start_method={method!r} the source and transform must "
                                f"pickle ({type(exc).__name__}: {exc}); define the transform at "
                                "module level, or use the 'fork' start method") from exc
        self.start_method = method
        max_free = 2 * n + 2 if max_free_slots is None else check_int("max_free_slots",
                                                                      max_free_slots, 0)
        state = self._state = _State(n, copy, max_free)
        resource_tracker.ensure_running()  # one tracker, shared with the workers, owns the slots
        pipes = [ctx.Pipe() for _ in range(n)]
        mains = [p[0] for p in pipes]
        try:
            for i, (main_end, worker_end) in enumerate(pipes):
                others = (mains + [w for k, (_, w) in enumerate(pipes) if k != i]
                          if method == "fork" else [])
                proc = ctx.Process(target=_worker_main, name=f"ladle-worker-{i}", daemon=True,
                                   args=(worker_end, self._shared, others, os.getpid(),
                                         state.slots.prefix))
                proc.start()
                state.procs.append(proc)
                state.conns.append(main_end)
            for _, worker_end in pipes:
                worker_end.close()
        except BaseException:
            state.conns = mains
            state.shutdown(wait=False)
            raise
        self._pids = [p.pid for p in state.procs]
        state.thread = threading.Thread(target=state.collect, name="ladle-collector", daemon=True)
        state.thread.start()
        self._finalizer = weakref.finalize(self, state.shutdown, False)

    @property
    def pids(self) -> list[int]:
        """Process ids of the workers."""
        return list(self._pids)

    @property
    def broken(self) -> str | None:
        """Why new tasks are refused (a worker died), or None."""
        return self._state.broken

    @property
    def stats(self) -> dict[str, int]:
        """Tasks run, bytes received through pipes and through shared memory, slots alive."""
        s = self._state
        return {**s.stats, "slots": s.slots.count}

    @property
    def slot_names(self) -> list[str]:
        """Names of the shared-memory segments alive (``/dev/shm/<name>`` on Linux)."""
        return self._state.slots.names

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future:
        """Run ``fn(*args, **kwargs)`` on the least busy worker; a :class:`~concurrent.futures.Future`.

        Once a worker has died the executor is broken: new futures fail with :class:`WorkerDied`.

        Example:
            >>> with ProcessExecutor(1) as ex:
            ...     ex.submit(divmod, 7, 2).result()
            (3, 1)
        """
        f = io.BytesIO()
        try:
            _Dumper(f, self._ids).dump((fn, args, kwargs))
        except Exception as exc:
            raise TypeError(f"the task {fn!r} cannot be sent to a worker process "
                            f"({type(exc).__name__}: {exc}); make it picklable") from exc
        payload = f.getvalue()
        fut: cf.Future = cf.Future()
        fut.set_running_or_notify_cancel()
        s = self._state
        with s.lock:
            if s.closed:
                raise RuntimeError("cannot submit to a ProcessExecutor after shutdown()")
            if s.broken:  # a failed future, so that the caller reports it with its task
                fut.set_exception(WorkerDied(f"not run: the ProcessExecutor is broken ({s.broken}); "
                                             "start a new one"))
                return fut
            n = len(s.procs)
            order = [(s.rr + k) % n for k in range(n)]
            s.rr = (s.rr + 1) % n
            i = min((j for j in order if s.alive[j]), key=lambda j: len(s.tasks[j]))
            slot = s.slots.take()
            tid = next(s.counter)
            s.inflight[tid] = (fut, i, slot)
            s.tasks[i].add(tid)
            forget = s.slots.dropped[s.forget_cursor[i]:]
            s.forget_cursor[i] = len(s.slots.dropped)
        message = pickle.dumps((tid, None if slot is None else slot.name, forget, payload),
                               protocol=pickle.HIGHEST_PROTOCOL)
        s.stats["tasks"] += 1
        s.stats["task_bytes"] += len(message)
        try:
            with s.send_locks[i]:
                s.conns[i].send_bytes(message)
        except (OSError, ValueError):  # the worker is gone: the collector fails the task
            pass
        return fut

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop the workers and release every shared-memory segment (arrays in use stay valid).

        Tasks still running are abandoned (their futures fail with ``CancelledError``).

        Example:
            >>> ex = ProcessExecutor(1); ex.shutdown(); ex.stats["slots"]
            0
        """
        self._finalizer.detach()
        self._state.shutdown(wait)

    def __repr__(self) -> str:
        s = self._state
        status = "closed" if s.closed else ("broken" if s.broken else "running")
        return f"ProcessExecutor(workers={len(s.procs)}, start_method={self.start_method!r}, {status})"
