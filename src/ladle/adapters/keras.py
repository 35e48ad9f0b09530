"""Keras 3 adapter: a loader as a ``keras.utils.PyDataset`` for ``model.fit``.

:func:`to_keras` picks the model's inputs, targets and sample weights out of each batch by field
name and returns a :class:`ladle.keras.LoaderDataset`. Keras may ask for the batches of an epoch
in any order and from several threads (``fit(shuffle=True)`` is the default): a batch is
``loader[i]``, a pure function of (seed, epoch, i), so the order of requests does not matter.
At the end of each epoch the loader moves to the next epoch, reshuffled.

keras is imported when :func:`to_keras` is first called, never at ``import ladle``; without it
the adapter raises an ImportError naming the extra (``pip install ladle[keras]``).

Example:
    >>> import numpy as np
    >>> from ladle import Loader
    >>> from ladle.adapters.keras import as_keras_batch
    >>> batch = Loader({"x": np.zeros((4, 2)), "y": np.arange(4)}, batch_size=4)[0]
    >>> x, y = as_keras_batch(batch)
    >>> x.shape, y.tolist()
    ((4, 2), [0, 1, 2, 3])
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence, Union

from .._checks import check_int
from . import require

__all__ = ["Names", "as_keras_batch", "check_arguments", "named_fields", "to_keras"]

#: How a model's inputs or targets are named: one field, several fields (a dict keyed by field
#: name, for multi-input models), or ``{model input name: field}``.
Names = Union[str, Sequence[str], Mapping[str, str]]


def _normalise(arg: str, names: Names | None,
               allow_none: bool) -> str | tuple[str, ...] | dict | None:
    if names is None or (not isinstance(names, str) and len(names) == 0):
        if allow_none:
            return None
        raise ValueError(f"{arg}={names!r} must name at least one field, e.g. {arg}=('x',)")
    if isinstance(names, str):
        return names
    if isinstance(names, Mapping):
        bad = {k: v for k, v in names.items() if not isinstance(k, str) or not isinstance(v, str)}
        if bad:
            raise TypeError(f"{arg}={names!r}: keys (model input names) and values (field "
                            f"names) must be strings; offending entries: {bad}")
        return dict(names)
    names = tuple(names)
    if not all(isinstance(n, str) for n in names):
        raise TypeError(f"{arg}={names!r} must be field names (strings)")
    return names[0] if len(names) == 1 else names


def _fields_of(spec: str | tuple | dict | None) -> list[str]:
    if spec is None:
        return []
    if isinstance(spec, str):
        return [spec]
    return list(spec.values()) if isinstance(spec, dict) else list(spec)


def _pick(batch: Mapping[str, Any], spec: str | tuple | dict, arg: str) -> Any:
    try:
        if isinstance(spec, str):
            return batch[spec]
        if isinstance(spec, dict):
            return {name: batch[field] for name, field in spec.items()}
        return {field: batch[field] for field in spec}
    except KeyError as exc:
        raise KeyError(f"field {exc.args[0]!r} named in {arg}= is not in the batch; its fields "
                       f"are {list(batch)}: name the loader's fields in {arg}=") from None


def as_keras_batch(batch: Mapping[str, Any], inputs: Names = ("x",),
                   targets: Names | None = ("y",), sample_weight: str | None = None) -> tuple:
    """A batch in the form Keras expects: ``(x,)``, ``(x, y)`` or ``(x, y, w)``, never a list.

    ``x`` (and ``y``) is the field's array when one field is named, and a dict of arrays when
    several are (keyed by field name), or with a mapping ``{model input name: field}`` (keyed by
    the model's input names), for multi-input and multi-output models.

    Args:
        batch: a mapping of field name to array (a :class:`~ladle.Batch`).
        inputs: the field(s) fed to the model.
        targets: the field(s) the loss compares with; None for inputs only (``predict``).
        sample_weight: the field holding per-sample loss weights, or None.

    Example:
        >>> import numpy as np
        >>> b = {"a": np.zeros(2), "b": np.ones(2), "y": np.arange(2), "w": np.ones(2)}
        >>> x, y, w = as_keras_batch(b, inputs=("a", "b"), sample_weight="w")
        >>> sorted(x), y.tolist()
        (['a', 'b'], [0, 1])
    """
    x = _pick(batch, _normalise("inputs", inputs, False), "inputs")
    spec = _normalise("targets", targets, True)
    if spec is None:
        if sample_weight is not None:
            raise ValueError(f"sample_weight={sample_weight!r} needs targets; Keras takes "
                             "(x, y, sample_weight) tuples")
        return (x,)
    y = _pick(batch, spec, "targets")
    if sample_weight is None:
        return (x, y)
    if not isinstance(sample_weight, str):
        raise TypeError(f"sample_weight={sample_weight!r} must be the name of a field or None")
    return (x, y, _pick(batch, sample_weight, "sample_weight"))


def named_fields(loader: Any, out: Any) -> Mapping[str, Any]:
    """A loader's output as a mapping of field name to array, also for tuple output.

    A :class:`~ladle.Batch` is returned as it is; the tuples of a loader built with
    ``output=(...)`` are keyed by those names (and ``"indices"`` first with
    ``return_indices=True``).

    Example:
        >>> import numpy as np
        >>> from ladle import Loader
        >>> loader = Loader({"x": np.arange(3), "y": np.arange(3)}, batch_size=3, output=("y",))
        >>> sorted(named_fields(loader, loader[0]))
        ['y']
    """
    if isinstance(out, Mapping):
        return out
    names = tuple(loader.output or ())
    if loader.return_indices:
        names = ("indices",) + names
    if not names or len(names) != len(out):
        raise ValueError(f"the loader gives {len(out)}-tuples whose fields are not named "
                         f"(output={loader.output!r}); build it with output=None or name "
                         "every field in output=(...)")
    return dict(zip(names, out))


def _check_names(loader: Any, specs: list[tuple[str, Any]]) -> None:
    """Fail at construction, not at the first batch, on a field the loader does not have."""
    if loader.transform is not None:
        return  # a transform may add fields; checked at the first batch
    if loader.output is not None or loader.return_indices:
        available = (["indices"] if loader.return_indices else []) + list(loader.output or ())
    else:
        available = list(loader.source.fields)
    for arg, spec in specs:
        for field in _fields_of(spec):
            if field not in available:
                raise ValueError(f"{arg} names the field {field!r}, which the loader does not "
                                 f"give; its fields are {available}")


def to_keras(loader: Any, inputs: Names = ("x",), targets: Names | None = ("y",),
             sample_weight: str | None = None, workers: int = 1, use_multiprocessing: bool = False,
             max_queue_size: int = 10) -> Any:
    """Wrap ``loader`` as a ``keras.utils.PyDataset``: ``model.fit(to_keras(loader), epochs=3)``.

    ``len`` is the loader's batches per epoch; item ``i`` is ``as_keras_batch(loader[i], ...)``
    (see :func:`as_keras_batch`); ``on_epoch_end`` moves the loader to the next epoch, so the next
    epoch is reshuffled. Requests may come in any order and in parallel.

    Args:
        loader: a :class:`~ladle.Loader` (``last_batch="carry"`` is refused: Keras needs the same
            number of batches every epoch).
        inputs: field(s) fed to the model; several (or a ``{input name: field}`` mapping) give a
            dict, for multi-input models.
        targets: field(s) for the loss; None for inputs only.
        sample_weight: field of per-sample loss weights, or None.
        workers: Keras' threads (or processes) fetching batches; passed to ``PyDataset``.
        use_multiprocessing: fetch in processes instead of threads (the loader is copied into
            each worker process).
        max_queue_size: batches Keras keeps ready.

    Returns:
        A :class:`ladle.keras.LoaderDataset` (a ``keras.utils.PyDataset``).

    Raises:
        ImportError: keras is not installed (``pip install ladle[keras]``) or has no backend.
        ValueError: a named field is not among the loader's, or ``last_batch="carry"``.

    Example:
        >>> import numpy as np
        >>> from ladle import Loader
        >>> loader = Loader({"x": np.zeros((10, 2)), "y": np.arange(10)}, batch_size=4)
        >>> ds = to_keras(loader)
        >>> len(ds), [len(ds[i][1]) for i in range(len(ds))]
        (3, [4, 4, 2])
    """
    require("keras", "keras", "to_keras")
    from ..keras import LoaderDataset

    return LoaderDataset(loader, inputs=inputs, targets=targets, sample_weight=sample_weight,
                         workers=workers, use_multiprocessing=use_multiprocessing,
                         max_queue_size=max_queue_size)


def check_arguments(loader: Any, inputs: Names, targets: Names | None, sample_weight: str | None,
                    workers: int, max_queue_size: int) -> tuple[Any, Any, str | None]:
    """Validate :func:`to_keras`'s arguments; return the normalised (inputs, targets, weight).

    Example:
        >>> import numpy as np
        >>> from ladle import Loader
        >>> loader = Loader({"x": np.zeros(3), "y": np.zeros(3)}, 2)
        >>> check_arguments(loader, ("x",), "y", None, 1, 10)
        ('x', 'y', None)
    """
    if getattr(loader, "last_batch", None) == "carry":
        raise ValueError("last_batch='carry' lets batches cross epochs, so epochs differ in "
                         "length; Keras needs the same number of batches every epoch: use "
                         "last_batch='short', 'drop' or 'merge'")
    check_int("workers", workers, 0)
    check_int("max_queue_size", max_queue_size, 1)
    x = _normalise("inputs", inputs, False)
    y = _normalise("targets", targets, True)
    if sample_weight is not None and not isinstance(sample_weight, str):
        raise TypeError(f"sample_weight={sample_weight!r} must be the name of a field or None")
    if sample_weight is not None and y is None:
        raise ValueError(f"sample_weight={sample_weight!r} needs targets; Keras takes "
                         "(x, y, sample_weight) tuples")
    _check_names(loader, [("inputs", x), ("targets", y), ("sample_weight", sample_weight)])
    return x, y, sample_weight
