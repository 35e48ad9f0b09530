"""ketos' ``JointBatchGen`` and ``MultiModalBatchGen`` (re-exported by :mod:`.data_feeding`).

Both combine :class:`~ladle.compat.ketos.data_feeding.BatchGenerator` objects: a joint generator
concatenates one batch of each member (e.g. positives and negatives from two tables), a multi-modal
one zips aligned members instance by instance (``X[i] = [x_mode0[i], x_mode1[i], ...]``).

Example:
    >>> import numpy as np
    >>> from ladle.compat.ketos._batch_generator import BatchGenerator
    >>> pos = BatchGenerator(batch_size=2, x=np.ones((4, 3)), y=np.ones(4))
    >>> neg = BatchGenerator(batch_size=3, x=np.zeros((6, 3)), y=np.zeros(6))
    >>> X, Y = next(JointBatchGen([pos, neg]))
    >>> X.shape, Y.tolist()
    ((5, 3), [1.0, 1.0, 0.0, 0.0, 0.0])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..._checks import check_int
from ._batch_generator import BatchGenerator

__all__ = ["JointBatchGen", "MultiModalBatchGen"]


def _element_size(batch: Any) -> int:
    """ketos' format probe: the length of a batch's first element if it is a record or a list."""
    first = batch[0]
    return len(first) if isinstance(first, (np.void, list, tuple)) else 0


def _listed(batch: Any) -> bool:
    """Whether a member's batch is joined as a list (records, lists) rather than concatenated."""
    return not isinstance(batch, np.ndarray) or isinstance(batch[0], (np.void, list, tuple))


def _generators(batch_generators: Any) -> list:
    gens = list(batch_generators)
    if not gens:
        raise ValueError("batch_generators is empty: give a list of BatchGenerator objects")
    return gens


class JointBatchGen:
    """One batch of every member generator, joined: ketos' ``JointBatchGen``.

    X and Y are concatenated (arrays) or joined as lists (records, lists); ids become an
    ``(N, 2)`` array of ``[generator_index, id]`` pairs. An endless iterator, as its members.

    Args:
        batch_generators: the member :class:`BatchGenerator` objects (their ``return_batch_ids``
            is set to True, as in ketos).
        n_batches: batches per epoch: ``"min"`` or ``"max"`` of the members', or an integer.
        shuffle_batch: shuffle each joint batch with the global ``np.random``.
        reset_generators: reset every member when the joint epoch ends (which refreshes members
            built with ``refresh_on_epoch_end=True``).
        return_batch_ids: yield ``(ids, X, Y)``.
        output_transform_func: ``f(X, Y) -> (X, Y)`` applied to each joint batch.

    As ketos does, construction takes one batch from every member to check that their formats
    agree and resets the member (a member with ``refresh_on_epoch_end=True`` draws a new order).

    Example:
        >>> a = BatchGenerator(batch_size=2, x=np.arange(4), y=np.arange(4))
        >>> b = BatchGenerator(batch_size=1, x=np.arange(10, 13), y=np.arange(3))
        >>> ids, X, Y = next(JointBatchGen([a, b], return_batch_ids=True))
        >>> ids.tolist(), X.tolist()
        ([[0, 0], [0, 1], [1, 0]], [0, 1, 10])
    """

    def __init__(self, batch_generators: Sequence[Any], n_batches: str | int = "min",
                 shuffle_batch: bool = False, reset_generators: bool = False,
                 return_batch_ids: bool = False,
                 output_transform_func: Callable[[Any, Any], tuple[Any, Any]] | None = None):
        self.batch_generators = _generators(batch_generators)
        self.reset_generators = reset_generators
        self.shuffle_batch = shuffle_batch
        self.return_batch_ids = return_batch_ids
        if output_transform_func is not None and not callable(output_transform_func):
            raise TypeError(f"output_transform_func={output_transform_func!r} must be a function "
                            "f(X, Y) -> (X, Y), or None")
        self.output_transform_func = output_transform_func
        counts = [gen.n_batches for gen in self.batch_generators]
        if n_batches == "min":
            self.n_batches = min(counts)
        elif n_batches == "max":
            self.n_batches = max(counts)
        elif isinstance(n_batches, str):
            raise ValueError(f"n_batches={n_batches!r} must be 'min', 'max' or an integer >= 1")
        else:
            self.n_batches = check_int("n_batches", n_batches, 1)
        self.batch_count = 0
        self.batch_size = 0
        annot_in_data_table = True
        for gen in self.batch_generators:
            gen.set_return_batch_ids(True)
            self.batch_size += gen.batch_size
            annot_in_data_table &= bool(getattr(gen, "annot_in_data_table", True))
        # ketos' format check: one batch of each member, then the member is reset
        x_sizes, y_sizes, x_listed, y_listed = [], [], [], []
        for gen in self.batch_generators:
            _, x, y = next(gen)
            x_sizes.append(_element_size(x))
            y_sizes.append(_element_size(y))
            x_listed.append(_listed(x))
            y_listed.append(_listed(y))
            gen.reset()
        if len(set(x_sizes)) > 1 or len(set(x_listed)) > 1:
            raise ValueError(f"the generators yield X in different formats (elements of length "
                             f"{x_sizes}); only generators with the same X and Y formats can be "
                             "joined")
        if annot_in_data_table and (len(set(y_sizes)) > 1 or len(set(y_listed)) > 1):
            raise ValueError(f"the generators yield Y in different formats (elements of length "
                             f"{y_sizes}); only generators with the same X and Y formats can be "
                             "joined")
        self.xsiz, self.ysiz = x_sizes[0], y_sizes[0]
        self._x_listed, self._y_listed = x_listed[0], any(y_listed)

    def __iter__(self) -> JointBatchGen:
        return self

    def __next__(self) -> tuple:
        X: list = []
        Y: list = []
        ids = []
        for gen_id, gen in enumerate(self.batch_generators):
            i, x, y = next(gen)
            ids.append(np.column_stack((np.full(len(i), gen_id), np.asarray(i))).astype(int))
            if self._x_listed:
                X += list(x)
            else:
                X.append(x)
            if self._y_listed:
                Y += list(y)
            else:
                Y.append(y)
        if not self._x_listed:
            X = np.concatenate(X)
        if not self._y_listed:
            Y = np.concatenate(Y)
        joined = np.vstack(ids)
        if self.shuffle_batch:
            perm = np.arange(len(X))
            np.random.shuffle(perm)
            X = [X[k] for k in perm] if self._x_listed else X[perm]
            Y = [Y[k] for k in perm] if self._y_listed else Y[perm]
            joined = joined[perm]
        self.batch_count += 1
        if self.batch_count > self.n_batches - 1:
            self.batch_count = 0
            if self.reset_generators:
                for gen in self.batch_generators:
                    gen.reset()
        if self.output_transform_func is not None:
            X, Y = self.output_transform_func(X, Y)
        return (joined, X, Y) if self.return_batch_ids else (X, Y)

    def reset(self, indices: list | None = None) -> None:
        """Reset every member (``indices``: one id order, or None, per member).

        Example:
            >>> a = BatchGenerator(batch_size=2, x=np.arange(4), y=np.arange(4))
            >>> gen = JointBatchGen([a]); gen.reset([[3, 2, 1, 0]]); next(gen)[0].tolist()
            [3, 2]
        """
        if indices is None:
            indices = [None] * len(self.batch_generators)
        elif not isinstance(indices, list) or len(indices) != len(self.batch_generators):
            raise ValueError(f"indices must be a list with one entry (an id order or None) per "
                             f"generator: {len(self.batch_generators)} entries")
        for idx, gen in zip(indices, self.batch_generators):
            gen.reset(indices=idx)
        self.batch_count = 0

    def get_indices(self) -> list:
        """Each member's id order for its current epoch.

        Example:
            >>> a = BatchGenerator(batch_size=1, x=np.arange(2), y=np.arange(2))
            >>> [i.tolist() for i in JointBatchGen([a]).get_indices()]
            [[0, 1]]
        """
        return [g.get_indices() for g in self.batch_generators]

    def set_return_batch_ids(self, v: bool) -> None:
        """Yield ``(ids, X, Y)`` (True) or ``(X, Y)``; the members keep returning their ids.

        Example:
            >>> a = BatchGenerator(batch_size=1, x=np.arange(2), y=np.arange(2))
            >>> gen = JointBatchGen([a]); gen.set_return_batch_ids(True); len(next(gen))
            3
        """
        self.return_batch_ids = v

    def set_shuffle(self, v: bool) -> None:
        """Set every member's ``shuffle`` (used at its next refresh or reset).

        Example:
            >>> a = BatchGenerator(batch_size=1, x=np.arange(2), y=np.arange(2))
            >>> JointBatchGen([a]).set_shuffle(True); a.shuffle
            True
        """
        for g in self.batch_generators:
            g.set_shuffle(v)


class MultiModalBatchGen:
    """Aligned generators zipped instance by instance: ``X[i] = [x_mode0[i], x_mode1[i], ...]``.

    The members read different tables (or columns) of the same instances; this generator keeps
    them on one id order, drawn from the global ``np.random`` when ``shuffle`` (at construction,
    and at every epoch end with ``refresh_on_epoch_end``), so every batch holds the same ids in
    every modality.

    Args:
        batch_generators: the member :class:`BatchGenerator` objects, with equal ``n_instances``.
        batch_size: a batch size for every member (None: theirs, which must agree).
        shuffle: shuffle the shared order (also set on the members).
        refresh_on_epoch_end: draw a new shared order after every epoch.
        return_batch_ids: yield ``(ids, X, Y)``.
        output_transform_func: ``f(X, Y) -> (X, Y)`` applied to each combined batch.

    Example:
        >>> spec = BatchGenerator(batch_size=2, x=np.arange(4) * 10, y=np.arange(4))
        >>> wave = BatchGenerator(batch_size=2, x=-np.arange(4), y=np.arange(4))
        >>> X, Y = next(MultiModalBatchGen([spec, wave]))
        >>> [[int(v) for v in inst] for inst in X]
        [[0, 0], [10, -1]]
    """

    def __init__(self, batch_generators: Sequence[BatchGenerator], batch_size: int | None = None,
                 shuffle: bool = False, refresh_on_epoch_end: bool = False,
                 return_batch_ids: bool = False,
                 output_transform_func: Callable[[Any, Any], tuple[Any, Any]] | None = None):
        self.batch_generators = _generators(batch_generators)
        for gen in self.batch_generators:
            if not isinstance(gen, BatchGenerator):
                raise TypeError(f"{gen!r} is not a BatchGenerator; MultiModalBatchGen combines "
                                "BatchGenerator objects")
        if output_transform_func is not None and not callable(output_transform_func):
            raise TypeError(f"output_transform_func={output_transform_func!r} must be a function "
                            "f(X, Y) -> (X, Y), or None")
        self.return_batch_ids = return_batch_ids
        self.refresh_on_epoch_end = refresh_on_epoch_end
        self.output_transform_func = output_transform_func
        self.shuffle = shuffle
        g0 = self.batch_generators[0]
        for gen in self.batch_generators:
            if gen.n_instances != g0.n_instances:
                raise ValueError(f"the generators select different numbers of instances "
                                 f"({[g.n_instances for g in self.batch_generators]}); the "
                                 "modalities must describe the same instances")
            if batch_size is not None:
                gen.batch_size = check_int("batch_size", batch_size, 1)
            gen.set_return_batch_ids(True)
            gen.set_shuffle(shuffle)
        for attr in ("batch_size", "n_batches", "n_extend"):
            values = [getattr(g, attr) for g in self.batch_generators]
            if len(set(values)) > 1:
                raise ValueError(f"the generators have different {attr} ({values}); all "
                                 f"generators must have the same {attr} (or pass batch_size=)")
        self.n_batches = g0.n_batches
        self.batch_size = g0.batch_size
        self.batch_count = 0
        self._align(self._draw_order())

    def _draw_order(self) -> np.ndarray:
        order = self.batch_generators[0].select_indices.copy()
        if self.shuffle:
            np.random.shuffle(order)
        return order

    def _align(self, order: np.ndarray) -> None:
        for gen in self.batch_generators:
            gen.reset(indices=order)

    def __iter__(self) -> MultiModalBatchGen:
        return self

    def __next__(self) -> tuple:
        reads = [gen._read(self.batch_count) for gen in self.batch_generators]
        self.batch_count += 1
        for gen in self.batch_generators:
            gen.batch_count = self.batch_count
        if self.batch_count > self.n_batches - 1:
            self.reset()
        outs = [gen._finish(ids, raw) for gen, (ids, raw) in zip(self.batch_generators, reads)]
        X = [[x[i] for x, _ in outs] for i in range(len(outs[0][0]))]
        Y = [[y[i] for _, y in outs] for i in range(len(outs[0][1]))]
        if self.output_transform_func is not None:
            X, Y = self.output_transform_func(X, Y)
        return (reads[0][0].tolist(), X, Y) if self.return_batch_ids else (X, Y)

    def reset(self, indices: Any = None) -> None:
        """Restart at the first batch: with ``indices``, that order for every member; else a new
        shared order when ``refresh_on_epoch_end`` is set and some batch was taken.

        Example:
            >>> a = BatchGenerator(batch_size=2, x=np.arange(4), y=np.arange(4))
            >>> gen = MultiModalBatchGen([a], return_batch_ids=True)
            >>> gen.reset(indices=[2, 3, 0, 1]); next(gen)[0]
            [2, 3]
        """
        if indices is not None:
            self._align(indices)
        elif self.refresh_on_epoch_end and self.batch_count > 0:
            self._align(self._draw_order())
        else:
            for gen in self.batch_generators:
                gen.batch_count = 0
        self.batch_count = 0

    def get_indices(self) -> np.ndarray:
        """The shared id order of the current epoch.

        Example:
            >>> a = BatchGenerator(batch_size=1, x=np.arange(3), y=np.arange(3))
            >>> MultiModalBatchGen([a]).get_indices().tolist()
            [0, 1, 2]
        """
        return self.batch_generators[0].get_indices()

    def set_return_batch_ids(self, v: bool) -> None:
        """Yield ``(ids, X, Y)`` (True) or ``(X, Y)``.

        Example:
            >>> a = BatchGenerator(batch_size=1, x=np.arange(3), y=np.arange(3))
            >>> gen = MultiModalBatchGen([a]); gen.set_return_batch_ids(True); len(next(gen))
            3
        """
        self.return_batch_ids = v

    def set_shuffle(self, v: bool) -> None:
        """Shuffle (True) or not the shared orders drawn from now on.

        Example:
            >>> a = BatchGenerator(batch_size=1, x=np.arange(3), y=np.arange(3))
            >>> gen = MultiModalBatchGen([a]); gen.set_shuffle(True); a.shuffle
            True
        """
        self.shuffle = v
        for g in self.batch_generators:
            g.set_shuffle(v)
