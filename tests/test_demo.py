import numpy as np

from ladle import Batch, demo
from ladle.sources.hdf5 import HDF5Source


def test_demo_trains_to_a_useful_accuracy(capsys):
    assert demo.main(["--epochs", "4"]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("epoch")]
    assert len(lines) == 4 and "samples/s" in lines[-1]
    assert float(lines[-1].split("accuracy ")[1].split()[0]) > 0.85
    assert "split by the query 'fold != 0'" in out


def test_demo_store_is_kept_when_asked(tmp_path, capsys):
    path = str(tmp_path / "digits.h5")
    assert demo.main(["--epochs", "3", "--store", path, "--workers", "2"]) == 0
    assert f"written to {path}" in capsys.readouterr().out
    with HDF5Source(path) as src:
        assert len(src) == 1797 and src.fields["data"].shape == (8, 8)
        assert src.attrs["class_names"] == [str(i) for i in range(10)]
        folds = src.read(np.arange(len(src)))["fold"]
    assert np.bincount(folds).tolist() == [360, 360, 359, 359, 359]


def test_jitter_draws_from_the_batch_generator():
    def make():
        return Batch({"data": np.ones((4, 8, 8), np.float32)}, seed=5, epoch=1, number=2)

    a, b = demo.jitter(make())["data"], demo.jitter(make())["data"]
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, 1) and a.dtype == np.float32
