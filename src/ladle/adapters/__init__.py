"""Framework adapters: feed ladle batches to PyTorch or Keras 3 without glue code.

Importing this package imports no framework: each adapter imports its framework when it is first
used, and raises an :class:`ImportError` naming the extra to install when it is missing
(``pip install ladle[torch]``, ``pip install ladle[keras]``).

* :func:`ladle.adapters.torch.to_torch` — iterate a loader as tensors (zero-copy where dtypes
  allow); :class:`ladle.adapters.torch.TorchDataset` for code that insists on a ``DataLoader``.
* :func:`ladle.adapters.keras.to_keras` — a ``keras.utils.PyDataset`` over a loader;
  :class:`ladle.keras.Sequence` — a base class for hand-written Keras data generators.

Example:
    >>> import ladle.adapters
    >>> sorted(ladle.adapters.__all__)
    ['TorchDataset', 'as_keras_batch', 'as_tensors', 'require', 'to_keras', 'to_torch']
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

__all__ = ["TorchDataset", "as_keras_batch", "as_tensors", "require", "to_keras", "to_torch"]

_LAZY = {"TorchDataset": "torch", "as_tensors": "torch", "to_torch": "torch",
         "as_keras_batch": "keras", "to_keras": "keras"}


def require(module: str, extra: str, purpose: str) -> ModuleType:
    """Import ``module``, or raise an ImportError that names the ladle extra providing it.

    Args:
        module: the framework's import name (``"torch"``, ``"keras"``).
        extra: the ladle extra that installs it (``pip install ladle[extra]``).
        purpose: what needs it, for the message (``"to_torch"``).

    Example:
        >>> require("numpy", "dev", "the example").__name__
        'numpy'
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        missing = (exc.name or "").split(".")[0]
        if missing and missing != module.split(".")[0]:
            # The framework is there but one of its own dependencies is not (e.g. Keras' backend).
            hint = (" Keras 3 needs a backend: set KERAS_BACKEND=torch (or jax) before importing "
                    "keras, or install the backend." if module == "keras" else "")
            raise ImportError(f"{purpose} needs {module}, which is installed but failed to import "
                              f"because {missing!r} is missing: {exc}.{hint}", name=module) from exc
        raise ImportError(f"{purpose} needs {module}, which is not installed: "
                          f"pip install ladle[{extra}]", name=module) from exc


def __getattr__(name: str) -> Any:
    """Load an adapter's module on first access (``ladle.adapters.to_torch``)."""
    sub = _LAZY.get(name)
    if sub is None:
        raise AttributeError(f"module 'ladle.adapters' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{sub}"), name)
    globals()[name] = value
    return value
