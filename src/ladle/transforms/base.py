"""The transform protocol and the composition tools: Compose, Apply, Map, OneOf.

A transform is a plain picklable object called as ``t(batch) -> batch``. It returns a new
:class:`~ladle.Batch` (a shallow copy that shares the input's random generator) and never writes
into the input's arrays. Every random choice is drawn from ``batch.random``, which is keyed by
(seed, epoch, batch number): the result is the same for any number or kind of workers, and after a
resume.

Example:
    >>> import numpy as np
    >>> from ladle import Batch
    >>> from ladle.transforms import Apply, Compose
    >>> t = Compose([Apply(np.negative, fields="x", p=1.0), Apply(np.abs, fields="x")])
    >>> t(Batch({"x": np.array([-1.0, 2.0])}))["x"].tolist()
    [1.0, 2.0]
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from ..batch import Batch
from ._arrays import check_probability

__all__ = ["Apply", "Compose", "Map", "OneOf", "Transform"]

_UNSET: Any = object()


def check_fields(fields: Any, name: str = "fields") -> tuple[str, ...]:
    """``fields`` (a name or a sequence of names) as a non-empty tuple of str.

    Example:
        >>> check_fields("x"), check_fields(["x", "mask"])
        (('x',), ('x', 'mask'))
    """
    if isinstance(fields, str):
        return (fields,)
    try:
        out = tuple(fields)
    except TypeError:
        raise TypeError(f"{name}={fields!r} must be a field name or a sequence of names") from None
    if not out or not all(isinstance(f, str) for f in out):
        raise TypeError(f"{name}={fields!r} must be a field name or a non-empty sequence of names")
    return out


def get_array(batch: Batch, name: str, who: Any) -> np.ndarray:
    """Field ``name`` of ``batch`` as an ndarray, or an error naming the fields that are present.

    Example:
        >>> get_array(Batch({"x": np.zeros(2)}), "x", "me").shape
        (2,)
    """
    try:
        value = batch[name]
    except KeyError:
        raise KeyError(f"{_name(who)}: field {name!r} is not in the batch; fields present: "
                       f"{sorted(batch)}; set fields= to the field to transform") from None
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{_name(who)}: field {name!r} is a {type(value).__name__}; transforms "
                        "work on NumPy arrays (ragged fields need Map)")
    return value


def writable(batch: Batch, name: str, owned: set[str]) -> np.ndarray:
    """Field ``name`` as an array this call may write into (copied unless already ``owned``).

    Example:
        >>> b = Batch({"x": np.zeros(2)}); owned = set()
        >>> writable(b, "x", owned) is b["x"], owned
        (True, {'x'})
    """
    if name not in owned:
        batch[name] = np.array(batch[name], copy=True)
        owned.add(name)
    return batch[name]


def _name(obj: Any) -> str:
    return type(obj).__name__ if not isinstance(obj, str) else obj


def _check_batch(batch: Any, who: Any) -> Batch:
    if isinstance(batch, Batch):
        return batch
    raise TypeError(f"{_name(who)} takes a ladle.Batch (it carries the random generator), got a "
                    f"{type(batch).__name__}; wrap it: Batch(data, seed=..., epoch=..., "
                    "number=...)")


def _fork(batch: Batch) -> Batch:
    """A shallow copy sharing the generator, so that successive transforms draw fresh numbers."""
    out = batch.copy()
    out.random = batch.random
    return out


def _replace(batch: Batch, result: Any, who: Any) -> None:
    """Put what a plain callable returned into ``batch`` (None keeps it)."""
    if result is None or result is batch:
        return
    if not isinstance(result, Mapping):
        raise TypeError(f"{who!r} returned a {type(result).__name__}; a batch function must return "
                        "the batch, a dict of fields, or None")
    batch.clear()
    batch.update(result)


class Transform:
    """Base class: ``t(batch)`` returns a transformed shallow copy of ``batch``.

    Subclasses implement ``_apply(batch, owned)``, which replaces fields of ``batch`` (already a
    private copy). ``owned`` names the fields whose arrays were made by an earlier transform of the
    same call, which may be written in place; a transform adds the fields it puts a new array into.
    ``_touches()`` names the fields it reads or writes (None: unknown), so that :class:`Apply` and
    :class:`OneOf` copy only those for a subset of samples.

    Example:
        >>> class Double(Transform):
        ...     fields = ("x",)
        ...     def _apply(self, batch, owned):
        ...         batch["x"] = batch["x"] * 2; owned.add("x")
        >>> Double()(Batch({"x": np.arange(3)}))["x"].tolist()
        [0, 2, 4]
    """

    fields: tuple[str, ...] = ()

    def __call__(self, batch: Batch) -> Batch:
        out = _fork(_check_batch(batch, self))
        self._apply(out, set())
        return out

    def _apply(self, batch: Batch, owned: set[str]) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _touches(self) -> frozenset[str] | None:
        return frozenset(self.fields)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"


def _as_transform(fn: Any, who: str) -> Transform:
    if isinstance(fn, Transform):
        return fn
    if not callable(fn):
        raise TypeError(f"{who}: {fn!r} is not callable; give a transform or a function of a batch")
    return _BatchFn(fn)


class _BatchFn(Transform):
    """A plain ``fn(batch) -> batch | dict | None`` as a transform (fields unknown)."""

    def __init__(self, fn: Callable[[Batch], Any]):
        self.fn = fn

    def _apply(self, batch: Batch, owned: set[str]) -> None:
        _replace(batch, self.fn(batch), self.fn)
        owned.clear()  # the function may have kept references to the arrays

    def _touches(self) -> None:
        return None


class _ArrayFn(Transform):
    """``fn(*arrays[, rng]) -> array | tuple`` on named fields, vectorised over the batch."""

    def __init__(self, fn: Callable[..., Any], fields: tuple[str, ...], requires_rng: bool):
        self.fn, self.fields, self.requires_rng = fn, fields, requires_rng

    def _apply(self, batch: Batch, owned: set[str]) -> None:
        arrays = [get_array(batch, f, self) for f in self.fields]
        result = self.fn(*arrays, batch.random) if self.requires_rng else self.fn(*arrays)
        results = _as_results(result, self.fields, self.fn)
        for f, old, new in zip(self.fields, arrays, results):
            new = np.asarray(new)
            if new.ndim == 0 or len(new) != len(old):
                raise ValueError(f"{self.fn!r} returned {new.shape} for field {f!r} of {len(old)} "
                                 "samples; it must return one entry per sample")
            batch[f] = new
            if new is not old:
                owned.discard(f)  # the function's array (it may keep it): never written in place


def _as_results(result: Any, fields: Sequence[str], fn: Any) -> tuple:
    if len(fields) == 1:
        return (result,)
    if not isinstance(result, (tuple, list)) or len(result) != len(fields):
        raise ValueError(f"{fn!r} got {len(fields)} fields {list(fields)} and must return a tuple "
                         f"of {len(fields)} arrays, got {type(result).__name__}")
    return tuple(result)


# ----------------------------------------------------------------------------- subsets
def _take(batch: Batch, sel: np.ndarray, names: Iterable[str]) -> Batch:
    data = {}
    for k in names:
        v = batch[k]
        data[k] = v[sel] if isinstance(v, np.ndarray) else [v[int(i)] for i in sel]
    sub = Batch(data, batch.indices[sel], epoch=batch.epoch, number=batch.number, seed=batch.seed,
                skipped=batch.skipped)
    sub.random = batch.random
    return sub


def _apply_groups(batch: Batch, owned: set[str], groups: list[tuple[np.ndarray, Transform]],
                  who: Any) -> None:
    """Apply each transform to its group of samples (disjoint row sets) and put the rows back."""
    n = batch.size
    groups = [(sel, t) for sel, t in groups if sel.size]
    if len(groups) == 1 and groups[0][0].size == n:
        groups[0][1]._apply(batch, owned)
        return
    results = []
    for sel, t in groups:
        touched = t._touches()
        missing = sorted(set(touched or ()) - set(batch))
        if missing:
            raise KeyError(f"{_name(t)}: field {missing[0]!r} is not in the batch; fields present: "
                           f"{sorted(batch)}; set fields= to the field to transform")
        names = list(batch) if touched is None else [k for k in batch if k in touched]
        sub = _take(batch, sel, names)
        t._apply(sub, set(names))
        results.append((sel, sub))
    fields = dict.fromkeys(k for _, sub in results for k in sub)
    for f in fields:
        parts = [(sel, sub[f]) for sel, sub in results if f in sub]
        covered = np.zeros(n, dtype=bool)
        for sel, _ in parts:
            covered[sel] = True
        original = batch.get(f)
        if not covered.all():
            if original is None:
                raise ValueError(f"{_name(who)}: field {f!r} was created for some samples only; "
                                 "apply the transform that creates it to every sample")
            parts.append((np.flatnonzero(~covered), None))
        batch[f] = _assemble(f, n, original, parts, f in owned, who)
        owned.add(f)


def _assemble(f: str, n: int, original: Any, parts: list, in_place: bool, who: Any) -> Any:
    """Field ``f`` rebuilt from ``(rows, values)`` parts (``values`` None: keep those rows)."""
    new = [(sel, v) for sel, v in parts if v is not None]
    keep = [sel for sel, v in parts if v is None]
    if not isinstance(original, (np.ndarray, type(None))) or not all(
            isinstance(v, np.ndarray) and v.ndim for _, v in new):
        out: list = [None] * n
        for sel, v in new:
            for i, item in zip(sel.tolist(), v):
                out[i] = item
        for sel in keep:
            for i in sel.tolist():
                out[i] = original[i]
        return out
    shapes = {v.shape[1:] for _, v in new} | ({original.shape[1:]} if keep else set())
    if len(shapes) > 1:
        raise ValueError(f"{_name(who)}: field {f!r} has per-sample shapes {sorted(shapes)} after "
                         "transforming a subset of samples; a transform applied with p < 1 or in "
                         "OneOf must keep the shape (or apply it to every sample: p=1)")
    dtype = np.result_type(*[v.dtype for _, v in new], *([original.dtype] if keep else []))
    shape = (n,) + shapes.pop()
    if in_place and original is not None and original.dtype == dtype and original.shape == shape:
        out = original
    else:
        out = np.empty(shape, dtype)
        for sel in keep:
            out[sel] = original[sel]
    for sel, v in new:
        out[sel] = v
    return out


# ----------------------------------------------------------------------------- composition
class Compose(Transform):
    """Apply transforms (or plain ``fn(batch)`` callables) one after another.

    Args:
        transforms: the steps, in order. A plain callable gets the batch and returns it, a dict of
            fields, or None to keep it.

    Example:
        >>> from ladle.transforms import Rescale, Cast
        >>> t = Compose([Rescale(1 / 255), Cast("float16")])
        >>> t(Batch({"x": np.array([[0, 255]], dtype=np.uint8)}))["x"].tolist()
        [[0.0, 1.0]]
    """

    def __init__(self, transforms: Sequence[Callable[[Batch], Any]]):
        if isinstance(transforms, (Transform, str)) or not isinstance(transforms, Iterable):
            raise TypeError(f"transforms={transforms!r} must be a list of transforms")
        self.transforms = [_as_transform(t, "Compose") for t in transforms]

    def _apply(self, batch: Batch, owned: set[str]) -> None:
        for t in self.transforms:
            t._apply(batch, owned)

    def _touches(self) -> frozenset[str] | None:
        out: set[str] = set()
        for t in self.transforms:
            touched = t._touches()
            if touched is None:
                return None
            out |= touched
        return frozenset(out)

    def __repr__(self) -> str:
        return f"Compose({[_public(t) for t in self.transforms]!r})"


def _public(t: Transform) -> Any:
    return t.fn if isinstance(t, _BatchFn) else t


class Apply(Transform):
    """Apply ``fn`` to a random subset of the samples: each one is chosen with probability ``p``.

    ``fn`` is vectorised: it gets the chosen samples at once.

    * a ladle transform: called on the sub-batch of chosen samples (leave ``fields`` unset);
    * with ``fields`` naming one field: ``fn(array) -> array``; with several:
      ``fn(*arrays) -> tuple`` (one array per field, e.g. an image and its mask, transformed alike);
    * with ``fields=None``: ``fn(batch) -> batch | dict | None`` on the sub-batch.

    With ``requires_rng=True`` the function also gets the batch's generator as its last argument;
    draw from it (never from a global RNG) to stay reproducible. A function returns new arrays
    (it must not write into its arguments, which may be the source's data); applied with ``p < 1``
    it must keep each field's per-sample shape. Functions must be picklable (module-level) to run
    in process or Dask workers.

    Args:
        fn: the transform or function.
        fields: the fields passed to ``fn`` (default ``"x"``).
        p: probability that a sample is transformed.
        requires_rng: pass ``batch.random`` to ``fn``.

    Example:
        >>> b = Batch({"x": np.ones(1000)}, seed=0)
        >>> out = Apply(np.negative, fields="x", p=0.3)(b)["x"]
        >>> 250 < int((out < 0).sum()) < 350
        True
    """

    def __init__(self, fn: Callable[..., Any], fields: str | Sequence[str] | None = _UNSET,
                 p: float = 1.0, requires_rng: bool = False):
        if isinstance(fn, Transform):
            if fields is not _UNSET:
                raise ValueError(f"fields={fields!r} is not used with the transform {fn!r}: set "
                                 "the fields on the transform itself")
            if requires_rng:
                raise ValueError("requires_rng=True is for plain functions; ladle transforms draw "
                                 "from batch.random themselves")
            inner: Transform = fn
        elif not callable(fn):
            raise TypeError(f"fn={fn!r} is not callable")
        elif fields is None:
            if requires_rng:
                raise ValueError("requires_rng=True needs fields: a function of the batch can use "
                                 "batch.random")
            inner = _BatchFn(fn)
        else:
            fields = "x" if fields is _UNSET else fields
            inner = _ArrayFn(fn, check_fields(fields), bool(requires_rng))
        self.fn = fn
        self.p = check_probability("p", p)
        self._inner = inner

    def _apply(self, batch: Batch, owned: set[str]) -> None:
        if self.p == 1.0:
            self._inner._apply(batch, owned)
            return
        chosen = np.flatnonzero(batch.random.random(batch.size) < self.p)
        _apply_groups(batch, owned, [(chosen, self._inner)], self)

    def _touches(self) -> frozenset[str] | None:
        return self._inner._touches()

    def __repr__(self) -> str:
        fields = getattr(self._inner, "fields", None) if isinstance(self._inner, _ArrayFn) else None
        extra = f", fields={fields!r}" if fields else ""
        return f"Apply({self.fn!r}{extra}, p={self.p})"


class OneOf(Transform):
    """For each sample, with probability ``p``, apply one of ``transforms`` chosen by ``weights``.

    The choice is made per sample: the batch is split into groups (one per transform, plus the
    samples left alone), each group is transformed at once, and the rows are put back in place.
    The transforms must therefore give every sample the same per-sample shape (when ``p < 1``, the
    input's shape).

    Args:
        transforms: ladle transforms or plain ``fn(batch)`` callables.
        p: probability that a sample gets one of them.
        weights: relative chances of the transforms (default: equal).

    Example:
        >>> from ladle.transforms import RandomFlip
        >>> t = OneOf([RandomFlip("horizontal", p=1), RandomFlip("vertical", p=1)])
        >>> t(Batch({"x": np.zeros((4, 2, 2))}, seed=0))["x"].shape
        (4, 2, 2)
    """

    def __init__(self, transforms: Sequence[Callable[[Batch], Any]], p: float = 1.0,
                 weights: Sequence[float] | None = None):
        if isinstance(transforms, (Transform, str)) or not isinstance(transforms, Iterable):
            raise TypeError(f"transforms={transforms!r} must be a list of transforms")
        self.transforms = [_as_transform(t, "OneOf") for t in transforms]
        if not self.transforms:
            raise ValueError("OneOf needs at least one transform")
        self.p = check_probability("p", p)
        k = len(self.transforms)
        if weights is None:
            w = np.full(k, 1.0 / k)
        else:
            w = np.asarray(weights, dtype=np.float64)
            if w.shape != (k,) or not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
                raise ValueError(f"weights={weights!r} must be {k} finite non-negative numbers "
                                 "(one per transform), not all zero")
            w = w / w.sum()
        self.weights = w

    def _apply(self, batch: Batch, owned: set[str]) -> None:
        n = batch.size
        g = batch.random
        active = g.random(n) < self.p
        choice = g.choice(len(self.transforms), size=n, p=self.weights)
        groups = [(np.flatnonzero(active & (choice == j)), t)
                  for j, t in enumerate(self.transforms)]
        _apply_groups(batch, owned, groups, self)

    def _touches(self) -> frozenset[str] | None:
        return Compose(self.transforms)._touches()

    def __repr__(self) -> str:
        return (f"OneOf({[_public(t) for t in self.transforms]!r}, p={self.p}, "
                f"weights={self.weights.round(4).tolist()})")


class Map(Transform):
    """Apply a per-sample function in a Python loop (torchvision v2, albumentations, user code).

    ``fn`` gets one sample of each named field (``fn(x_i)``, or ``fn(x_i, mask_i)`` for several
    fields, returning a tuple) and, with ``requires_rng=True``, the batch's generator as a last
    argument. The results are stacked into new arrays (an object array when their shapes differ).
    Prefer the vectorised ops where one exists: this is the slow path. Libraries that draw from a
    global RNG (torch's, Python's ``random``) are not reproducible across workers; draw from the
    generator instead.

    Args:
        fn: the per-sample function (module-level for process or Dask workers).
        fields: the fields passed to ``fn`` (default ``"x"``).
        requires_rng: pass ``batch.random`` to ``fn``.

    Example:
        >>> t = Map(np.fliplr)
        >>> t(Batch({"x": np.arange(8).reshape(2, 2, 2)}))["x"][0].tolist()
        [[1, 0], [3, 2]]
    """

    def __init__(self, fn: Callable[..., Any], fields: str | Sequence[str] = "x",
                 requires_rng: bool = False):
        if not callable(fn):
            raise TypeError(f"fn={fn!r} is not callable")
        self.fn = fn
        self.fields = check_fields(fields)
        self.requires_rng = bool(requires_rng)

    def _apply(self, batch: Batch, owned: set[str]) -> None:
        arrays = [get_array(batch, f, self) for f in self.fields]
        extra = (batch.random,) if self.requires_rng else ()
        fn = self.fn
        if len(arrays) == 1:
            a = arrays[0]
            columns = [[fn(a[i], *extra) for i in range(len(a))]]
        else:
            rows = [_as_results(fn(*[a[i] for a in arrays], *extra), self.fields, fn)
                    for i in range(len(arrays[0]))]
            columns = [[r[j] for r in rows] for j in range(len(arrays))]
        for f, column, old in zip(self.fields, columns, arrays):
            batch[f] = _stack(column, old)
            owned.add(f)


def _stack(items: list, like: np.ndarray) -> np.ndarray:
    """Stack per-sample results (promoting dtypes); an object array when their shapes differ."""
    values = [np.asarray(v) for v in items]
    if not values:
        return like[:0].copy()
    if len({v.shape for v in values}) == 1:
        return np.stack(values)
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out
