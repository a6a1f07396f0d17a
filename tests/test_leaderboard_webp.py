"""``bench leaderboard --image-format webp``: the same board with every picture as WebP.

Built twice from the hand-made face campaign of ``leaderboard_face_campaign``: once as
PNG (the default) and once as WebP, so that the WebP board can be compared with the
PNG one picture by picture.
"""

import re

import numpy as np
import pytest
from leaderboard_face_campaign import make_face_campaign
from PIL import Image
from test_leaderboard import parse

from bench.cli import main
from bench.leaderboard import build_leaderboard
from bench.leaderboard.pictures import (
    IMAGE_FORMATS,
    WEBP_QUALITY,
    check_format,
    copy_picture,
    save_picture,
)
from bench.spec import SpecError

PAGES = ("index.html", "problem-face-seed.html", "problem-face-photo.html")


@pytest.fixture(scope="module")
def boards(tmp_path_factory):
    campaign = make_face_campaign(tmp_path_factory.mktemp("faces") / "c")
    out = tmp_path_factory.mktemp("boards")
    png = build_leaderboard(campaign, out / "png")
    webp = build_leaderboard(campaign, out / "webp", image_format="webp")
    return png, webp


def pixels(path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGBA"))


def test_every_picture_of_a_webp_board_is_webp_and_every_link_resolves(boards):
    _, webp = boards
    assert not list(webp.out.rglob("*.png"))
    pictures = list(webp.out.rglob("*.webp"))
    assert len(pictures) > 10
    for path in pictures:
        with Image.open(path) as im:
            assert im.format == "WEBP", path
    for name in PAGES:
        links = parse(webp.out / name).links
        assert any(link.endswith(".webp") for link in links), name
        for link in links:
            assert (webp.out / link).is_file(), f"{name}: broken link {link}"
    markdown = (webp.out / "README.md").read_text()
    for link in re.findall(r"\]\(([^)]+)\)", markdown) + re.findall(r'src="([^"]+)"', markdown):
        assert not link.endswith(".png") and (webp.out / link).exists(), link


def test_the_webp_board_names_the_same_files_as_the_png_board(boards):
    png, webp = boards
    as_png = {p.relative_to(webp.out).with_suffix(".png") for p in webp.out.rglob("*.webp")}
    assert as_png == {p.relative_to(png.out) for p in png.out.rglob("*.png")}
    assert {k: v.removesuffix(".webp") for k, v in webp.figures.items()} == {
        k: v.removesuffix(".png") for k, v in png.figures.items()
    }
    # the tables do not depend on the picture format
    for table in ("runs.csv", "ranks.csv", "diversity-face-seed.csv"):
        assert (png.out / "tables" / table).read_text() == (webp.out / "tables" / table).read_text()


def test_figures_are_lossless_and_pictures_close(boards):
    png, webp = boards
    for key, path in png.figures.items():  # figures: the same pixels
        np.testing.assert_array_equal(pixels(webp.out / webp.figures[key]), pixels(png.out / path))
    pictures = [p for p in png.out.joinpath("images").rglob("*.png")]
    assert len(pictures) >= 5
    for path in pictures:  # generated images and photos: lossy, close
        ours = pixels(webp.out / path.relative_to(png.out).with_suffix(".webp")).astype(float)
        theirs = pixels(path).astype(float)
        assert ours.shape == theirs.shape
        assert np.abs(ours - theirs).mean() < 4, path


def test_save_and_copy_picture(tmp_path):
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, (40, 30, 1), dtype=np.uint8)
    png = save_picture(grey, tmp_path / "a.png")
    with Image.open(png) as im:
        assert im.mode == "L" and im.format == "PNG"
        np.testing.assert_array_equal(np.asarray(im), grey[..., 0])
    copy = copy_picture(png, tmp_path / "b.png")
    assert copy.read_bytes() == png.read_bytes()  # a PNG kept at its size: byte for byte
    small = copy_picture(png, tmp_path / "c.png", max_side=20)
    with Image.open(small) as im:
        assert im.size == (15, 20)  # aspect kept
    y, x = np.mgrid[0:64, 0:64] / 63  # a smooth picture, as faces are between their edges
    smooth = (255 * np.stack([x, y, 0.5 + 0.5 * np.sin(6 * x * y)], -1)).astype(np.uint8)
    src = save_picture(smooth, tmp_path / "d.png")
    lossy = copy_picture(src, tmp_path / "d.webp")
    with Image.open(lossy) as im:
        assert im.format == "WEBP" and im.size == (64, 64)
        shown = np.asarray(im.convert("RGB")).astype(float)
    assert 0 < np.abs(shown - smooth).mean() < 3  # lossy (quality 90), yet close
    assert WEBP_QUALITY == 90


def test_an_unknown_image_format_is_refused(tmp_path, capsys):
    assert check_format("webp") == "webp"
    with pytest.raises(SpecError, match="unknown image format 'gif'; valid: png, webp"):
        build_leaderboard(tmp_path / "c", tmp_path / "lb", image_format="gif")
    assert not (tmp_path / "lb").exists()
    with pytest.raises(SystemExit) as exc:
        main(["leaderboard", str(tmp_path), "--image-format", "gif"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "argument --image-format: invalid choice: 'gif'" in err
    choices = re.search(r"\(choose from (.*)\)", err).group(1)
    assert choices.replace("'", "") == ", ".join(IMAGE_FORMATS)  # the CLI's list is the module's
