"""batchup's ``stl`` module: ``STL(n_val_folds=1)`` with uint8 images (``train_X_u8``...).

STL-10 has 5,000 labelled training images and 10 predefined folds of 1,000 training indices
(``fold_indices.txt`` in the archive). Here the last ``n_val_folds`` * 500 training images form
the validation split (batchup's own fold arithmetic is not documented; this keeps splits disjoint).

Example:
    >>> STL.NAME
    'stl10'
"""

from ._base import StandardDataset

__all__ = ["STL"]


class STL(StandardDataset):
    """STL-10 (labelled splits), images kept as uint8 to save memory (``*_X_u8``).

    Example:
        >>> STL.DEFAULT_N_VAL
        500
    """

    NAME = "stl10"
    DEFAULT_N_VAL = 500

    def __init__(self, n_val_folds: int = 1, val_lower: float = 0.0, val_upper: float = 1.0,
                 **kwargs):
        if n_val_folds < 0 or n_val_folds > 9:
            raise ValueError(f"n_val_folds={n_val_folds} must be between 0 and 9")
        super().__init__(500 * n_val_folds, val_lower, val_upper, **kwargs)
