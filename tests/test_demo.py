from ladle import demo


def test_demo_trains_to_a_useful_accuracy(capsys):
    assert demo.main(["--epochs", "4"]) == 0
    out = capsys.readouterr().out
    lines = [l for l in out.splitlines() if l.startswith("epoch")]
    assert len(lines) == 4 and "samples/s" in lines[-1]
    assert float(lines[-1].split("accuracy ")[1].split()[0]) > 0.85
