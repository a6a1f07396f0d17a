"""Photos to FaceNet embeddings: reading, detecting, aligning, embedding, target making.

A photo is read with its EXIF rotation applied and turned into 8-bit RGB
(RGBA and palette images over white, grayscale, CMYK and 16-bit images
converted). facenet-pytorch's MTCNN finds the faces on a copy whose longest
side is at most ``max_side`` pixels (detection cost grows with image area; the
box is scaled back); the largest face is cropped from the full photo with a
margin and resized to 160×160. FaceNet's input normalisation is the fixed
``(x - 127.5) / 128`` that the 2018 models were trained with (the per-image
"prewhitening" of older models separates the faces-pairs set less well).

Several photos of one person give one target: the mean of their unit
embeddings, re-normalised to unit length. That is the unit vector with the
least summed squared distance to the photos' embeddings, and it lies on the
sphere where every candidate face's embedding lies, so a distance of 0 stays
reachable.

Library code never prints: warnings (several faces in a photo) are returned.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

IMAGE_SIZE = 160
MARGIN = 14  # pixels of the 160x160 crop; best separation of faces-pairs among 0, 14, 32
MAX_SIDE = 1024
# L2 distance between unit embeddings under which FaceNet (CASIA-WebFace) takes two faces for
# one person: the best threshold of `bench weights verify facenet-casia` on faces-pairs
# (accuracy 1.000 at 1.129; same-person pairs at most 1.078, different people from 1.180).
SAME_PERSON_THRESHOLD = 1.13


class FaceInputError(ValueError):
    """A photo that cannot serve as a face; the message names the file and the reason."""


def _to_rgb(im: Image.Image) -> Image.Image:
    """8-bit RGB from any mode Pillow opens (16-bit, float, alpha, palette, CMYK)."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        if im.mode.startswith("I;16") or arr.max(initial=0) > 255:
            arr = arr / 257.0  # 16-bit range to 8-bit
        elif im.mode == "F" and arr.max(initial=0) <= 1.0:
            arr = arr * 255.0
        im = Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8), "L")
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        im.mode == "P" and "transparency" in im.info
    ):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return im if im.mode == "RGB" else im.convert("RGB")


def check_photo_file(path: str | os.PathLike) -> Path:
    """``path`` as a ``Path``; ``FaceInputError`` if it is a folder or does not exist."""
    path = Path(path)
    if path.is_dir():
        raise FaceInputError(f"{path} is a folder; give a photo file")
    if not path.is_file():
        raise FaceInputError(f"{path}: no such file")
    return path


def load_photo(path: str | os.PathLike) -> Image.Image:
    """Read a photo as upright 8-bit RGB.

    Args:
        path: An image file Pillow can read.

    Returns:
        A fully loaded RGB ``PIL.Image``.

    """
    path = check_photo_file(path)
    try:
        with Image.open(path) as im:
            im.load()  # truncated files fail here (Pillow does not pad them by default)
            upright = ImageOps.exif_transpose(im)
            return _to_rgb(upright)
    except UnidentifiedImageError:
        raise FaceInputError(f"{path}: not an image Pillow can read") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise FaceInputError(f"{path}: unreadable image ({exc})") from None


@dataclass(frozen=True)
class AlignedFace:
    """The face chosen in one photo.

    Attributes:
        path: The photo.
        face: Crop ``[3, 160, 160]``, float32 RGB in 0..255.
        box: ``(x0, y0, x1, y1)`` of the detected face in the photo's pixels.
        probability: MTCNN's face probability.
        faces_found: How many faces MTCNN found (the largest is used).
        warnings: What the caller may want to tell the user.
        region: ``(x0, y0, x1, y1)``, end exclusive: the pixels of the upright photo
            that ``face`` was resized from (``box`` with the margin, inside the photo).

    """

    path: Path
    face: torch.Tensor
    box: tuple[float, float, float, float]
    probability: float
    faces_found: int
    warnings: tuple[str, ...] = ()
    region: tuple[int, int, int, int] | None = None


def crop_region(
    box: Sequence[float], width: int, height: int, margin: int = MARGIN, size: int = IMAGE_SIZE
) -> tuple[int, int, int, int]:
    """The pixels facenet-pytorch's ``extract_face`` cuts for a detected face.

    The margin is given in pixels of the ``size``-pixel crop, so the box grows by
    ``margin · side / (size − margin)`` along each axis, half on each side, and is
    clipped to the photo; coordinates are truncated to integers as the library does.

    Args:
        box: ``(x0, y0, x1, y1)`` of the face in the photo's pixels (floats).
        width: The photo's width in pixels.
        height: The photo's height in pixels.
        margin: Margin in pixels of the final crop.
        size: Side of the final crop.

    Returns:
        ``(x0, y0, x1, y1)``, end exclusive.

    """
    x0, y0, x1, y1 = (float(v) for v in box)
    grow_x = margin * (x1 - x0) / (size - margin)
    grow_y = margin * (y1 - y0) / (size - margin)
    return (
        int(max(x0 - grow_x / 2, 0)),
        int(max(y0 - grow_y / 2, 0)),
        int(min(x1 + grow_x / 2, width)),
        int(min(y1 + grow_y / 2, height)),
    )


class FaceAligner:
    """MTCNN detection plus a margin crop resized to 160×160.

    Args:
        device: Where MTCNN runs.
        margin: Margin in pixels of the final crop (facenet-pytorch's convention).
        max_side: Longest side of the copy MTCNN searches; larger photos are shrunk
            for detection only (faces under about 20 px in that copy are missed).

    """

    def __init__(
        self, device: str | torch.device = "cpu", margin: int = MARGIN, max_side: int = MAX_SIDE
    ) -> None:
        from facenet_pytorch import MTCNN

        self.margin = margin
        self.max_side = max_side
        self.mtcnn = MTCNN(image_size=IMAGE_SIZE, margin=margin, post_process=False, device=device)

    def detect(self, photo: Image.Image) -> tuple[np.ndarray, np.ndarray]:
        """Faces in ``photo``, largest first.

        Returns:
            ``(boxes [K, 4], probabilities [K])`` in the photo's pixels; ``K`` may be 0.

        """
        scale = min(1.0, self.max_side / max(photo.size))
        # MTCNN's image pyramid starts at its smallest face size: smaller images
        # (e.g. a 16-px generator) are enlarged to it rather than failing inside MTCNN.
        scale = max(scale, self.mtcnn.min_face_size / min(photo.size))
        small = photo
        if scale != 1.0:
            size = (max(1, round(photo.width * scale)), max(1, round(photo.height * scale)))
            small = photo.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
        boxes, probs = self.mtcnn.detect(small)
        if boxes is None:
            return np.zeros((0, 4)), np.zeros(0)
        return np.asarray(boxes, dtype=np.float64) / scale, np.asarray(probs, dtype=np.float64)

    def align(self, path: str | os.PathLike) -> AlignedFace:
        """Detect and crop the largest face of the photo at ``path``.

        Raises:
            FaceInputError: Unreadable file, or no face found.

        """
        from facenet_pytorch import extract_face

        path = Path(path)
        photo = load_photo(path)
        boxes, probs = self.detect(photo)
        if len(boxes) == 0:
            raise FaceInputError(f"{path}: no face found")
        box = boxes[0]
        warnings = ()
        if len(boxes) > 1:
            w, h = box[2] - box[0], box[3] - box[1]
            warnings = (
                f"{path}: {len(boxes)} faces found; using the largest ({w:.0f}x{h:.0f} px at "
                f"{box[0]:.0f},{box[1]:.0f})",
            )
        face = extract_face(photo, box, IMAGE_SIZE, self.margin)  # [3, 160, 160], 0..255
        region = crop_region(box, photo.width, photo.height, self.margin)
        return AlignedFace(
            path,
            face,
            tuple(float(v) for v in box),
            float(probs[0]),
            len(boxes),
            warnings,
            region,
        )


def standardise(faces: torch.Tensor) -> torch.Tensor:
    """FaceNet's input normalisation: ``(x - 127.5) / 128`` for RGB in 0..255."""
    return (faces - 127.5) / 128.0


@torch.inference_mode()
def embed_faces(model: torch.nn.Module, faces: torch.Tensor, batch: int = 32) -> np.ndarray:
    """Embeddings of aligned faces.

    Args:
        model: FaceNet from ``load_facenet``.
        faces: ``[N, 3, 160, 160]`` RGB in 0..255.
        batch: Faces per forward pass.

    Returns:
        ``[N, 512]`` float32, unit rows.

    """
    if faces.ndim != 4 or tuple(faces.shape[1:]) != (3, IMAGE_SIZE, IMAGE_SIZE):
        raise ValueError(f"faces: expected shape [N, 3, 160, 160], got {list(faces.shape)}")
    device = next(model.parameters()).device
    out = [
        model(standardise(faces[i : i + batch].to(device, torch.float32))).cpu()
        for i in range(0, len(faces), batch)
    ]
    return torch.cat(out).numpy() if out else np.zeros((0, 512), np.float32)


@dataclass(frozen=True)
class Target:
    """The embedding a face search aims at.

    Attributes:
        embedding: ``[512]`` float32, unit norm.
        files: The photos it came from.
        spread: Largest distance from one photo's embedding to ``embedding`` (0 for one photo).
        warnings: Messages about the photos (several faces in one; two photos farther
            apart than ``SAME_PERSON_THRESHOLD``, probably of two people).
        max_pair_distance: Largest distance between two photos' embeddings (0 for one photo).
        regions: Per photo, the pixels FaceNet saw (``AlignedFace.region``).

    """

    embedding: np.ndarray
    files: tuple[Path, ...]
    spread: float
    warnings: tuple[str, ...]
    max_pair_distance: float = 0.0
    regions: tuple[tuple[int, int, int, int] | None, ...] = ()


def target_from_photos(
    paths: Sequence[str | os.PathLike], model: torch.nn.Module, aligner: FaceAligner
) -> Target:
    """One target embedding from one or more photos of one person.

    Args:
        paths: Photo files.
        model: FaceNet from ``load_facenet``.
        aligner: The detector and cropper.

    Returns:
        The re-normalised mean embedding of the photos' largest faces; its warnings
        name every pair of photos farther apart than ``SAME_PERSON_THRESHOLD``.

    """
    if not paths:
        raise FaceInputError("no target photos given")
    faces = [aligner.align(p) for p in paths]
    emb = embed_faces(model, torch.stack([f.face for f in faces]))  # [K, 512]
    mean = emb.mean(axis=0)
    norm = float(np.linalg.norm(mean))
    if norm < 1e-6:
        raise FaceInputError("the target photos' embeddings cancel out; use photos of one person")
    mean = (mean / norm).astype(np.float32)
    spread = float(np.linalg.norm(emb - mean, axis=1).max()) if len(emb) > 1 else 0.0
    pairs = np.linalg.norm(emb[:, None] - emb[None], axis=2)  # [K, K]
    warnings = tuple(w for f in faces for w in f.warnings) + _two_people(faces, pairs)
    files = tuple(f.path for f in faces)
    regions = tuple(f.region for f in faces)
    return Target(mean, files, spread, warnings, float(pairs.max()), regions)


def _two_people(faces: Sequence[AlignedFace], pairs: np.ndarray) -> tuple[str, ...]:
    """Warnings for the photo pairs whose distance ``pairs [K, K]`` says two people."""
    k = len(faces)
    return tuple(
        f"target photos {faces[i].path} and {faces[j].path} are {pairs[i, j]:.3f} apart for "
        f"FaceNet, over its same-person threshold {SAME_PERSON_THRESHOLD}: probably two "
        "people, averaged into one target; give photos of one person"
        for i in range(k)
        for j in range(i + 1, k)
        if pairs[i, j] > SAME_PERSON_THRESHOLD
    )


def photo_distance(
    path_a: str | os.PathLike,
    path_b: str | os.PathLike,
    model: torch.nn.Module,
    aligner: FaceAligner,
) -> tuple[float, tuple[str, ...]]:
    """FaceNet distance between the largest faces of two photos.

    Given a one-photo target and another photo of that person this is the
    baseline a generated face must beat to "deceive FaceNet" (the study's
    quality check); ``FaceSimilarity`` measures it from the target embedding.

    Returns:
        ``(L2 distance between unit embeddings, warnings)``.

    """
    a, b = aligner.align(path_a), aligner.align(path_b)
    return face_distance(a, b, model), a.warnings + b.warnings


def face_distance(a: AlignedFace, b: AlignedFace, model: torch.nn.Module) -> float:
    """FaceNet L2 distance between two aligned faces' unit embeddings."""
    emb = embed_faces(model, torch.stack([a.face, b.face]))
    return float(np.linalg.norm(emb[0] - emb[1]))
