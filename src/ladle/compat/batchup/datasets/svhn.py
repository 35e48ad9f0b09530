"""batchup's ``svhn`` module: ``SVHN(n_val=10000, val_lower=0.0, val_upper=1.0)``.

Images are float32 NCHW in ``[val_lower, val_upper]``, scaled lazily from the uint8 store;
labels are int32; the last ``n_val`` training samples are the validation split.

Example:
    >>> SVHN.NAME
    'svhn'
"""

from ._base import StandardDataset

__all__ = ["SVHN"]


class SVHN(StandardDataset):
    """The svhn dataset with batchup's attributes (``train_X``, ``train_y``, ``val_X``...).

    Example:
        >>> SVHN.DEFAULT_N_VAL
        10000
    """

    NAME = "svhn"
    DEFAULT_N_VAL = 10000

    def __init__(self, n_val: int = 10000, val_lower: float = 0.0, val_upper: float = 1.0, **kwargs):
        super().__init__(n_val, val_lower, val_upper, **kwargs)
