"""ketos on ladle: change ``ketos.data_handling.data_feeding`` to
``ladle.compat.ketos.data_feeding`` and ``ketos.data_handling.database_interface`` to
``ladle.compat.ketos.database_interface``.

Modules: :mod:`.data_feeding` (``BatchGenerator``, ``JointBatchGen``, ``MultiModalBatchGen``) and
:mod:`.database_interface` (``open_table``).

Example:
    >>> import numpy as np
    >>> from ladle.compat.ketos import data_feeding
    >>> gen = data_feeding.BatchGenerator(batch_size=4, x=np.arange(10), y=np.arange(10) % 2)
    >>> [len(next(gen)[0]) for _ in range(gen.n_batches)]
    [4, 6]
"""

from . import data_feeding, database_interface

__all__ = ["data_feeding", "database_interface"]
