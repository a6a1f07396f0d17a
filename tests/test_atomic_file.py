"""Atomic writes: the old file or the new one, never half; the same bytes as a direct write."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

from bench.atomic_file import write_atomically


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_torch_files_have_the_bytes_of_a_direct_save(tmp_path):
    """torch.save names its archive after the file: a temporary name changed the sha256."""
    state = {"w": torch.arange(6.0).reshape(2, 3)}
    torch.save(state, tmp_path / "direct.pt")
    (tmp_path / "a").mkdir()
    write_atomically(tmp_path / "a" / "direct.pt", lambda tmp: torch.save(state, tmp))
    assert _sha(tmp_path / "a" / "direct.pt") == _sha(tmp_path / "direct.pt")
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["direct.pt"]  # no leftover


def test_a_failed_write_keeps_the_old_file_and_leaves_nothing(tmp_path):
    target = tmp_path / "f.txt"
    target.write_text("old")

    def half_then_fail(tmp):
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomically(target, half_then_fail)
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_a_writer_that_adds_its_own_extension(tmp_path):
    target = tmp_path / "pack.bin"  # np.savez adds .npz to a name without it
    write_atomically(target, lambda tmp: np.savez(tmp, x=np.arange(3)), suffix=".npz")
    assert np.load(target)["x"].tolist() == [0, 1, 2]
    assert [p.name for p in tmp_path.iterdir()] == ["pack.bin"]
