"""batchup's dataset classes on ladle's stores (files generated in MNIST's real format)."""

import numpy as np
import pytest

from ladle.compat.batchup import data_source
from ladle.compat.batchup.datasets import mnist
from ladle.compat.batchup.datasets._base import LazyScaledArray
from test_datasets import Server, serve_mnist


@pytest.fixture
def served_mnist(monkeypatch):
    server = Server()
    train_x = serve_mnist(server, monkeypatch, sizes=(12, 5), seed=5)
    yield server, train_x
    server.close()


def test_mnist_class_has_batchup_attributes(served_mnist, tmp_path):
    server, train_x = served_mnist
    ds = mnist.MNIST(n_val=4, val_lower=-1.0, val_upper=1.0, root=tmp_path, base_url=server.url,
                     progress=False)
    assert ds.train_X.shape == (8, 1, 28, 28) and ds.train_X.dtype == np.float32
    assert ds.train_y.dtype == np.int32 and ds.val_y.tolist() == [8, 9, 0, 1]
    assert ds.test_X.shape == (5, 1, 28, 28) and ds.class_names[0] == "0"
    np.testing.assert_allclose(ds.val_X[0, 0], train_x[8] / 127.5 - 1, atol=1e-6)
    assert ds.train_X_u8.dtype == np.uint8  # the lazily scaled array keeps uint8 underneath
    # drop-in use with batchup's ArrayDataSource
    source = data_source.ArrayDataSource([ds.train_X, ds.train_y])
    batches = list(source.batch_iterator(batch_size=3))
    assert [len(b[0]) for b in batches] == [3, 3, 2]
    np.testing.assert_allclose(batches[0][0], np.asarray(ds.train_X)[:3])


def test_lazy_scaled_array():
    x = LazyScaledArray(np.array([[0, 51, 255]], np.uint8), 0.0, 1.0)
    np.testing.assert_allclose(np.asarray(x), [[0.0, 0.2, 1.0]], atol=1e-6)
    np.testing.assert_allclose(x.take(np.array([0, 0])), [[0.0, 0.2, 1.0]] * 2, atol=1e-6)
    with pytest.raises(ValueError, match="val_upper=0.0 must be greater than val_lower=1.0"):
        LazyScaledArray(np.zeros(1, np.uint8), 1.0, 0.0)
