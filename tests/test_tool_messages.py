"""Generator and face tools: messages that say what to do, and no folder left by a refusal."""

from __future__ import annotations

import numpy as np
import pytest

from bench.cli import main
from bench.datasets import DataError, LabelledImages


def test_a_file_that_is_no_state_dict_gets_no_unsafe_advice(tmp_path):
    """torch's text advised re-running torch.load with weights_only=False."""
    from bench.problems.facenet_weights import WeightsError, load_facenet

    table = tmp_path / "master.csv"
    table.write_text("a,b\n1,2\n")
    with pytest.raises(WeightsError, match="not a PyTorch state dict file") as info:
        load_facenet(table)
    assert "weights_only" not in str(info.value) and "\n" not in str(info.value)


def test_a_file_that_is_no_pack_gets_no_unsafe_advice(tmp_path):
    """NumPy's text advised allow_pickle=, or pickle.load()."""
    from bench.generators.stylegan2_data import read_face_pack

    plan = tmp_path / "plan.toml"
    plan.write_text("budget = 5\n")
    with pytest.raises(DataError, match=r"not a readable face pack .*bench pack-dataset") as info:
        read_face_pack(plan)
    assert "pickle" not in str(info.value)


def test_training_refused_for_its_data_leaves_no_folder(tmp_path, capsys):
    out = tmp_path / "new" / "mnist"
    args = ["train-generator", "dcgan-mnist", "--data-dir", str(tmp_path / "nope")]
    assert main([*args, "--out", str(out), "--no-progress"]) == 2
    assert "bench: error:" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()


def test_the_ship_it_hint_names_the_training_folder(tmp_path, capsys, monkeypatch):
    """After --out, the hint said `bench export-generator dcgan-mnist`, which then found no
    checkpoint in runs/train/dcgan-mnist."""
    from bench.generators import dcgan_training

    from bench.commands import generators

    images = np.zeros((40, 28, 28, 1), np.uint8)
    data = LabelledImages(images, None, images[:2], None, "40 blank digits")
    monkeypatch.setattr(generators, "_training_data", lambda *a: data)
    epoch = {"epoch": 1, "loss_d": 1.0, "loss_g": 1.0, "d_real": 0.5, "d_fake": 0.5, "seconds": 1}
    monkeypatch.setattr(dcgan_training, "train", lambda *a, **k: {"epochs": [epoch]})
    out = tmp_path / "mine"
    assert main(["train-generator", "dcgan-mnist", "--epochs", "1", "--out", str(out)]) == 0
    assert f"`bench export-generator dcgan-mnist --train-dir {out}`" in capsys.readouterr().out
