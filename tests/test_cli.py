"""The ``ladle`` command: build, info, iterate, demo; one-line errors with exit code 2."""

import importlib.metadata
import wave

import numpy as np
import pytest
import tables
from PIL import Image

from ladle.cli import decode_file, main
from ladle.sources.hdf5 import HDF5Source


def write_csv(path, rows, header="path,label"):
    path.write_text(header + "\n" + "".join(f"{a},{b}\n" for a, b in rows))
    return str(path)


@pytest.fixture
def npy_inventory(tmp_path):
    files = tmp_path / "files"
    files.mkdir()
    rows = []
    for i in range(6):
        np.save(files / f"x{i}.npy", np.full((3, 4), i, np.float32))
        rows.append((f"x{i}.npy", "dog" if i % 2 else "cat"))
    (files / "broken.npy").write_bytes(b"not a numpy file")
    np.save(files / "odd.npy", np.zeros((5, 5), np.float32))
    return tmp_path, files, rows


def run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_build_from_an_inventory(npy_inventory, capsys):
    tmp, files, rows = npy_inventory
    csv = write_csv(tmp / "inv.csv", rows)
    store = str(tmp / "s.h5")
    code, out, err = run(["build", csv, "--root", str(files), "-o", store, "--chunk-rows", "4"],
                         capsys)
    assert code == 0, err
    assert "wrote 6 rows" in out and "data float32[3, 4]" in out
    src = HDF5Source(store)
    batch = src.read(np.arange(6))
    assert batch["data"][:, 0, 0].tolist() == [0, 1, 2, 3, 4, 5]
    assert batch["label"].tolist() == [0, 1, 0, 1, 0, 1]  # sorted class names: cat, dog
    assert batch["filename"].tolist()[:2] == [b"x0.npy", b"x1.npy"]
    assert src.attrs["class_names"] == ["cat", "dog"] and src.block_size == 4
    assert "building" in err  # the progress bar


def test_a_bad_row_stops_the_build_or_is_skipped(npy_inventory, capsys):
    tmp, files, rows = npy_inventory
    csv = write_csv(tmp / "inv.csv", rows[:2] + [("broken.npy", "cat"), ("odd.npy", "cat"),
                                                 ("gone.npy", "dog")] + rows[2:])
    store = tmp / "s.h5"
    code, out, err = run(["build", csv, "--root", str(files), "-o", str(store)], capsys)
    assert code == 2 and not store.exists()  # no half-written store is left
    line = err.strip().splitlines()[-1]
    assert line.startswith("ladle build: error: row 2 (broken.npy):") and "--skip-errors" in line
    code, out, err = run(["build", csv, "--root", str(files), "-o", str(store), "--skip-errors"],
                         capsys)
    assert code == 0, err
    assert "wrote 6 rows" in out and "skipped 3 bad rows; first: row 2 (broken.npy)" in out
    assert len(HDF5Source(str(store))) == 6


def test_images_sounds_and_texts(tmp_path, capsys):
    for i in range(3):
        Image.fromarray(np.full((5, 6, 3), 40 * i, np.uint8)).save(tmp_path / f"im{i}.png")
        with wave.open(str(tmp_path / f"s{i}.wav"), "wb") as w:
            w.setnchannels(2), w.setsampwidth(2), w.setframerate(8000)
            w.writeframes(np.arange(20, dtype=np.int16).tobytes())
        (tmp_path / f"t{i}.txt").write_text("word " * (i + 1))
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "j.jpg")
    assert decode_file(str(tmp_path / "j.jpg")).shape == (4, 4, 1)  # always HWC
    for kind, expect in (("im{}.png", (5, 6, 3)), ("s{}.wav", (10, 2)), ("t{}.txt", ())):
        csv = write_csv(tmp_path / "inv.csv", [(kind.format(i), i) for i in range(3)], "file,label")
        store = str(tmp_path / f"{kind[0]}.h5")
        assert run(["build", csv, "-o", store], capsys)[0] == 0
        batch = HDF5Source(store).read(np.arange(3))
        assert batch["data"].shape[1:] == expect and batch["label"].tolist() == [0, 1, 2]
    sound = HDF5Source(str(tmp_path / "s.h5")).read(np.array([0]))["data"][0]
    assert sound.dtype == np.float32  # PCM scaled to [-1, 1)
    np.testing.assert_allclose(sound[:2] * 32768, [[0, 1], [2, 3]])
    text = HDF5Source(str(tmp_path / "t.h5")).read(np.array([2]))["data"][0]
    assert text == b"word " * 3  # strings are stored as UTF-8 bytes
    with pytest.raises(ValueError, match=r"unsupported file type '\.doc'"):
        decode_file(str(tmp_path / "x.doc"))


def test_build_from_npz(tmp_path, capsys):
    npz = tmp_path / "arrays.npz"
    np.savez(npz, x=np.arange(20.0).reshape(10, 2), y=np.arange(10) % 2)
    store = str(tmp_path / "n.h5")
    code, out, _ = run(["build", str(npz), "-o", store, "--layout", "arrays"], capsys)
    assert code == 0 and "wrote 10 rows" in out
    assert HDF5Source(store).read(np.array([9]))["x"].tolist() == [[18.0, 19.0]]


def test_info_describes_the_store(tmp_path, capsys):
    from ladle.store import write_store

    store = str(tmp_path / "s.h5")
    write_store(store, {"data": np.zeros((12, 2, 3), np.float32), "label": np.arange(12) % 3},
                chunk_rows=5, annotations={"data_index": [0, 1], "label": [1, 1]},
                attrs={"class_names": ["a", "b", "c"]}, progress=False)
    code, out, _ = run(["info", store], capsys)
    assert code == 0
    assert "/data  Table  12 rows  chunks of 5 rows  blosc2:lz4 level 5 +shuffle" in out
    assert "data             float32    (2, 3)" in out
    assert "label counts: 0 (a): 4, 1 (b): 4, 2 (c): 4" in out
    assert "attr class_names = ['a', 'b', 'c']" in out
    assert "/data_annot  Table  2 rows" in out


def test_iterate_reports_throughput(tmp_path, capsys):
    from ladle.store import write_store

    store = str(tmp_path / "s.h5")
    write_store(store, {"x": np.zeros((100, 8), np.float32), "y": np.arange(100) % 2},
                layout="arrays", progress=False)
    code, out, err = run(["iterate", store, "--batch-size", "16", "--shuffle", "--epochs", "2",
                          "--fields", "x"], capsys)
    assert code == 0, err
    assert out.startswith("200 samples (14 batches, 2 epoch(s)) in ")
    assert "samples/s" in out and "MB/s" in out
    code, out, _ = run(["iterate", store, "--node", "/data/x,/data/y", "--order", "block"], capsys)
    assert code == 0 and out.startswith("100 samples")


@pytest.mark.parametrize("argv, message", [
    (["info", "{tmp}/nope.h5"], "ladle info: error: HDF5 store '{tmp}/nope.h5' does not exist"),
    (["info", "{tmp}/notes.txt"],
     "ladle info: error: cannot open '{tmp}/notes.txt' as an HDF5 store"),
    (["iterate", "{tmp}/s.h5", "--node", "/nope"], "ladle iterate: error: node '/nope' is not in"),
    (["iterate", "{tmp}/s.h5", "--where", "x >"],
     "ladle iterate: error: where='x >' is not a valid"),
    (["iterate", "{tmp}/s.h5", "--batch-size", "0"],
     "ladle iterate: error: batch_size=0 must be >= 1"),
    (["build", "{tmp}/nope.csv", "-o", "{tmp}/o.h5"],
     "ladle build: error: '{tmp}/nope.csv' does not"),
    (["build", "{tmp}/notes.txt", "-o", "{tmp}/o.h5"],
     "ladle build: error: '{tmp}/notes.txt' is neither a .csv inventory nor an .npz"),
    (["build", "{tmp}/inv.csv", "-o", "{tmp}/s.h5"],
     "ladle build: error: '{tmp}/s.h5' exists; pass --force"),
    (["build", "{tmp}/inv.csv", "-o", "{tmp}/o.h5", "--label-column", "kind"],
     "ladle build: error: no label column 'kind' in"),
    (["build", "{tmp}/inv.csv", "-o", "{tmp}/o.h5", "--path-column", "where"],
     "ladle build: error: no path column in"),
])
def test_user_errors_are_one_line_and_exit_2(tmp_path, capsys, argv, message):
    from ladle.store import write_store

    write_store(str(tmp_path / "s.h5"), {"x": np.zeros((4, 2))}, progress=False)
    (tmp_path / "notes.txt").write_text("hello")
    write_csv(tmp_path / "inv.csv", [("a.npy", 1)])
    code, out, err = run([a.format(tmp=tmp_path) for a in argv], capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert err.strip().startswith(message.format(tmp=tmp_path)), err


@pytest.mark.parametrize("command", ["build", "info", "iterate", "demo"])
def test_help_on_every_command(capsys, command):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: ladle {command}")


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "build" in capsys.readouterr().err


def test_debug_shows_the_traceback(tmp_path):
    with pytest.raises(FileNotFoundError):
        main(["--debug", "info", str(tmp_path / "nope.h5")])


def test_demo_command_and_console_script(capsys):
    assert main(["demo", "--epochs", "3"]) == 0
    out = capsys.readouterr().out
    assert "store: 1797 digits written" in out and "epoch 3: test accuracy" in out
    scripts = importlib.metadata.entry_points(group="console_scripts")
    assert any(ep.name == "ladle" and ep.value == "ladle.cli:main" for ep in scripts)


def test_info_on_an_arrays_group_with_a_label_array(tmp_path, capsys):
    path = str(tmp_path / "a.h5")
    with tables.open_file(path, "w") as h5:
        h5.create_array("/", "label", obj=np.array([1, 1, 2]))
    code, out, _ = run(["info", path], capsys)
    assert code == 0 and "label counts: 1: 2, 2: 1" in out
