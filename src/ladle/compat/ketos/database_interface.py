"""ketos' ``database_interface.open_table`` (the part of it that batch generation needs).

Change ``from ketos.data_handling.database_interface import open_table`` to
``from ladle.compat.ketos.database_interface import open_table``; open the file with
``tables.open_file`` as before.

Example:
    >>> import os, tempfile, tables
    >>> path = os.path.join(tempfile.mkdtemp(), "db.h5")
    >>> with tables.open_file(path, "w") as h5:
    ...     _ = h5.create_table("/train", "data", {"id": tables.UInt32Col()}, createparents=True)
    ...     type(open_table(h5, "/train/data")).__name__
    'Table'
"""

from __future__ import annotations

import tables

from ...sources.hdf5_open import list_leaves

__all__ = ["open_table"]


def open_table(h5file: tables.File, table_path: str) -> tables.Node:
    """The node at ``table_path`` of the open file ``h5file`` (usually a ``tables.Table``).

    Raises:
        tables.NoSuchNodeError: when there is no such node; the message lists the leaves that
            exist (ketos printed a line and raised the same error).

    Example:
        >>> import os, tempfile, tables
        >>> path = os.path.join(tempfile.mkdtemp(), "db.h5")
        >>> with tables.open_file(path, "w") as h5:
        ...     open_table(h5, "/nowhere")
        Traceback (most recent call last):
        ...
        tables.exceptions.NoSuchNodeError: there is no table '/nowhere' in ...
    """
    if not isinstance(h5file, tables.File):
        raise TypeError(f"h5file={h5file!r} must be an open tables.File, e.g. "
                        "tables.open_file(path, 'r')")
    try:
        return h5file.get_node(table_path)
    except tables.NoSuchNodeError:
        raise tables.NoSuchNodeError(
            f"there is no table {table_path!r} in {h5file.filename!r}; leaves there: "
            f"{list_leaves(h5file)}") from None
