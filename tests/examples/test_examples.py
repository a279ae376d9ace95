"""The scripts under examples/ run, on subsets, through the core's simulation."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def example(name):
    spec = importlib.util.spec_from_file_location(f"madvq_example_{name}",
                                                  EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_eeg_frames(tmp_path, capsys):
    eeg = example("eeg_frames")
    assert eeg.load_eeg().shape == (800, 4)
    out = tmp_path / "eeg.png"
    figures = eeg.main(["--backend", "amaranth", "--frames", "12", "--out", str(out)])
    assert figures["frames"] == 12 and figures["bits_per_sample"] == 0.25
    assert "every result matches the golden model" in capsys.readouterr().out
    assert out.read_bytes().startswith(b"\x89PNG")
    plain = eeg.main(["--backend", "golden", "--out", ""])
    shaped = eeg.main(["--backend", "golden", "--mean-removed", "--out", ""])
    assert plain["frames"] == 200 and shaped["bits_per_frame"] == 12
    assert shaped["snr_original_db"] > plain["snr_original_db"] > 0


def test_snr():
    eeg = example("eeg_frames")
    assert eeg.snr_db([3.0, 4.0], [3.0, 4.0]) == np.inf
    assert eeg.snr_db([1.0, 1.0], [1.1, 0.9]) == pytest.approx(20.0)


def test_digits_classifier(capsys):
    pytest.importorskip("sklearn")
    digits = example("digits_classifier")
    small = digits.main(["--per-class", "1", "--backend", "amaranth",
                         "--templates-per-cycle", "2", "--test-images", "20", "--compare", ""])
    assert small["templates"] == 10 and small["confusion"].sum() == 20
    assert "every result matching the golden model" in capsys.readouterr().out
    whole = digits.main(["--backend", "golden", "--compare", "1"])
    assert whole["confusion"].sum() == 540 and whole["templates"] == 40
    assert whole["accuracy"] > 0.9 and whole["compared"][1] < whole["accuracy"]


def test_digits_knn(capsys):
    pytest.importorskip("sklearn")
    knn = example("digits_knn")
    small = knn.main(["--per-class", "2", "--top-k", "3", "--backend", "amaranth",
                      "--templates-per-cycle", "4", "--test-images", "12", "--compare", ""])
    assert small["templates"] == 20
    out = capsys.readouterr().out
    assert "every result matching the golden model" in out
    assert "nearest prototype: accuracy" in out and "vote of the 3 nearest" in out
    whole = knn.main(["--backend", "golden", "--top-k", "5", "--compare", "1,5"])
    # K = 1 votes are the nearest prototype.
    assert whole["compared"][1] == whole["accuracy_nearest"] > 0.9
    assert whole["accuracy_vote"] == whole["compared"][5]


def test_knn_vote_ties_go_to_the_nearest():
    knn = example("digits_knn")
    labels = np.array([0, 1, 2, 3])
    assert knn.vote(labels, np.array([[1, 2, 2, 1], [3, 0, 0, 3], [2, 1, 0, 3]])).tolist() \
        == [1, 3, 2]
