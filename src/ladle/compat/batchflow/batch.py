"""batchflow's ``Batch`` on ladle's core :class:`~ladle.Batch`.

A batch has an ``index`` (a :class:`DatasetIndex` of item ids) and named components (the class
attribute ``components``, plus any added later), read and written as attributes. It is a ladle
Batch (a dict of component → array), so :meth:`apply_parallel` (targets ``for``, ``threads``,
``mpc``, ``async``) and :meth:`merge` are the core's. ``load``/``dump`` read and write arrays,
dicts, DataFrames and the ``csv``, ``hdf5``, ``feather`` and ``blosc`` formats (see :mod:`.io`).

Differences from batchflow: ``len(batch)`` and ``batch.size`` are the number of items (the dict of
components is still a dict); ``batch["name"]`` reads a component, other keys read items; there is
no pipeline machinery (``action`` is a plain decorator).

Example:
    >>> import numpy as np
    >>> class ImagesBatch(Batch):
    ...     components = ("images", "labels")
    >>> b = ImagesBatch.from_data(None, {"images": np.zeros((3, 2, 2)), "labels": np.arange(3)})
    >>> b.apply_parallel(lambda im: im + 1, src="images", dst="bright").bright.shape
    (3, 2, 2)
"""

from __future__ import annotations

import collections
import copy as copy_module
from typing import Any, Callable, Sequence

import numpy as np

from ..._checks import check_choice, check_seed
from ...batch import Batch as CoreBatch, _concat
from ...sampling import BATCH_STREAM
from . import io
from .index import DatasetIndex

__all__ = ["Batch", "action"]


def action(method: Callable | None = None, **kwargs: Any) -> Any:
    """batchflow's ``@action`` decorator: here the method is returned unchanged (there are no
    pipelines); it lets batch subclasses written for batchflow import and run.

    Example:
        >>> @action
        ... def f(self): return self
        >>> f(1)
        1
    """
    if method is None:
        return lambda m: m
    return method


class Batch(CoreBatch):
    """A batch of items with named components (batchflow's ``Batch``).

    Args:
        index: a :class:`DatasetIndex`, an array of item ids or a number of items.
        dataset: the dataset the batch comes from.
        pipeline: kept as an attribute.
        preloaded: the dataset's data (a dict or DataFrame of components, or a tuple in
            ``components`` order); the batch takes its items' rows.
        copy: accepted for compatibility (rows are always copied).
        **kwargs: extra attributes (see :meth:`create_attrs`).

    Example:
        >>> b = Batch(DatasetIndex([4, 5]), preloaded={"x": np.arange(10) * 10})
        >>> b.x.tolist(), b.indices.tolist(), len(b)
        ([40, 50], [4, 5], 2)
    """

    components: tuple[str, ...] | None = None

    def __init__(self, index: Any, dataset: Any = None, pipeline: Any = None, preloaded: Any = None,
                 copy: bool = False, *args: Any, **kwargs: Any):
        comps = type(self).components
        if comps is not None and not isinstance(comps, tuple):
            raise TypeError(f"{type(self).__name__}.components={comps!r} must be a tuple of names")
        index = index if isinstance(index, DatasetIndex) else DatasetIndex(index)
        object.__setattr__(self, "index", index)
        object.__setattr__(self, "_attrs", [])
        super().__init__({}, indices=index.indices, seed=check_seed(None))
        self._dataset = dataset
        self.pipeline = pipeline
        self._copy = copy
        if preloaded is not None:
            positions = None
            data_index = getattr(dataset, "_data_index", None)
            if data_index is not None:
                positions = data_index.get_pos(index.indices)
            io.put(self, preloaded, None, positions)
        self.create_attrs(**kwargs)

    # ------------------------------------------------------------------ components
    def _component_names(self) -> tuple[str, ...]:
        return self.__dict__.get("components", type(self).components) or ()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if name in self:
            return dict.__getitem__(self, name)
        if name in self._component_names():
            return None
        raise AttributeError(f"{type(self).__name__} has no component or attribute {name!r}; "
                             f"components: {list(self._component_names())}")

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self or (name in self._component_names() and name not in self.__dict__):
            self._set_component(name, value)
        else:
            object.__setattr__(self, name, value)

    def _set_component(self, name: str, value: Any) -> None:
        if name not in self._component_names():
            self.__dict__["components"] = self._component_names() + (name,)
        if value is None:
            self.pop(name, None)
        else:
            dict.__setitem__(self, name, value)

    def __getitem__(self, item: Any) -> Any:
        if isinstance(item, str):
            if dict.__contains__(self, item):
                return dict.__getitem__(self, item)
            if item in self._component_names():
                return None
        return self.get(item)

    def add_components(self, components: Any, init: Any = None) -> "Batch":
        """Add components (a name or names), optionally with initial data (one value per name).

        Raises ValueError if a component or an attribute of that name exists.

        Example:
            >>> Batch(2).add_components("x", np.zeros(2)).x.tolist()
            [0.0, 0.0]
        """
        names = [components] if isinstance(components, str) else list(components)
        for name in names:
            if (name in self._component_names() or name in self or name in self.__dict__
                    or hasattr(type(self), name)):
                raise ValueError(f"a component or an attribute {name!r} already exists")
        self.__dict__["components"] = self._component_names() + tuple(names)
        if init is not None:
            values = [init] if len(names) == 1 else list(init)
            if len(values) != len(names):
                raise ValueError(f"init has {len(values)} values for {len(names)} components")
            for name, value in zip(names, values):
                self._set_component(name, value)
        return self

    @property
    def data(self) -> Any:
        """The components as a named tuple (None for unset ones), or None without components."""
        names = self._component_names()
        if not names:
            return None
        return collections.namedtuple("BatchComponents", names, rename=True)(
            *(dict.get(self, n) for n in names))

    @data.setter
    def data(self, value: Any) -> None:
        io.put_exact(self, value, None)

    @property
    def size(self) -> int:  # type: ignore[override]
        """Number of items."""
        return len(self.index)

    def __len__(self) -> int:
        return len(self.index)

    @property
    def items(self) -> np.ndarray:  # type: ignore[override]
        """The item ids (batchflow's ``items``)."""
        return self.indices

    @property
    def dataset(self) -> Any:
        """The dataset the batch was taken from."""
        return self._dataset

    @property
    def array_of_nones(self) -> np.ndarray:
        """A 1-D object array of ``len(batch)`` Nones."""
        return np.array([None] * len(self), dtype=object)

    @property
    def random_seed(self) -> np.random.SeedSequence:
        """The SeedSequence :attr:`random` is made from (keyed by seed, epoch and batch number)."""
        return np.random.SeedSequence([self.seed, self.epoch, BATCH_STREAM, self.number])

    def get(self, item: Any = None, component: str | None = None) -> Any:  # type: ignore[override]
        """A component (``component=``), an item (``item=`` an id), or both.

        Example:
            >>> b = Batch.from_data([7, 8], {"x": np.array([1, 2])})
            >>> b.get(component="x").tolist(), int(b.get(8).x), int(b.get(7, "x"))
            ([1, 2], 2, 1)
        """
        if component is not None:
            data = dict.get(self, component)
            if item is None or data is None:
                return data
            return data[self.index.get_pos(item)]
        if item is None:
            return self.data
        pos = self.index.get_pos(item)
        names = self._component_names()
        return collections.namedtuple("Item", names, rename=True)(
            *(None if dict.get(self, n) is None else self[n][pos] for n in names))

    # ------------------------------------------------------------------ construction and copies
    @classmethod
    def from_data(cls, index: Any = None, data: Any = None) -> "Batch":
        """A batch holding ``data`` (a dict, DataFrame or tuple of components, one row per item).

        Example:
            >>> Batch.from_data(data={"y": np.array([3, 4])}).indices.tolist()
            [0, 1]
        """
        if index is None:
            index = DatasetIndex(io.data_length(data))
        batch = cls(index)
        if data is not None:
            io.put_exact(batch, data, None)
        return batch

    def create_attrs(self, **kwargs: Any) -> None:
        """Set extra attributes (remembered by :meth:`get_attrs`).

        Example:
            >>> b = Batch(1); b.create_attrs(scale=2); b.get_attrs()
            {'scale': 2}
        """
        self._attrs = list(self._attrs) + [k for k in kwargs if k not in self._attrs]
        for name, value in kwargs.items():
            setattr(self, name, value)

    def get_attrs(self) -> dict[str, Any]:
        """The attributes set by :meth:`create_attrs`."""
        return {name: getattr(self, name) for name in self._attrs}

    def _clone(self, deep: bool) -> "Batch":
        new = type(self).__new__(type(self))
        data = copy_module.deepcopy(dict(self)) if deep else dict(self)
        dict.update(new, data)
        for slot in ("indices", "epoch", "number", "seed", "skipped"):
            object.__setattr__(new, slot, getattr(self, slot))
        object.__setattr__(new, "_random", None)
        for key, value in self.__dict__.items():
            keep = not deep or key in ("_dataset", "pipeline")
            object.__setattr__(new, key, value if keep else copy_module.deepcopy(value))
        return new

    def deepcopy(self) -> "Batch":
        """A deep copy (the dataset and pipeline are shared, not copied).

        Example:
            >>> b = Batch.from_data(None, {"x": np.zeros(2)}); c = b.deepcopy(); c.x[0] = 1
            >>> b.x.tolist()
            [0.0, 0.0]
        """
        return self._clone(deep=True)

    def copy(self) -> "Batch":
        """A shallow copy (arrays shared)."""
        return self._clone(deep=False)

    def __reduce__(self):
        state = {k: v for k, v in self.__dict__.items() if k not in ("_dataset", "pipeline")}
        slots = (self.indices, self.epoch, self.number, self.seed, self.skipped)
        return (_rebuild, (type(self), dict(self), slots, state))

    def do_nothing(self, *args: Any, **kwargs: Any) -> "Batch":
        """An empty action."""
        return self

    def as_dataset(self, dataset: Any = None, copy: bool = False) -> Any:
        """A dataset holding this batch's items and data.

        Example:
            >>> ds = Batch.from_data([3, 9], {"x": np.array([30, 90])}).as_dataset()
            >>> ds.next_batch(1).x.tolist()
            [30]
        """
        from .dataset import Dataset

        dataset = dataset or Dataset
        klass = dataset if isinstance(dataset, type) else type(dataset)
        data = {k: (copy_module.deepcopy(v) if copy else v) for k, v in self.items_dict().items()}
        return klass(DatasetIndex(self.indices), batch_class=type(self), preloaded=data)

    def items_dict(self) -> dict[str, Any]:
        """The set components as a plain dict."""
        return dict(self)

    def to_array(self, comp: Any = "images", dtype: Any = np.float32, channels: str | None = "last",
                 **kwargs: Any) -> "Batch":
        """Convert components (lists of images or arrays) to one ``dtype`` array each.

        2-D items (H, W) get a channel axis unless ``channels`` is None; ``channels="first"`` puts
        the channel axis right after the batch axis.

        Example:
            >>> b = Batch.from_data(None, {"images": [np.zeros((4, 5)), np.ones((4, 5))]})
            >>> b.to_array("images", channels="first").images.shape
            (2, 1, 4, 5)
        """
        check_choice("channels", channels, (None, "first", "last"))
        for name in [comp] if isinstance(comp, str) else list(comp):
            value = dict.get(self, name)
            if value is None:
                raise KeyError(f"component {name!r} is not set; components: {list(self)}")
            arr = np.stack([np.asarray(v) for v in value]).astype(dtype)
            if channels is not None and arr.ndim == 3:
                arr = arr[..., None]
            if channels == "first":
                arr = np.moveaxis(arr, -1, 1)
            self._set_component(name, arr)
        return self

    @staticmethod
    def get_errors(all_res: Sequence[Any]) -> list[BaseException] | None:
        """The exceptions among parallel results, or None when there are none."""
        errors = [r for r in all_res if isinstance(r, BaseException)]
        return errors or None

    # ------------------------------------------------------------------ merge, load, dump
    @classmethod
    def _from_merge(cls, data: dict, indices: np.ndarray, template: CoreBatch) -> "Batch":
        batch = cls(DatasetIndex(np.arange(len(indices))))
        for name, value in data.items():
            if value is not None:
                batch._set_component(name, value)
            elif name not in batch._component_names():
                batch.__dict__["components"] = batch._component_names() + (name,)
        return batch

    @classmethod
    def merge_component(cls, component: str | None = None,
                        data: Sequence[Any] | None = None) -> Any:
        """The concatenation of one component's data from several batches (None if all are None).

        Example:
            >>> Batch.merge_component("x", [np.arange(2), np.arange(1)]).tolist()
            [0, 1, 0]
        """
        values = list(data or [])
        if not values or all(v is None for v in values):
            return None
        if any(v is None for v in values):
            raise ValueError(f"component {component!r} is None in some batches and not in others")
        return _concat(values)

    def load(self, *args: Any, src: Any = None, fmt: str | None = None, dst: Any = None,
             **kwargs: Any) -> "Batch":
        """Load this batch's items from ``src`` into components (see :func:`.io.load`).

        Example:
            >>> Batch([1, 3]).load(src=np.arange(5) * 2, dst="x").x.tolist()
            [2, 6]
        """
        return io.load(self, src, fmt, dst, **kwargs)

    def dump(self, *args: Any, dst: Any = None, fmt: str | None = None, components: Any = None,
             **kwargs: Any) -> "Batch":
        """Write components to ``dst`` (see :func:`.io.dump`).

        Example:
            >>> out = {}
            >>> _ = Batch.from_data(None, {"x": np.arange(2)}).dump(dst=out)
            >>> out["x"].tolist()
            [0, 1]
        """
        return io.dump(self, dst, fmt, components, **kwargs)

    def save(self, *args: Any, **kwargs: Any) -> "Batch":
        """An alias of :meth:`dump`."""
        return self.dump(*args, **kwargs)

    def __repr__(self) -> str:
        comps = ", ".join(f"{k}: {'None' if dict.get(self, k) is None else type(self[k]).__name__}"
                          for k in self._component_names())
        return f"{type(self).__name__}(size={len(self)}, {{{comps}}})"


def _rebuild(klass: type, data: dict, slots: tuple, state: dict) -> Batch:
    new = klass.__new__(klass)
    dict.update(new, data)
    for name, value in zip(("indices", "epoch", "number", "seed", "skipped"), slots):
        object.__setattr__(new, name, value)
    object.__setattr__(new, "_random", None)
    for key, value in state.items():
        object.__setattr__(new, key, value)
    object.__setattr__(new, "_dataset", None)
    object.__setattr__(new, "pipeline", None)
    return new
