"""batchup's ``cifar100`` module: ``CIFAR100(n_val=10000, val_lower=0.0, val_upper=1.0)``.

Fine labels in ``*_y``, coarse labels in ``*_y_coarse``; ``class_names`` and
``class_names_coarse``.

Example:
    >>> CIFAR100.NAME
    'cifar100'
"""

from ._base import StandardDataset

__all__ = ["CIFAR100"]


class CIFAR100(StandardDataset):
    """CIFAR-100 with both label sets, as batchup gives it.

    Example:
        >>> CIFAR100.DEFAULT_N_VAL
        10000
    """

    NAME = "cifar100"

    def __init__(self, n_val: int = 10000, val_lower: float = 0.0, val_upper: float = 1.0,
                 **kwargs):
        super().__init__(n_val, val_lower, val_upper, **kwargs)
        self.class_names_coarse = self.dataset.attrs["class_names_coarse"]

    def _extra(self, split, cols):
        setattr(self, f"{split}_y_coarse", cols["label_coarse"].astype("int32"))
