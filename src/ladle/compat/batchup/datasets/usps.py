"""batchup's ``usps`` module: ``USPS(n_val=729, val_lower=0.0, val_upper=1.0)``.

Images are float32 NCHW in ``[val_lower, val_upper]``, scaled lazily from the uint8 store;
labels are int32; the last ``n_val`` training samples are the validation split.

Example:
    >>> USPS.NAME
    'usps'
"""

from ._base import StandardDataset

__all__ = ["USPS"]


class USPS(StandardDataset):
    """The usps dataset with batchup's attributes (``train_X``, ``train_y``, ``val_X``...).

    Example:
        >>> USPS.DEFAULT_N_VAL
        729
    """

    NAME = "usps"
    DEFAULT_N_VAL = 729

    def __init__(self, n_val: int = 729, val_lower: float = 0.0, val_upper: float = 1.0, **kwargs):
        super().__init__(n_val, val_lower, val_upper, **kwargs)
