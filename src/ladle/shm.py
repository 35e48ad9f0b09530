"""Shared-memory transport for process workers: arrays travel through shared memory, not a pipe.

The main process owns a pool of *slots*, shared-memory segments (:mod:`multiprocessing.shared_memory`)
that it creates, reuses and unlinks. With each task it lends one slot to a worker; the worker
pickles its result with :class:`SlotWriter`, which copies every large plain NumPy array into the slot
and leaves only ``(offset, dtype, shape)`` in the pickle. The pickle (a few hundred bytes) goes back
through the pipe and :func:`read_result` rebuilds the result in the main process as views of the
slot: no copy. The slot returns to the pool when the last of those arrays is garbage-collected, so
a slot is never rewritten while user code still holds arrays that live in it (holding many batches
simply makes the pool create more slots). With ``copy=True`` the arrays are copied out once and the
slot is free at once.

Only the main process creates segments, and it registers them with multiprocessing's resource
tracker, so none outlives the program, even one killed with SIGKILL. Arrays with Python objects
(``dtype=object``), small arrays and anything that is not an array are pickled as usual.

Example:
    >>> import numpy as np
    >>> pool = SlotPool()
    >>> pool.note_size(1 << 16)
    >>> slot = pool.take()
    >>> data, used, needed = write_result({"x": np.arange(4096.0)}, slot.shm.buf)
    >>> out = read_result(data, slot, used, pool)
    >>> float(out["x"][-1]), in_shared_memory(out["x"])
    (4095.0, True)
    >>> del out; pool.close()
"""

from __future__ import annotations

import io
import mmap
import os
import pickle
import secrets
import threading
import weakref
from multiprocessing import shared_memory
from typing import Any

import numpy as np

__all__ = ["MIN_SHARED_BYTES", "Slot", "SlotPool", "SlotWriter", "in_shared_memory", "read_result",
           "write_result"]

ALIGN = 64
MIN_SHARED_BYTES = 1024
"""Arrays smaller than this are pickled inline: a pipe is cheaper than a slot for them."""

_GRANULE = 1 << 16


_GRAVEYARD: list[shared_memory.SharedMemory] = []


def _bury() -> None:
    """Retry closing segments that were still in use when released."""
    for shm in list(_GRAVEYARD):
        try:
            shm.close()
        except BufferError:
            continue
        _GRAVEYARD.remove(shm)


def _align(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


class Slot:
    """One shared-memory segment, created and owned by the main process.

    Example:
        >>> s = Slot("ladle_doc_slot_example", 100); s.size >= 100
        True
        >>> s.release()
    """

    def __init__(self, name: str, size: int = 0, create: bool = True):
        self.shm = shared_memory.SharedMemory(name=name, create=create, size=size)
        self.name = name
        self.size = self.shm.size
        self.leased = False
        self.unlinked = False

    def unlink(self) -> None:
        """Remove the name (the memory lives on while it is mapped)."""
        if not self.unlinked:
            self.unlinked = True
            try:
                self.shm.unlink()
            except FileNotFoundError:  # pragma: no cover - removed by someone else
                pass

    def release(self) -> None:
        """Unlink and unmap (only once no array uses the slot)."""
        self.unlink()
        try:
            self.shm.close()
        except BufferError:  # pragma: no cover - defensive: something still maps it
            _GRAVEYARD.append(self.shm)  # closed later; never by SharedMemory.__del__ mid-use
        _bury()


class SlotPool:
    """The main process's slots: lent to workers, reused once their arrays are gone, unlinked on close.

    ``note_size(nbytes)`` tells the pool how large results are; ``take()`` returns a free slot that
    big (or a new one, or None while no size is known); ``give_back(slot)`` returns it. Slots too
    small for the latest size, and free slots beyond ``max_free``, are dropped; their names are
    listed in ``dropped`` so that workers can unmap them too.

    Example:
        >>> pool = SlotPool(); pool.take() is None
        True
        >>> pool.note_size(1000); slot = pool.take(); slot.size >= 1000
        True
        >>> pool.give_back(slot); pool.take() is slot
        True
        >>> pool.give_back(slot); pool.close(); pool.count
        0
    """

    def __init__(self, prefix: str | None = None, max_free: int = 8):
        self.prefix = prefix or f"ladle_{os.getpid()}_{secrets.token_hex(3)}"
        self.max_free = max_free
        self._lock = threading.Lock()
        self._free: list[Slot] = []
        self._all: dict[str, Slot] = {}
        self._counter = 0
        self.want = 0
        self.closed = False
        self.dropped: list[str] = []

    @property
    def count(self) -> int:
        """Slots alive (free or lent)."""
        return len(self._all)

    @property
    def names(self) -> list[str]:
        """Names of the live slots."""
        return list(self._all)

    def note_size(self, nbytes: int) -> None:
        """Record that a result needed ``nbytes`` of shared memory."""
        if nbytes > self.want:
            with self._lock:
                # a little headroom so that slightly bigger batches do not regrow every slot
                self.want = max(self.want, nbytes + nbytes // 8)

    def take(self) -> Slot | None:
        """A free slot of at least the wanted size, a new one, or None while no size is known."""
        with self._lock:
            if self.closed or self.want == 0:
                return None
            while self._free:
                slot = self._free.pop()
                if slot.size >= self.want:
                    slot.leased = True
                    return slot
                self._drop(slot)
            self._counter += 1
            size = -(-self.want // _GRANULE) * _GRANULE
            slot = Slot(f"{self.prefix}_{self._counter}", size)
            slot.leased = True
            self._all[slot.name] = slot
            return slot

    def adopt(self, name: str) -> Slot:
        """Take over a segment a worker created (its result did not fit the slot it was lent).

        The slot is lent (give it back when done); it is unlinked with the others.
        """
        slot = Slot(name, create=False)
        with self._lock:
            slot.leased = True
            self._all[slot.name] = slot
            if self.closed:
                slot.unlink()
        return slot

    def give_back(self, slot: Slot) -> None:
        """Return a slot: kept for reuse, or released if the pool is closed or it is too small."""
        with self._lock:
            slot.leased = False
            if self.closed or slot.size < self.want or len(self._free) >= self.max_free:
                self._drop(slot)
            else:
                self._free.append(slot)

    def _drop(self, slot: Slot) -> None:
        self._all.pop(slot.name, None)
        self.dropped.append(slot.name)
        slot.release()

    def close(self) -> None:
        """Unlink every slot; free ones are unmapped now, lent ones when their arrays are gone."""
        with self._lock:
            self.closed = True
            for slot in list(self._all.values()):
                if slot.leased:
                    slot.unlink()
                else:
                    self._drop(slot)
            self._free.clear()
        self.sweep()

    def sweep(self) -> list[str]:
        """Unlink segments of this pool no process reported (a worker killed right after making
        one); Linux, where they are files in ``/dev/shm``. Returns their names."""
        known = set(self._all)
        try:
            names = [n for n in os.listdir("/dev/shm") if n.startswith(self.prefix + "_")]
        except OSError:  # pragma: no cover - no /dev/shm on this platform
            return []
        orphans = [n for n in names if n not in known]
        for name in orphans:
            try:
                shm = shared_memory.SharedMemory(name)
            except FileNotFoundError:  # pragma: no cover - gone meanwhile
                continue
            shm.unlink()
            shm.close()
        return orphans


class SlotWriter(pickle.Pickler):
    """Pickles a result, moving large plain arrays into ``buf`` (a slot's memory) at aligned offsets.

    Arrays that do not fit are pickled inline and counted in ``overflow`` (the size the next slot
    should have is ``used + overflow``).

    Example:
        >>> buf = bytearray(1 << 14)
        >>> f = io.BytesIO(); w = SlotWriter(f, memoryview(buf)); w.dump(np.ones(512))
        >>> w.used, w.overflow
        (4096, 0)
    """

    def __init__(self, file: io.BytesIO, buf: memoryview | None):
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.buf = buf
        self.capacity = 0 if buf is None else buf.nbytes
        self.used = 0
        self.overflow = 0
        self._seen: dict[int, tuple] = {}

    def persistent_id(self, obj: Any) -> Any:
        cls = type(obj)
        if cls is not np.ndarray and cls is not np.memmap:
            return None
        if obj.dtype.hasobject or obj.nbytes < MIN_SHARED_BYTES:
            return None
        pid = self._seen.get(id(obj))
        if pid is not None:
            return pid
        offset = _align(self.used)
        if offset + obj.nbytes > self.capacity:
            self.overflow += obj.nbytes + ALIGN
            return None
        dst = np.ndarray(obj.shape, obj.dtype, buffer=self.buf, offset=offset)
        np.copyto(dst, obj, casting="no")
        self.used = offset + obj.nbytes
        pid = self._seen[id(obj)] = (offset, obj.dtype, obj.shape)
        return pid


class _SlotReader(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, root: np.ndarray | None, copy: bool):
        super().__init__(file)
        self.root = root
        self.copy = copy

    def persistent_load(self, pid: Any) -> np.ndarray:
        offset, dtype, shape = pid
        view = np.ndarray(shape, dtype, buffer=self.root, offset=offset)
        return view.copy() if self.copy else view


def write_result(result: Any, buf: memoryview | None) -> tuple[bytes, int, int]:
    """Pickle ``result`` for the pipe, its large arrays into ``buf``.

    Returns ``(pickle, bytes of buf used, bytes a slot needs to hold every large array)``.

    Example:
        >>> data, used, needed = write_result(np.zeros(1000), None); used, needed
        (0, 8064)
    """
    f = io.BytesIO()
    writer = SlotWriter(f, buf)
    try:
        writer.dump(result)
    finally:
        writer.buf = None  # the pickler is in a cycle with its persistent_id: drop the buffer now
    return f.getvalue(), writer.used, writer.used + writer.overflow


def read_result(data: bytes, slot: Slot | None, used: int, pool: SlotPool,
                copy: bool = False) -> Any:
    """Rebuild a result written by :class:`SlotWriter`; its arrays are views of ``slot``.

    The slot goes back to ``pool`` when the last of those arrays is gone (at once when ``copy`` is
    true, or when the result uses no shared memory).

    Example:
        >>> read_result(pickle.dumps([3]), None, 0, SlotPool())
        [3]
    """
    if slot is None or used == 0:
        if slot is not None:
            pool.give_back(slot)
        return pickle.loads(data)
    root = np.frombuffer(slot.shm.buf, dtype=np.uint8, count=used)
    # Every array of the result is a view of ``root``, whose base is a memoryview numpy made for
    # it alone. That memoryview dies (releasing its hold on the segment) only when the last of
    # those arrays is gone: the slot is free again then, and not before.
    anchor = root.base
    copy = copy or not isinstance(anchor, memoryview)
    reader = _SlotReader(io.BytesIO(data), root, copy)
    try:
        result = reader.load()
    except BaseException:
        del root, anchor
        pool.give_back(slot)
        raise
    finally:
        reader.root = None  # the unpickler is in a cycle with its persistent_load: drop the slot now
    if copy:
        del root, anchor
        pool.give_back(slot)
    else:
        weakref.finalize(anchor, _lease_ended, pool, slot)
    return result


def _lease_ended(pool: SlotPool, slot: Slot) -> None:
    pool.give_back(slot)


def in_shared_memory(array: Any) -> bool:
    """Whether ``array`` is a view of shared memory (a batch delivered by process workers, no copy).

    Example:
        >>> in_shared_memory(np.zeros(3))
        False
    """
    base = getattr(array, "base", None)
    while isinstance(base, np.ndarray):
        base = base.base
    return isinstance(base, memoryview) and isinstance(base.obj, mmap.mmap)
