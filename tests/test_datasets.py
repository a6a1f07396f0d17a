"""Readers of IDX files and face photos, on the real files where they exist."""

import gzip
import io
import tarfile

import numpy as np
import pytest
from PIL import Image

from bench.datasets import (
    DataError,
    load_digits_like,
    load_face_split,
    load_faces,
    load_idx_split,
    read_idx,
)


def _idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape
    )
    return header + array.astype(np.uint8).tobytes()


def test_idx_round_trip_plain_and_gzip(tmp_path):
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "a-idx3-ubyte").write_bytes(_idx_bytes(arr))
    (tmp_path / "a-idx3-ubyte.gz").write_bytes(gzip.compress(_idx_bytes(arr)))
    assert np.array_equal(read_idx(tmp_path / "a-idx3-ubyte"), arr)
    assert np.array_equal(read_idx(tmp_path / "a-idx3-ubyte.gz"), arr)


def test_idx_rejects_bad_magic_and_truncation(tmp_path):
    good = _idx_bytes(np.zeros((4, 5), dtype=np.uint8))
    (tmp_path / "bad").write_bytes(b"\x01\x02" + good[2:])
    (tmp_path / "short").write_bytes(good[:-3])
    (tmp_path / "broken.gz").write_bytes(gzip.compress(good)[:20])
    with pytest.raises(DataError, match="bad magic"):
        read_idx(tmp_path / "bad")
    with pytest.raises(DataError, match="truncated"):
        read_idx(tmp_path / "short")
    with pytest.raises(DataError, match="cannot read"):
        read_idx(tmp_path / "broken.gz")


def test_missing_dataset_says_where_to_get_it(tmp_path):
    with pytest.raises(DataError, match=r"fashion-mnist test images not found.*zalandoresearch"):
        load_idx_split("fashion-mnist", "test", tmp_path)


def test_data_dir_from_flag_or_env(tmp_path, monkeypatch):
    from bench.datasets import data_dir
    monkeypatch.delenv("LATENT_BENCH_DATA", raising=False)
    with pytest.raises(DataError, match="--data-dir"):
        data_dir(None)
    with pytest.raises(DataError, match="does not exist"):
        data_dir(tmp_path / "nope")
    monkeypatch.setenv("LATENT_BENCH_DATA", str(tmp_path))
    assert data_dir(None) == tmp_path


def test_real_mnist_split(data_dir):
    x, y = load_idx_split("mnist", "test", data_dir)
    assert x.shape == (10_000, 28, 28) and x.dtype == np.uint8 and y.shape == (10_000,)
    assert set(np.unique(y)) == set(range(10))
    split = load_digits_like("mnist", data_dir)  # offline: only the test split exists
    assert split.train.shape == (8000, 28, 28, 1) and split.heldout.shape == (2000, 28, 28, 1)
    assert np.array_equal(split.heldout[..., 0], x[8000:])
    assert "no train split" in split.description


def test_real_fashion_split(data_dir):
    split = load_digits_like("fashion-mnist", data_dir)
    assert split.train.shape == (60_000, 28, 28, 1) and split.heldout.shape == (10_000, 28, 28, 1)
    assert np.bincount(split.train_labels).tolist() == [6000] * 10


def test_faces_from_a_folder_skip_unreadable(tmp_path):
    folder = tmp_path / "utkface" / "part"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(3):
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 255, (50, 40, 3), dtype=np.uint8)).save(buf, "JPEG")
        (folder / f"{i}.jpg").write_bytes(buf.getvalue())
    (folder / "9.jpg").write_bytes(b"not a jpeg")
    Image.fromarray(rng.integers(0, 255, (30, 30), dtype=np.uint8)).save(folder / "4.png")
    faces = load_faces(tmp_path, resolution=16)
    assert faces.shape == (4, 16, 16, 3) and faces.dtype == np.uint8
    with pytest.raises(DataError, match="face photos not found"):
        load_faces(tmp_path / "elsewhere")


def test_a_photo_in_the_tar_and_beside_it_is_read_once(tmp_path):
    folder = tmp_path / "utkface"
    folder.mkdir()
    rng = np.random.default_rng(1)
    with tarfile.open(folder / "faces.tar", "w") as tar:
        for i in range(3):
            buf = io.BytesIO()
            Image.fromarray(rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)).save(buf, "JPEG")
            info = tarfile.TarInfo(f"UTKFace/{i}_0_0_2017.jpg.chip.jpg")
            info.size = len(buf.getvalue())
            tar.addfile(info, io.BytesIO(buf.getvalue()))
            if i < 2:  # two of the three also extracted
                (folder / "UTKFace").mkdir(exist_ok=True)
                (folder / "UTKFace" / f"{i}_0_0_2017.jpg.chip.jpg").write_bytes(buf.getvalue())
    assert load_faces(tmp_path, resolution=8).shape == (3, 8, 8, 3)


def test_real_utkface_tar(data_dir):
    faces = load_faces(data_dir, resolution=32, limit=40)
    assert faces.shape == (40, 32, 32, 3)
    assert 40 < faces.mean() < 220  # real photos, not blank


def test_face_split_is_seeded_not_by_name(tmp_path):
    folder = tmp_path / "utkface"
    folder.mkdir()
    for i in range(30):
        Image.fromarray(np.full((8, 8, 3), i * 8, dtype=np.uint8)).save(folder / f"{i:02d}.png")
    split = load_face_split(tmp_path, resolution=8, heldout=10)
    assert split.train.shape == (20, 8, 8, 3) and split.heldout.shape == (10, 8, 8, 3)
    levels = sorted(int(im[0, 0, 0]) // 8 for im in split.heldout)
    assert levels != list(range(20, 30))  # not simply the last names
    again = load_face_split(tmp_path, resolution=8, heldout=10)
    assert np.array_equal(split.heldout, again.heldout)


def test_a_test_split_too_small_to_hold_out_from_is_refused(tmp_path):
    """With only a test split of 2,000 images or fewer, nothing would be left to train on."""
    folder = tmp_path / "mnist"
    folder.mkdir()
    for n in (1500, 2000, 2010):
        images = np.zeros((n, 28, 28), dtype=np.uint8)
        (folder / "t10k-images-idx3-ubyte").write_bytes(_idx_bytes(images))
        (folder / "t10k-labels-idx1-ubyte").write_bytes(_idx_bytes(np.arange(n) % 10))
        if n <= 2000:
            with pytest.raises(DataError, match=f"{n} mnist test images.*cannot hold out 2000"):
                load_digits_like("mnist", tmp_path)
    split = load_digits_like("mnist", tmp_path)  # 2,010: ten to train on
    assert (len(split.train), len(split.heldout)) == (10, 2000)
    assert "first 10 images of the test split" in split.description
    with pytest.raises(DataError, match="cannot hold out -1"):
        load_digits_like("mnist", tmp_path, heldout=-1)
