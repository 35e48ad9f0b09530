import os

import numpy as np
import pytest
from hypothesis import settings

os.environ.setdefault("KERAS_BACKEND", "torch")

settings.register_profile("ladle", max_examples=60, deadline=None)
settings.load_profile("ladle")


@pytest.fixture
def xy():
    """100 samples: x[i] = [i, i+0.5] (float32), y[i] = i % 3."""
    x = np.stack([np.arange(100), np.arange(100) + 0.5], axis=1).astype(np.float32)
    y = (np.arange(100) % 3).astype(np.int64)
    return x, y
