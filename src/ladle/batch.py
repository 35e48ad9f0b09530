"""The Batch: a dict of field name → array, plus where it came from and its own random generator.

Besides field access it carries batchflow's in-batch operations: :meth:`Batch.apply_parallel` (a
function applied to every item of a field, serially, on threads, on processes or as coroutines, with
an optional probability and per-item generators) and :meth:`Batch.merge` (batches joined, then cut
to a size).

Example:
    >>> import numpy as np
    >>> from ladle import Batch
    >>> b = Batch({"x": np.zeros((2, 3)), "y": np.array([0, 1])}, indices=np.array([5, 7]))
    >>> b.size, b.x.shape, b.as_tuple("x", "y")[1].tolist()
    (2, (2, 3), [0, 1])
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import inspect
import numbers
import os
from typing import Any, Callable, Sequence

import numpy as np

from .sampling import BATCH_STREAM, rng

__all__ = ["Batch", "stack_items"]

_EMPTY = np.empty(0, dtype=np.int64)

#: ``apply_parallel`` targets and their short names (batchflow's).
TARGETS = {"for": "for", "f": "for", "threads": "threads", "t": "threads", "mpc": "mpc", "m": "mpc",
           "async": "async", "a": "async"}


class Batch(dict):
    """A mini-batch: a ``dict`` of field → array (ragged fields are object arrays or lists).

    Being a real ``dict``, a batch goes straight into frameworks that take dicts of inputs.
    Fields also read as attributes (``batch.x``), as batchflow components do.

    Attributes:
        indices: the source row ids of the samples, in batch order (int64).
        epoch: the epoch the batch belongs to.
        number: the batch's position within its epoch.
        seed: the loader's seed.
        skipped: row ids a source could not read and replaced (``on_error="skip"``/``"warn"``).

    ``random`` is a NumPy generator keyed by ``(seed, epoch, number)``: random transforms draw from it,
    so their result does not depend on which worker ran them, or whether the run was resumed.

    Example:
        >>> b = Batch({"x": np.arange(3)}, indices=np.arange(3), seed=1, epoch=0, number=0)
        >>> int(b.random.integers(10)) == int(Batch(b, seed=1, epoch=0, number=0).random.integers(10))
        True
    """

    __slots__ = ("indices", "epoch", "number", "seed", "skipped", "_random")

    def __init__(self, data: Any = (), indices: np.ndarray | None = None, *, epoch: int = 0,
                 number: int = 0, seed: int = 0, skipped: np.ndarray | None = None):
        super().__init__(data)
        if indices is None:
            indices = getattr(data, "indices", None)
            if indices is None:
                indices = np.arange(self.size, dtype=np.int64)
        self.indices = indices
        self.epoch = epoch
        self.number = number
        self.seed = seed
        self.skipped = _EMPTY if skipped is None else skipped
        self._random: np.random.Generator | None = None

    # ------------------------------------------------------------------ sizes and access
    @property
    def size(self) -> int:
        """Number of samples (``len(batch)`` is the number of fields, as for any dict)."""
        for value in self.values():
            return len(value)
        idx = getattr(self, "indices", None)
        return 0 if idx is None else len(idx)

    @property
    def random(self) -> np.random.Generator:
        """This batch's generator, keyed by ``(seed, epoch, number)``; created on first use."""
        if self._random is None:
            self._random = rng(self.seed, self.epoch, BATCH_STREAM, self.number)
        return self._random

    @random.setter
    def random(self, value: np.random.Generator) -> None:
        self._random = value

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(
                f"Batch has no field or attribute {name!r}; fields: {sorted(self)}") from None

    def as_tuple(self, *fields: str) -> tuple:
        """The chosen fields as a tuple, in that order (all fields, in order, when none are named).

        Example:
            >>> Batch({"x": np.ones(2), "y": np.zeros(2)}).as_tuple("y", "x")[0].tolist()
            [0.0, 0.0]
        """
        if not fields:
            return tuple(self.values())
        try:
            return tuple(self[f] for f in fields)
        except KeyError as exc:
            raise KeyError(f"field {exc.args[0]!r} is not in the batch; fields: {list(self)}") from None

    # ------------------------------------------------------------------ batchflow operations
    def apply_parallel(self, func: Callable[..., Any], init: Any = None, post: Any = None,
                       src: Any = None, dst: Any = None, *args: Any, p: float | None = None,
                       target: str = "for", requires_rng: bool = False,
                       rng_seeds: Sequence[int] | None = None, **kwargs: Any) -> Any:
        """Apply ``func`` to every item of ``src`` and store the stacked results in ``dst``.

        Roughly ``self[dst] = stack([func(item, *args, **kwargs) for item in self[src]])``, run by
        ``target``: ``"for"``/``"f"`` (a loop), ``"threads"``/``"t"``, ``"mpc"``/``"m"`` (worker
        processes: ``func`` and the items must pickle) or ``"async"``/``"a"`` (``func`` is a
        coroutine function; all items are awaited together).

        Args:
            func: called as ``func(item, *args, **kwargs)``; it also gets ``src=``/``dst=`` when its
                signature accepts them, and ``rng=`` (a Generator of its own) with ``requires_rng``.
                A plain method of the batch's class (``MyBatch.method``) is called on this batch.
            init: the items: None (the items of ``src``; the batch indices when ``src`` is None),
                ``"data"`` (same), the name of an attribute or method of the batch, a callable
                ``init(src=, dst=, **kwargs)``, or a container used as is.
            post: None (stack into ``dst``), a method name, or
                ``post(results, src=, dst=, **kwargs)``.
            src: a field name; a tuple of names (each item is the tuple of their items); or a list
                of names/tuples handled pairwise with ``dst`` (one ``p`` draw and one set of
                generators shared by all pairs, so images and masks get the same treatment).
            dst: where results go; None means ``src``. Results of a tuple ``src`` (or for a tuple
                ``dst``) are tuples, unzipped into the ``dst`` fields. Missing fields are created.
            p: the probability that an item is processed; the others are kept as they are. Drawn
                from :attr:`random`.
            requires_rng: pass every item its own generator as ``rng=``, seeded from :attr:`random`
                or from ``rng_seeds`` (one seed per item).

        Returns:
            The batch (or what a ``post`` function returned).

        Example:
            >>> b = Batch({"x": np.arange(4)})
            >>> b.apply_parallel(lambda v: v * 10, src="x", dst="y", target="threads")["y"].tolist()
            [0, 10, 20, 30]
        """
        target = _check_target(target)
        if not callable(func):
            raise TypeError(f"func={func!r} must be callable")
        name = getattr(func, "__name__", "")
        if inspect.isfunction(func) and inspect.getattr_static(type(self), name, None) is func:
            func = getattr(self, name)  # a plain method of the batch's class, as B.method: bind it
        if p is not None and not (isinstance(p, numbers.Real) and 0 <= p <= 1):
            raise ValueError(f"p={p!r} must be a probability between 0 and 1, or None")
        if isinstance(src, list):
            dst = list(src) if dst is None else dst
            if not isinstance(dst, (list, tuple)) or len(dst) != len(src):
                raise ValueError(f"src={src!r} is a list, so dst={dst!r} must be a list of the "
                                 "same length (pairs src[i] -> dst[i]) or None")
            pairs = list(zip(src, dst))
        else:
            pairs = [(src, src if dst is None else dst)]
        item_lists = [self._apply_items(init, s, d, kwargs) for s, d in pairs]
        n = len(item_lists[0])
        for (s, _), items in zip(pairs, item_lists):
            if len(items) != n:
                raise ValueError(f"src={s!r} has {len(items)} items but {pairs[0][0]!r} has {n}")
        mask = None if p is None else self.random.random(n) < p
        seeds = _item_seeds(self.random, n, rng_seeds) if requires_rng else None
        out: Any = self
        for (s, d), items in zip(pairs, item_lists):
            results = _run(func, items, args, kwargs, s, d, mask, seeds, target)
            out = self._apply_post(post, results, s, d, kwargs)
        return out

    def _apply_items(self, init: Any, src: Any, dst: Any, kwargs: dict) -> list:
        if init is None or (isinstance(init, str) and init == "data"):
            if src is None:
                return list(self.indices)
            if isinstance(src, tuple):
                return list(zip(*(self._component_items(s) for s in src)))
            return self._component_items(src)
        if isinstance(init, str):
            init = getattr(self, init)
        if callable(init):
            init = init(src=src, dst=dst, **kwargs)
        return list(init)

    def _component_items(self, name: str) -> list:
        if not isinstance(name, str):
            raise TypeError(f"src={name!r} must be a field name, a tuple or a list of field names")
        value = dict.get(self, name)
        if value is None:
            raise KeyError(f"src={name!r} is not a field of the batch (or is empty); fields: "
                           f"{sorted(self)}")
        return [value[i] for i in range(len(value))]

    def _apply_post(self, post: Any, results: list, src: Any, dst: Any, kwargs: dict) -> Any:
        if post is not None:
            fn = getattr(self, post) if isinstance(post, str) else post
            out = fn(results, src=src, dst=dst, **kwargs)
            return self if out is None else out
        if dst is None:
            return self
        if isinstance(dst, (tuple, list)):
            for i, name in enumerate(dst):
                parts = []
                for r in results:
                    if not isinstance(r, (tuple, list)) or len(r) != len(dst):
                        raise ValueError(f"dst={dst!r} names {len(dst)} fields, so func must "
                                         f"return a tuple of {len(dst)} values per item; "
                                         f"got {r!r:.80}")
                    parts.append(r[i])
                self._set_component(name, stack_items(parts))
        else:
            self._set_component(dst, stack_items(results))
        return self

    def _set_component(self, name: str, value: Any) -> None:
        self[name] = value

    @classmethod
    def merge(cls, batches: Sequence["Batch"], batch_size: int | None = None,
              components: Any = None, batch_class: type | None = None
              ) -> tuple["Batch", "Batch | None"]:
        """Join ``batches`` into one, then cut it: ``(first batch_size items, the rest or None)``.

        Args:
            batches: batches with the same fields.
            batch_size: size of the first batch; None puts everything in it.
            components: the fields to keep (a name or names); None keeps all.
            batch_class: class of the new batches; None uses the class of the first batch.

        Example:
            >>> a, b = Batch({"x": np.arange(3)}), Batch({"x": np.arange(3, 5)})
            >>> first, rest = Batch.merge([a, b], batch_size=4)
            >>> first["x"].tolist(), rest["x"].tolist()
            ([0, 1, 2, 3], [4])
        """
        batches = list(batches)
        if not batches:
            raise ValueError("merge needs at least one batch")
        if batch_size is not None and (isinstance(batch_size, bool)
                                       or not isinstance(batch_size, numbers.Integral)
                                       or batch_size < 1):
            raise ValueError(f"batch_size={batch_size!r} must be an integer >= 1 or None")
        names = _merge_names(batches, components)
        data: dict[str, Any] = {}
        for name in names:
            values = [dict.get(b, name) for b in batches]
            missing = [i for i, v in enumerate(values) if v is None]
            if missing and len(missing) < len(values):
                raise ValueError(f"component {name!r} is None in batches {missing} but set in the "
                                 "others; set it in every batch or leave it out (components=)")
            data[name] = None if missing else _concat(values)
        indices = _concat([np.asarray(b.indices) for b in batches])
        total = len(indices)
        cut = total if batch_size is None else min(int(batch_size), total)
        klass = batch_class or type(batches[0])
        first = klass._from_merge({k: _head(v, cut) for k, v in data.items()}, indices[:cut],
                                  batches[0])
        rest = None
        if cut < total:
            rest = klass._from_merge({k: _tail(v, cut) for k, v in data.items()}, indices[cut:],
                                     batches[0])
        return first, rest

    @classmethod
    def _from_merge(cls, data: dict, indices: np.ndarray, template: "Batch") -> "Batch":
        return cls({k: v for k, v in data.items() if v is not None}, indices, epoch=template.epoch,
                   number=template.number, seed=template.seed)

    def copy(self) -> "Batch":
        """A shallow copy that keeps indices, epoch, number and seed (arrays are shared)."""
        return Batch(self, self.indices, epoch=self.epoch, number=self.number, seed=self.seed,
                     skipped=self.skipped)

    def __reduce__(self):
        return (_rebuild, (dict(self), self.indices, self.epoch, self.number, self.seed, self.skipped))

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}: {_describe(v)}" for k, v in self.items())
        return f"Batch(size={self.size}, epoch={self.epoch}, number={self.number}, {{{fields}}})"


def stack_items(values: Sequence[Any]) -> np.ndarray:
    """Stack per-item results: one array when they share a shape, else a 1-D object array.

    Example:
        >>> stack_items([np.zeros(2), np.ones(2)]).shape
        (2, 2)
        >>> stack_items([np.zeros(2), np.ones(3)]).dtype
        dtype('O')
    """
    values = list(values)
    plain = (np.ndarray, np.generic, numbers.Number, str, bytes)
    if values and all(isinstance(v, plain) for v in values):
        arrays = [np.asarray(v) for v in values]
        if len({a.shape for a in arrays}) == 1 and all(a.dtype != object for a in arrays):
            return np.stack(arrays)
    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        out[i] = v
    return out


def _check_target(target: Any) -> str:
    if target not in TARGETS:
        raise ValueError(f"target={target!r} is not one of {', '.join(map(repr, TARGETS))}")
    return TARGETS[target]


def _item_seeds(gen: np.random.Generator, n: int, rng_seeds: Sequence[int] | None) -> list:
    if rng_seeds is None:
        return np.random.SeedSequence(int(gen.integers(2**63))).spawn(n)
    seeds = list(rng_seeds)
    if len(seeds) != n:
        raise ValueError(f"rng_seeds has {len(seeds)} seeds for {n} items: give one per item")
    return seeds


def _accepts(func: Callable, name: str) -> bool:
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):  # builtins and ufuncs
        return False
    return any(q.name == name or q.kind is q.VAR_KEYWORD for q in params)


def _call(func: Callable, item: Any, args: tuple, kwargs: dict) -> Any:
    return func(item, *args, **kwargs)


def _run(func: Callable, items: list, args: tuple, kwargs: dict, src: Any, dst: Any,
         mask: np.ndarray | None, seeds: list | None, target: str) -> list:
    """Results of ``func`` per item (items left out by ``mask`` come back unchanged)."""
    base = dict(kwargs)
    for name, value in (("src", src), ("dst", dst)):
        if name not in base and _accepts(func, name):
            base[name] = value
    todo = [i for i in range(len(items)) if mask is None or mask[i]]
    calls = []
    for i in todo:
        kw = base if seeds is None else {**base, "rng": np.random.default_rng(seeds[i])}
        calls.append((func, items[i], args, kw))
    outcomes = _execute(calls, target)
    results = list(items)
    errors = []
    for i, (ok, value) in zip(todo, outcomes):
        if ok:
            results[i] = value
        else:
            errors.append((i, value))
    if errors:
        i, exc = errors[0]
        if hasattr(exc, "add_note"):
            exc.add_note(f"apply_parallel: {func!r} failed on item {i} (src={src!r}); "
                         f"{len(errors)} of {len(todo)} items failed")
        raise exc
    return results


def _execute(calls: list, target: str) -> list[tuple[bool, Any]]:
    if target == "async":
        return _execute_async(calls)
    if target == "for" or len(calls) <= 1:
        return [_safe(*c) for c in calls]
    workers = min(len(calls), (os.cpu_count() or 1) * (4 if target == "threads" else 1))
    pool = (cf.ThreadPoolExecutor(workers, thread_name_prefix="ladle-apply") if target == "threads"
            else cf.ProcessPoolExecutor(workers))
    with pool:
        futures = [pool.submit(_call, *c) for c in calls]
        out = []
        for fut in futures:
            try:
                out.append((True, fut.result()))
            except Exception as exc:  # noqa: BLE001 - re-raised by the caller
                out.append((False, exc))
        return out


def _safe(func: Callable, item: Any, args: tuple, kwargs: dict) -> tuple[bool, Any]:
    try:
        return True, func(item, *args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - re-raised by the caller
        return False, exc


def _execute_async(calls: list) -> list[tuple[bool, Any]]:
    async def one(func, item, args, kwargs):
        result = func(item, *args, **kwargs)
        return await result if inspect.isawaitable(result) else result

    async def gather():
        return await asyncio.gather(*(one(*c) for c in calls), return_exceptions=True)

    try:
        asyncio.get_running_loop()
    except RuntimeError:  # no loop running in this thread: run one here
        results = asyncio.run(gather())
    else:  # called from inside a running loop (e.g. Jupyter): run ours in a thread
        with cf.ThreadPoolExecutor(1) as ex:
            results = ex.submit(asyncio.run, gather()).result()
    return [(not isinstance(r, Exception), r) for r in results]


def _merge_names(batches: Sequence[Batch], components: Any) -> list[str]:
    if components is None:
        names: list[str] = []
        for b in batches:
            names += [k for k in getattr(b, "components", None) or b if k not in names]
        return names
    return [components] if isinstance(components, str) else list(components)


def _concat(values: list) -> Any:
    if all(isinstance(v, np.ndarray) for v in values) and len({v.shape[1:] for v in values}) == 1:
        return np.concatenate(values)
    items = [x for v in values for x in v]
    if all(isinstance(v, list) for v in values):
        return items
    return stack_items(items)


def _head(value: Any, cut: int) -> Any:
    return None if value is None else value[:cut]


def _tail(value: Any, cut: int) -> Any:
    return None if value is None else value[cut:]


def _rebuild(data, indices, epoch, number, seed, skipped) -> Batch:
    return Batch(data, indices, epoch=epoch, number=number, seed=seed, skipped=skipped)


def _describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"{value.dtype}{list(value.shape)}"
    return f"{type(value).__name__}[{len(value)}]" if hasattr(value, "__len__") else repr(value)
