"""Photos to targets: every awkward input a user may hand over, made from the real photos."""

from __future__ import annotations

import numpy as np
import pytest
from bench.problems.face_targets import (
    FaceInputError,
    crop_region,
    embed_faces,
    load_photo,
    photo_distance,
    target_from_photos,
)
from PIL import Image

PHOTO = "img10.jpg"  # one face, portrait orientation, small (fast to detect)
SAME_PERSON = "img5.jpg"  # master.csv: img5/img10 Yes


@pytest.fixture(scope="module")
def photos(data_dir):
    return data_dir / "faces-pairs"


@pytest.fixture(scope="module")
def upright(photos):
    return load_photo(photos / PHOTO)


@pytest.fixture(scope="module")
def reference(facenet, face_aligner, photos):
    """Embedding [512] of the untouched photo."""
    return embed_faces(facenet, face_aligner.align(photos / PHOTO).face[None])[0]


def _embedding(facenet, face_aligner, path):
    return embed_faces(facenet, face_aligner.align(path).face[None])[0]


def test_exif_rotation_is_applied(upright, tmp_path, facenet, face_aligner, reference):
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display": pixels stored turned counter-clockwise
    upright.transpose(Image.Transpose.ROTATE_90).save(path, quality=95, exif=exif)
    assert Image.open(path).size == upright.size[::-1]
    assert load_photo(path).size == upright.size
    assert np.linalg.norm(_embedding(facenet, face_aligner, path) - reference) < 0.2


def test_rgba_is_composited(upright, tmp_path, facenet, face_aligner, reference):
    rgba = upright.convert("RGBA")
    alpha = np.full(upright.size[::-1], 255, np.uint8)
    alpha[:40, :40] = 0  # a transparent corner
    rgba.putalpha(Image.fromarray(alpha))
    rgba.save(tmp_path / "face.png")
    photo = load_photo(tmp_path / "face.png")
    assert photo.mode == "RGB" and photo.getpixel((0, 0)) == (255, 255, 255)
    emb = _embedding(facenet, face_aligner, tmp_path / "face.png")
    assert np.linalg.norm(emb - reference) < 0.05


def test_grayscale_and_16_bit(upright, tmp_path, facenet, face_aligner, reference):
    grey = upright.convert("L")
    grey.save(tmp_path / "grey.png")
    deep = Image.fromarray(np.asarray(grey).astype(np.uint16) * 257)  # full 16-bit range
    deep.save(tmp_path / "grey16.png")
    assert Image.open(tmp_path / "grey16.png").mode.startswith("I")
    assert np.array_equal(np.asarray(load_photo(tmp_path / "grey16.png")),
                          np.asarray(load_photo(tmp_path / "grey.png")))
    emb = _embedding(facenet, face_aligner, tmp_path / "grey16.png")
    assert np.linalg.norm(emb - reference) < 0.6  # colour matters a little, identity stays


def test_cmyk_jpeg(upright, tmp_path, facenet, face_aligner, reference):
    upright.convert("CMYK").save(tmp_path / "cmyk.jpg", quality=95)
    assert Image.open(tmp_path / "cmyk.jpg").mode == "CMYK"
    assert load_photo(tmp_path / "cmyk.jpg").mode == "RGB"
    emb = _embedding(facenet, face_aligner, tmp_path / "cmyk.jpg")
    assert np.linalg.norm(emb - reference) < 0.2


def test_truncated_file_is_a_clear_error(photos, tmp_path):
    data = (photos / PHOTO).read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(FaceInputError, match=r"cut\.jpg: unreadable image .*truncated"):
        load_photo(tmp_path / "cut.jpg")


def test_not_an_image_and_missing_file(photos, tmp_path):
    (tmp_path / "notes.jpg").write_text("this is not a photo")
    with pytest.raises(FaceInputError, match=r"notes\.jpg: not an image"):
        load_photo(tmp_path / "notes.jpg")
    with pytest.raises(FaceInputError, match=r"absent\.jpg: no such file"):
        load_photo(tmp_path / "absent.jpg")


def test_no_face_names_the_file(upright, tmp_path, face_aligner):
    # the photo's own pixels in a shuffled order: its colours, no face
    pixels = np.asarray(upright.resize((400, 540))).reshape(-1, 3)
    shuffled = np.random.default_rng(0).permutation(pixels).reshape(540, 400, 3)
    Image.fromarray(shuffled).save(tmp_path / "shuffled.png")
    with pytest.raises(FaceInputError, match=r"shuffled\.png: no face found"):
        face_aligner.align(tmp_path / "shuffled.png")


def test_several_faces_use_the_largest_and_say_so(photos, face_aligner):
    aligned = face_aligner.align(photos / "couple.jpg")
    assert aligned.faces_found >= 2
    assert len(aligned.warnings) == 1 and "using the largest" in aligned.warnings[0]
    boxes, _ = face_aligner.detect(load_photo(photos / "couple.jpg"))
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    x0, y0, x1, y1 = aligned.box
    assert np.isclose((x1 - x0) * (y1 - y0), areas.max())


@pytest.mark.parametrize("name", [PHOTO, "couple.jpg"])
def test_region_is_the_pixels_facenet_saw(photos, face_aligner, name):
    """The recorded region, cut and resized as the leaderboard does, is the aligned face."""
    from bench.leaderboard.target_images import photo_crop

    aligned = face_aligner.align(photos / name)
    photo = load_photo(photos / name)
    x0, y0, x1, y1 = aligned.region
    bx0, by0, bx1, by1 = aligned.box
    assert 0 <= x0 <= bx0 and 0 <= y0 <= by0 and bx1 <= x1 <= photo.width and by1 <= y1
    assert y1 <= photo.height and (x1 - x0) > (bx1 - bx0)  # the margin widens the box
    shown = photo_crop(str(photos / name), list(aligned.region))  # [160, 160, 3]
    face = aligned.face.permute(1, 2, 0).numpy()  # [160, 160, 3], 0..255
    np.testing.assert_array_equal(shown, face.astype(np.uint8))
    assert np.array_equal(face, np.round(face))  # integers: nothing lost in the comparison


def test_crop_region_grows_by_the_margin_and_stays_in_the_photo():
    # a 146-px box with margin 14 of 160: 14 px more per axis, 7 on each side
    assert crop_region((100, 50, 246, 196), 400, 300, margin=14) == (93, 43, 253, 203)
    assert crop_region((2.9, 1.5, 148.9, 147.5), 150, 150, margin=14) == (0, 0, 150, 150)
    assert crop_region((10, 10, 50, 50), 400, 300, margin=0) == (10, 10, 50, 50)


def test_target_from_one_and_from_several_photos(photos, facenet, face_aligner, reference):
    one = target_from_photos([photos / PHOTO], facenet, face_aligner)
    np.testing.assert_allclose(one.embedding, reference, atol=1e-6)
    assert one.spread == 0.0
    assert one.regions == (face_aligner.align(photos / PHOTO).region,)
    two = target_from_photos([photos / PHOTO, photos / SAME_PERSON], facenet, face_aligner)
    assert np.isclose(np.linalg.norm(two.embedding), 1.0, atol=1e-5)
    other = _embedding(facenet, face_aligner, photos / SAME_PERSON)
    gap = float(np.linalg.norm(reference - other))
    # the re-normalised mean lies between the two, at the same distance from each
    for emb in (reference, other):
        assert np.isclose(np.linalg.norm(emb - two.embedding), two.spread, atol=1e-4)
    assert two.spread < gap
    with pytest.raises(FaceInputError, match="no target photos"):
        target_from_photos([], facenet, face_aligner)


def test_photo_distance_is_the_baseline(photos, facenet, face_aligner, reference):
    dist, warnings = photo_distance(photos / PHOTO, photos / SAME_PERSON, facenet, face_aligner)
    other = _embedding(facenet, face_aligner, photos / SAME_PERSON)
    assert np.isclose(dist, np.linalg.norm(reference - other), atol=1e-5)
    assert warnings == ()
    assert dist < 1.1  # the same person, by faces-pairs' threshold
