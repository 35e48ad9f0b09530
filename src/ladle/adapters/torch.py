"""PyTorch adapter: a loader's batches as tensors, directly or through a torch ``DataLoader``.

* :func:`to_torch` wraps a :class:`~ladle.Loader` so that iterating yields tensors instead of NumPy
  arrays (``torch.from_numpy``, no copy, where the dtype allows), optionally pinned and moved to a
  device. It keeps the loader's parallel prefetch, and is the fast path.
* :class:`TorchDataset` is a ``torch.utils.data.IterableDataset`` for code that insists on a
  ``DataLoader``: use it with ``DataLoader(TorchDataset(loader), batch_size=None, num_workers=N)``.
  Each torch worker serves a disjoint share of the batches, and the DataLoader's round-robin merge
  gives them back in the loader's order.

torch is imported when an adapter is first used, never at ``import ladle``; without it the adapters
raise an ImportError naming the extra (``pip install ladle[torch]``).

Example:
    >>> import numpy as np
    >>> from ladle import Loader
    >>> from ladle.adapters.torch import to_torch
    >>> batches = to_torch(Loader({"x": np.ones((6, 2), np.float32)}, batch_size=4))
    >>> len(batches), [tuple(b["x"].shape) for b in batches]
    (2, [(4, 2), (2, 2)])
"""

from __future__ import annotations

import sys
import warnings
from typing import Any, Iterator, Mapping

import numpy as np

from .._checks import check_int
from ..batch import Batch
from . import require

__all__ = ["TorchBatches", "TorchDataset", "as_tensors", "to_torch", "worker_share"]

#: Most torch DataLoader workers a :class:`TorchDataset` keeps epoch bookkeeping for.
MAX_WORKERS = 1024


def _torch(purpose: str) -> Any:
    return require("torch", "torch", purpose)


def _tensor(torch: Any, arr: np.ndarray) -> Any:
    """``torch.from_numpy`` (no copy) when torch has the dtype; the array itself otherwise."""
    dt = arr.dtype
    if not (dt.kind in "biu" or (dt.kind == "f" and dt.itemsize <= 8)
            or (dt.kind == "c" and dt.itemsize <= 16)):
        return arr  # strings, objects, datetimes, long doubles: torch has no such dtype
    if not dt.isnative:
        arr = arr.astype(dt.newbyteorder("="))
    if any(s < 0 for s in arr.strides):
        arr = np.ascontiguousarray(arr)
    if not arr.flags.writeable:
        arr = arr.copy()  # a tensor may be written to; never alias read-only memory
    return torch.from_numpy(arr)


def as_tensors(data: Any, device: Any = None, pin_memory: bool = False,
               non_blocking: bool | None = None) -> Any:
    """Convert a batch's arrays to tensors, keeping its structure.

    NumPy arrays of numeric and bool dtypes become tensors that share their memory
    (``torch.from_numpy``); arrays torch cannot hold (strings, objects, datetimes) and lists
    (ragged fields) pass through unchanged. A :class:`~ladle.Batch` stays a ``Batch`` (with its
    ``indices``, ``epoch`` and ``number``), other mappings become dicts, tuples stay tuples.

    Args:
        data: a batch (mapping), a tuple of fields, or a single array.
        device: move tensors there (``"cuda"``, ``torch.device(...)``); None keeps them on the CPU.
        pin_memory: copy tensors to page-locked memory first (for fast, asynchronous copies to
            an accelerator); needs an accelerator.
        non_blocking: passed to ``tensor.to``; default: ``pin_memory``.

    Example:
        >>> x = np.arange(3.0)
        >>> t = as_tensors({"x": x, "name": np.array(["a", "b", "c"])})
        >>> type(t["x"]).__name__, t["name"].tolist(), np.shares_memory(t["x"].numpy(), x)
        ('Tensor', ['a', 'b', 'c'], True)
    """
    torch = _torch("as_tensors")
    if non_blocking is None:
        non_blocking = pin_memory

    def convert(value: Any) -> Any:
        if isinstance(value, np.ndarray):
            value = _tensor(torch, value)
        elif isinstance(value, np.generic):
            out = _tensor(torch, np.asarray(value))
            value = value if isinstance(out, np.ndarray) else out
        elif isinstance(value, Mapping):
            converted = {k: convert(v) for k, v in value.items()}
            if isinstance(value, Batch):
                return Batch(converted, value.indices, epoch=value.epoch, number=value.number,
                             seed=value.seed, skipped=value.skipped)
            return converted
        elif isinstance(value, tuple):
            return tuple(convert(v) for v in value)
        if isinstance(value, torch.Tensor):
            if pin_memory and value.device.type == "cpu":
                value = value.pin_memory()
            if device is not None:
                value = value.to(device, non_blocking=non_blocking)
        return value

    return convert(data)


def _accelerator_available(torch: Any) -> bool:
    acc = getattr(torch, "accelerator", None)
    if acc is not None and hasattr(acc, "is_available"):
        return bool(acc.is_available())
    return bool(torch.cuda.is_available())


def _check_distributed(loader: Any) -> None:
    """Refuse a loader that would serve every rank the whole data set."""
    dist = sys.modules.get("torch.distributed")
    if dist is None or not dist.is_available() or not dist.is_initialized():
        return
    world = dist.get_world_size()
    if world > 1 and getattr(loader, "shard", None) is None:
        raise ValueError(
            f"torch.distributed is initialised with world_size={world} but the loader has "
            "shard=None, so every rank would train on the whole data set: build the Loader after "
            "init_process_group (it then shards itself) or pass shard=(rank, world_size)")


def _batches_per_pass(loader: Any, start: int | None = None) -> int:
    """Batches a pass of ``loader.epochs`` epochs yields, from ``start`` (default: its epoch)."""
    if loader.epochs is None:
        raise TypeError("the loader is endless (epochs=None), so it has no length; give "
                        "epochs=N for a finite number of epochs per pass")
    count = getattr(loader, "_num_batches", None)
    if count is None:
        return len(loader) * loader.epochs
    start = loader.epoch if start is None else start
    return sum(count(e) for e in range(start, start + loader.epochs))


class TorchBatches:
    """An iterable over a loader's batches as tensors (returned by :func:`to_torch`).

    Each ``iter`` is one pass of the loader (``loader.epochs`` epochs, then the next pass starts
    at the next epoch, reshuffled); ``len`` is the number of batches a pass yields.

    Example:
        >>> from ladle import Loader
        >>> tb = TorchBatches(Loader({"x": np.arange(5)}, batch_size=2, output=("x",)))
        >>> [t[0].tolist() for t in tb]
        [[0, 1], [2, 3], [4]]
    """

    def __init__(self, loader: Any, device: Any = None, pin_memory: bool = False):
        torch = _torch("to_torch")
        _check_distributed(loader)
        self.loader = loader
        self.device = None if device is None else torch.device(device)
        self.pin_memory = bool(pin_memory)
        if self.pin_memory and not _accelerator_available(torch):
            warnings.warn("pin_memory=True but torch finds no accelerator, so batches are not "
                          "pinned; pass pin_memory=False on a CPU-only machine", stacklevel=3)
            self.pin_memory = False

    def __iter__(self) -> Iterator[Any]:
        for batch in self.loader:
            yield as_tensors(batch, self.device, self.pin_memory)

    def __len__(self) -> int:
        return _batches_per_pass(self.loader)

    def set_epoch(self, epoch: int) -> None:
        """Start the next pass at ``epoch`` (as ``DistributedSampler.set_epoch``).

        Example:
            >>> from ladle import Loader
            >>> tb = to_torch(Loader({"x": np.arange(4)}, batch_size=2)); tb.set_epoch(5)
            >>> tb.loader.epoch
            5
        """
        self.loader.set_epoch(epoch)

    def __repr__(self) -> str:
        return f"TorchBatches({self.loader!r}, device={self.device}, pin_memory={self.pin_memory})"


def to_torch(loader: Any, device: Any = None, pin_memory: bool = False) -> TorchBatches:
    """Iterate ``loader`` as tensors: ``for batch in to_torch(loader): model(batch["x"])``.

    Batches keep the loader's structure (a :class:`~ladle.Batch` dict, or tuples with
    ``output=``); arrays become tensors without a copy where the dtype allows, other fields pass
    through unchanged (see :func:`as_tensors`). The loader's workers and prefetch still apply.

    Args:
        loader: a :class:`~ladle.Loader`.
        device: move every tensor there (``"cuda"``); None leaves them on the CPU.
        pin_memory: pin tensors before moving them, so the copy to the device is asynchronous.
            Warns and does nothing without an accelerator, as torch's ``DataLoader`` does.

    Returns:
        A :class:`TorchBatches` with ``len`` = batches per pass.

    Raises:
        ImportError: torch is not installed (``pip install ladle[torch]``).
        ValueError: ``torch.distributed`` runs several ranks but the loader is not sharded.

    Example:
        >>> from ladle import Loader
        >>> loader = Loader({"x": np.zeros((5, 3), np.float32), "y": np.arange(5)}, batch_size=2)
        >>> [(b["x"].dtype, b["y"].tolist()) for b in to_torch(loader)][-1]
        (torch.float32, [4])
    """
    return TorchBatches(loader, device, pin_memory)


def worker_share(batches_per_epoch: list[int], worker: int, workers: int) -> list[tuple[int, int]]:
    """The ``(epoch offset, batch number)`` pairs one of ``workers`` serves in a pass.

    Batches of the whole pass are dealt round-robin: global batch ``g`` goes to worker
    ``g % workers``. Shares are disjoint, cover the pass, and a round-robin merge of the
    workers' outputs (what ``DataLoader`` does) restores the loader's order.

    Example:
        >>> worker_share([3, 3], 1, 2)
        [(0, 1), (1, 0), (1, 2)]
    """
    workers = check_int("workers", workers, 1)
    if not 0 <= check_int("worker", worker, 0) < workers:
        raise ValueError(f"worker={worker} must be in [0, {workers})")
    out, seen = [], 0
    for e, nb in enumerate(batches_per_epoch):
        out.extend((e, i) for i in _share(worker, workers, seen, nb))
        seen += nb
    return out


def _share(worker: int, workers: int, seen: int, nb: int) -> range:
    """Batch numbers of an epoch of ``nb`` batches that ``worker`` serves, ``seen`` batches into
    the pass: those whose global position ``seen + i`` is ``worker`` modulo ``workers``."""
    return range((worker - seen) % workers, nb, workers)


class TorchDataset:
    """A ``torch.utils.data.IterableDataset`` of a loader's batches, as tensors.

    Use it with ``DataLoader(TorchDataset(loader), batch_size=None, num_workers=N)``
    (``batch_size=None``: the items already are batches). Each pass (``iter`` of the DataLoader)
    serves ``loader.epochs`` epochs; torch worker ``k`` of ``N`` reads the batches ``k, k+N, ...``
    of the pass by random access (``loader[i]``), so the shares are disjoint and complete, and the
    DataLoader's round-robin merge yields exactly the loader's batches in the loader's order.

    The next pass starts at the next epoch (reshuffled) by itself, with or without workers and
    persistent workers: the finished epochs are kept in a small shared-memory tensor. A pass left
    before its end is served again from its start. ``set_epoch(e)`` jumps to epoch ``e``.

    Under ``torch.distributed`` the loader shards the data by rank (it detects an initialised
    process group when built after ``init_process_group``, or takes ``shard=(rank, world_size)``);
    the torch workers then split that rank's batches. A loader that would give every rank the
    whole data set is refused.

    ``isinstance(ds, torch.utils.data.IterableDataset)`` holds: the class is registered as a
    virtual subclass when torch is first used, so that importing ladle does not import torch.
    With the ``spawn`` start method the loader must be picklable (built with ``workers=0``: the
    torch workers already give the parallelism).

    Example:
        >>> from torch.utils.data import DataLoader
        >>> from ladle import Loader
        >>> ds = TorchDataset(Loader({"x": np.arange(5)}, batch_size=2, output=("x",)))
        >>> [t[0].tolist() for t in DataLoader(ds, batch_size=None)]
        [[0, 1], [2, 3], [4]]
        >>> ds.epoch
        1
    """

    def __init__(self, loader: Any):
        torch = _torch("TorchDataset")
        torch.utils.data.IterableDataset.register(TorchDataset)
        _check_distributed(loader)
        self.loader = loader
        # [0]: first epoch of the next pass; [1 + k]: epoch after the last pass worker k finished.
        self._state = torch.full((1 + MAX_WORKERS,), loader.epoch,
                                 dtype=torch.int64).share_memory_()

    @property
    def epoch(self) -> int:
        """The epoch the next pass starts at (after the passes completed so far)."""
        return int(self._state[0])

    def set_epoch(self, epoch: int) -> None:
        """Start the next pass at ``epoch`` (as ``DistributedSampler.set_epoch``).

        Example:
            >>> from ladle import Loader
            >>> ds = TorchDataset(Loader({"x": np.arange(4)}, batch_size=2)); ds.set_epoch(3)
            >>> ds.epoch, ds.loader.epoch
            (3, 3)
        """
        epoch = check_int("epoch", epoch, 0)
        self._state.fill_(epoch)
        self.loader.set_epoch(epoch)

    def __len__(self) -> int:
        return _batches_per_pass(self.loader, self.epoch)

    def _start(self, workers: int) -> int:
        state = self._state
        return max(int(state[0]), int(state[1:1 + workers].min()))

    def _finish(self, worker: int, workers: int, end: int) -> None:
        state = self._state
        state[1 + worker] = end
        if int(state[1:1 + workers].min()) >= end:  # the last worker of the pass to finish
            state[0] = max(int(state[0]), end)

    def __iter__(self) -> Iterator[Any]:
        torch = _torch("TorchDataset")
        info = torch.utils.data.get_worker_info()
        worker, workers = (0, 1) if info is None else (info.id, info.num_workers)
        if workers > MAX_WORKERS:
            raise ValueError(f"num_workers={workers} is more than TorchDataset supports "
                             f"({MAX_WORKERS}); use fewer DataLoader workers")
        loader = self.loader  # the worker's own copy, or the caller's loader without workers
        start = self._start(workers)
        epochs = loader.epochs
        epoch, seen = start, 0
        while epochs is None or epoch < start + epochs:
            loader.set_epoch(epoch)
            nb = len(loader)
            for i in _share(worker, workers, seen, nb):
                yield as_tensors(loader[i])
            seen += nb
            epoch += 1
        loader.set_epoch(epoch)
        self._finish(worker, workers, epoch)

    def __repr__(self) -> str:
        return f"TorchDataset({self.loader!r}, epoch={self.epoch})"
