"""numblr datagenerator on ladle: change ``from numblr.datagenerator import ...`` to
``from ladle.compat.datagenerator import ...`` (or its modules ``dataset``, ``encoders``,
``factories``).

A :class:`~.dataset.GeneratorDataSet` turns an inventory (a pandas DataFrame of records) into
batches of ``(data, targets)``: data encoders load and encode each record's data (files, URLs, or
the record itself), a target encoder encodes the targets. Batching comes from ladle's core
:class:`~ladle.Loader`, label encoding from :mod:`ladle.encoders`, URL fetching from the core's
concurrent fetcher.

Differences from datagenerator (bugs not copied): no ``np.array(copy=False)`` (NumPy 2), no
scikit-learn ``OneHotEncoder(sparse=...)`` (dense one-hot rows from :mod:`ladle.encoders`),
``generator_for_urls`` works, ``id_mapper=None`` means the id itself, encoders read the column named
by their ``target`` argument.

Example:
    >>> import pandas as pd
    >>> from ladle.compat.datagenerator import GeneratorDataSet, IdentityEncoder, OneHotEncoder
    >>> inventory = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "target": ["a", "b", "b", "a"]})
    >>> ds = GeneratorDataSet(inventory, IdentityEncoder("x"), OneHotEncoder()).fit_encoders()
    >>> train, validation, test = ds.split(validation=0.25, test=0.25)
    >>> data, targets = next(train.batches(batch_size=2))
    >>> data.tolist(), targets.tolist()
    ([1.0, 2.0], [[1.0, 0.0], [0.0, 1.0]])
"""

from . import dataset, encoders, factories
from .dataset import GeneratorDataSet
from .encoders import (BatchDataEncoder, DataEncoder, FileDataEncoder, IdentityEncoder,
                       IntToOneHotEncoder, LabelEncoder, LabelRecordEncoder, OneHotEncoder,
                       OneHotRecordEncoder, RecordTargetEncoder, UrlDataEncoder)
from .factories import (enrich_inventory, generator_for_files, generator_for_urls,
                        inventory_from_csv, inventory_from_dict, inventory_from_records)

__all__ = [
    "BatchDataEncoder", "DataEncoder", "FileDataEncoder", "GeneratorDataSet", "IdentityEncoder",
    "IntToOneHotEncoder", "LabelEncoder", "LabelRecordEncoder", "OneHotEncoder",
    "OneHotRecordEncoder", "RecordTargetEncoder", "UrlDataEncoder", "dataset", "encoders",
    "enrich_inventory", "factories", "generator_for_files", "generator_for_urls",
    "inventory_from_csv", "inventory_from_dict", "inventory_from_records",
]
