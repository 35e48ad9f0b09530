"""Base classes of datagenerator's two encoder interfaces (re-exported by :mod:`.encoders`).

Example:
    >>> class Upper(DataEncoder):
    ...     def transform(self, record):
    ...         return record["id"].upper()
    >>> Upper()({"id": "ab"})
    'AB'
"""

from __future__ import annotations

from typing import Any

__all__ = ["BatchDataEncoder", "DataEncoder"]


class DataEncoder:
    """Base of per-record encoders: ``encoder(record)`` is ``encoder.transform(record)``.

    Subclasses implement :meth:`transform`; :meth:`fit` and :meth:`finalize_batch` are optional.

    Example:
        >>> class Length(DataEncoder):
        ...     def transform(self, record):
        ...         return len(record["id"])
        >>> Length()({"id": "abc"})
        3
    """

    def __call__(self, record: Any) -> Any:
        return self.transform(record)

    def fit(self, inventory: Any) -> "DataEncoder":
        """Learn what the encoder needs from the whole inventory (a DataFrame); default: nothing."""
        return self

    def transform(self, record: Any) -> Any:
        """Encode one record (a row of the inventory)."""
        raise NotImplementedError(f"{type(self).__name__} must implement transform(self, record)")

    def finalize_batch(self, records: list) -> Any:
        """Turn the batch's encoded samples into the batch (e.g. pad them); default: as they are."""
        return records


class BatchDataEncoder:
    """Base of per-batch encoders: ``transform_batch(records)`` encodes a whole batch.

    ``records`` is the batch's rows of the inventory, a pandas DataFrame slice.

    Example:
        >>> import pandas as pd
        >>> class Lengths(BatchDataEncoder):
        ...     def transform_batch(self, records):
        ...         return records["id"].str.len().to_numpy()
        >>> Lengths().transform_batch(pd.DataFrame({"id": ["a", "bcd"]})).tolist()
        [1, 3]
    """

    def fit(self, inventory: Any) -> "BatchDataEncoder":
        """Learn what the encoder needs from the whole inventory; default: nothing."""
        return self

    def transform_batch(self, records: Any) -> Any:
        """Encode the batch's records (a DataFrame slice) into one array."""
        raise NotImplementedError(f"{type(self).__name__} must implement "
                                  "transform_batch(self, records)")
