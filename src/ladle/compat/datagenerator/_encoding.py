"""How a :class:`~ladle.compat.datagenerator.dataset.GeneratorDataSet` applies its encoders.

datagenerator's protocol, per batch of inventory rows (a DataFrame slice):

* an encoder with ``transform_batch(frame)`` gets the whole slice;
* otherwise, per record (a row as a :class:`Record`): ``transform(record)`` if the encoder has it,
  else ``encoder(record)``; then ``finalize_batch(samples)`` if the encoder has it (padding);
* a *target* encoder that is not a per-record encoder (not a
  :class:`~ladle.compat.datagenerator.encoders.DataEncoder`) gets the whole slice through
  ``transform(frame)`` or ``encoder(frame)``.

A list of samples is stacked into one array; samples of different shapes are an error that says to
pad them in ``finalize_batch``.

Example:
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"id": ["a", "bb"]})
    >>> encode(lambda record: len(record.id), frame).tolist()
    [1, 2]
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["Record", "encode", "records", "stack"]


class Record(dict):
    """One inventory row: a dict of column → value whose columns also read as attributes.

    Example:
        >>> r = Record({"id": "x1", "target": "cat"})
        >>> r["id"], r.target
        ('x1', 'cat')
    """

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"the record has no column {name!r}; its columns are "
                                 f"{list(self)}") from None


def records(frame: Any) -> list[Record]:
    """The rows of a DataFrame as :class:`Record` objects (Python values, as ``to_dict``); repeated
    column names are an error (pandas would drop all but one).

    Example:
        >>> import pandas as pd
        >>> records(pd.DataFrame({"a": [1, 2]}))[1].a
        2
    """
    columns = list(frame.columns)
    if len(set(columns)) != len(columns):
        repeated = sorted({str(c) for c in columns if columns.count(c) > 1})
        raise ValueError(f"the inventory repeats the column names {repeated}, so a record (a dict) "
                         "cannot hold them all: rename the columns")
    values = [frame[c].tolist() for c in columns]  # Python values, column by column: fast
    return [Record(zip(columns, row)) for row in zip(*values)]


def stack(samples: Any, encoder: Any) -> Any:
    """A list of samples as one array (first axis: the batch); anything else as it is.

    Example:
        >>> stack([np.zeros(2), np.ones(2)], None).shape
        (2, 2)
    """
    if not isinstance(samples, list):
        return samples
    try:
        return np.asarray(samples)
    except ValueError as exc:
        shapes = sorted({str(np.shape(s)) for s in samples})[:5]
        raise ValueError(
            f"{encoder!r} gave samples of different shapes {', '.join(shapes)} in one batch, which "
            "do not stack into an array: give the encoder a finalize_batch(samples) method that "
            "pads them to one shape (or return arrays of one shape)") from exc


def encode(encoder: Any, frame: Any, per_record: bool = True) -> Any:
    """Encode one batch (a DataFrame slice) with ``encoder`` following datagenerator's protocol.

    Args:
        encoder: the encoder (see the module docs); None gives the slice itself.
        frame: the batch's rows of the inventory.
        per_record: whether an encoder without ``transform_batch`` is applied per record
            (data encoders, per-record target encoders) or to the whole slice (target encoders).

    Example:
        >>> import pandas as pd
        >>> frame = pd.DataFrame({"v": [1, 2, 3]})
        >>> encode(lambda f: f["v"].to_numpy() * 2, frame, per_record=False).tolist()
        [2, 4, 6]
    """
    if encoder is None:
        return frame
    batch_fn = getattr(encoder, "transform_batch", None)
    if batch_fn is not None:
        return stack(batch_fn(frame), encoder)
    fn = getattr(encoder, "transform", None)
    if fn is None:
        if not callable(encoder):
            raise TypeError(f"encoder {encoder!r} has no transform_batch(records) or "
                            "transform(record) method and is not callable; give an object with "
                            "one of them, or a function")
        fn = encoder
    if not per_record:
        return stack(fn(frame), encoder)
    samples = [fn(r) for r in records(frame)]
    finalize = getattr(encoder, "finalize_batch", None)
    if finalize is not None:
        samples = finalize(samples)
    return stack(samples, encoder)
