"""A fixed face crop box per generator, calibrated once with MTCNN (seeds digest §1).

The study replaced per-image face detection by one box: over 10,000 generated
images the MTCNN box coordinates varied by a mean inter-quartile range of 8 px
("under 4%"). Its images were 1024 px, where 8 px is 0.8% of the image, so the
4% can only be relative to the face box (a StyleGAN2 FFHQ face is some 200 px
wide): the mean box then serves every image and no detector runs in the
evaluation loop. ``calibrate_crop`` measures that on ``samples`` images of a
generator (seeded latents) and reports the crop box (the mean detector box with
the same margin as photo alignment, clipped to the image), the IQR of the raw
detector boxes (no margin, no clipping: clipping hides the spread of boxes that
run past the image edge), the mean face side, and how many samples held a face.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from bench.problems.face_targets import IMAGE_SIZE, MARGIN, FaceAligner
from PIL import Image

from bench.cache import cache_dir
from bench.generator import Generator, to_uint8
from bench.provenance import sha256_file


@dataclass(frozen=True)
class CropBox:
    """A generator's face crop box.

    Attributes:
        box: ``(x0, y0, x1, y1)`` in generator pixels, margin included, end exclusive.
        iqr: Inter-quartile range of each coordinate ``(x0, y0, x1, y1)`` of the raw
            MTCNN boxes (no margin, no clipping) over the detected samples (pixels).
            Files written before ``face_side`` existed hold the IQR of the margin-added
            boxes clipped to the image, which reads 0 for a coordinate the clipping
            pins to an edge.
        detected: Samples in which MTCNN found a face.
        samples: Samples examined.
        resolution: The generator's image size.
        seed: Seed of the samples' latents.
        face_side: Mean side of the raw MTCNN boxes (mean of width and height, pixels);
            ``None`` when unknown (a hand-given box, or a file written before it existed).

    """

    box: tuple[int, int, int, int]
    iqr: tuple[float, float, float, float]
    detected: int
    samples: int
    resolution: int
    seed: int
    face_side: float | None = None

    @property
    def mean_iqr_fraction(self) -> float:
        """Mean IQR as a fraction of the image size."""
        return float(np.mean(self.iqr)) / self.resolution

    @property
    def mean_iqr_fraction_of_face(self) -> float | None:
        """Mean IQR as a fraction of the mean face side (the study: under 4%), or ``None``.

        ``None`` when ``face_side`` is unknown (see the class attributes).
        """
        if not self.face_side:
            return None
        return float(np.mean(self.iqr)) / self.face_side

    def save(self, path: Path) -> None:
        """Write the box as JSON."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> CropBox:
        """Read a box written by ``save``; a file without ``face_side`` gives ``None``."""
        data = json.loads(Path(path).read_text())
        side = data.get("face_side")
        return cls(
            tuple(int(v) for v in data["box"]),
            tuple(float(v) for v in data["iqr"]),
            int(data["detected"]),
            int(data["samples"]),
            int(data["resolution"]),
            int(data["seed"]),
            None if side is None else float(side),
        )


def generator_id(name: str, generator: Generator) -> str:
    """``NAME-<12 hex of the weights' sha256>``, or ``NAME`` for a generator without a file."""
    path = getattr(generator, "weight_path", None)
    return f"{name}-{sha256_file(path)[:12]}" if path else name


def calibration_path(filename: str, cache_folder: str) -> Path:
    """A generator's calibration file: this machine's own if made, else the shipped one.

    Shipped generators carry their calibrations beside their weights
    (``generators/weights/FILENAME``); a calibration made here (in the cache)
    takes precedence. Names hold the weights' sha256 prefix (``generator_id``),
    so retrained weights never pick up a stale file. Returns the cache path
    when neither exists: that is where a new calibration goes.
    """
    from bench.generators.zoo import WEIGHTS_DIR

    cached, shipped = cache_dir(cache_folder) / filename, WEIGHTS_DIR / filename
    return shipped if shipped.is_file() and not cached.is_file() else cached


def crop_path(gen_id: str) -> Path:
    """Where the calibrated box of a generator (see ``generator_id``) is read and cached."""
    return calibration_path(f"{gen_id}-crop.json", "crops")


def _with_margin(box: np.ndarray, size: int, margin: int = MARGIN) -> np.ndarray:
    """facenet-pytorch's margin (pixels of the final 160 crop) around ``box``, clipped."""
    w, h = box[2] - box[0], box[3] - box[1]
    mx, my = margin * w / (IMAGE_SIZE - margin), margin * h / (IMAGE_SIZE - margin)
    out = np.array([box[0] - mx / 2, box[1] - my / 2, box[2] + mx / 2, box[3] + my / 2])
    return np.clip(out, 0, size)


def without_margin(box: tuple[int, int, int, int], margin: int = MARGIN) -> np.ndarray:
    """The face box inside a crop box made by ``_with_margin`` (before clipping)."""
    x0, y0, x1, y1 = (float(v) for v in box)
    keep = (IMAGE_SIZE - margin) / IMAGE_SIZE  # face share of the crop's width and height
    cx, cy, w, h = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) * keep, (y1 - y0) * keep
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


def calibrate_crop(
    generator: Generator,
    samples: int = 200,
    seed: int = 0,
    aligner: FaceAligner | None = None,
    chunk: int = 64,
) -> CropBox:
    """Mean MTCNN face box (with margin) over ``samples`` generated images.

    The box is the mean of the margin-added boxes, each clipped to the image,
    rounded. The IQR and the face side are measured on the raw detector boxes.

    Args:
        generator: A face generator (``img_channels`` 1 or 3).
        samples: Latents drawn from N(0, 1) with ``seed``.
        seed: Seed of those latents.
        aligner: MTCNN settings; default ``FaceAligner()``.
        chunk: Images per generator pass.

    Returns:
        The box; raises ``ValueError`` when no sample holds a face.

    """
    if samples < 1:
        raise ValueError(f"samples must be at least 1, got {samples}")
    aligner = aligner or FaceAligner()
    size = int(generator.img_resolution)
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    raw, boxes = [], []  # detector boxes as found, and with margin and clipped
    for start in range(0, samples, chunk):
        z = rng.standard_normal((min(chunk, samples - start), generator.z_dim))
        for img in to_uint8(generator.generate(z, chunk=chunk)):  # [H, W, C] uint8
            rgb = np.repeat(img, 3, axis=2) if img.shape[2] == 1 else img
            found, _ = aligner.detect(Image.fromarray(rgb))
            if len(found):
                raw.append(np.asarray(found[0], dtype=float))
                boxes.append(_with_margin(found[0], size))
    if not boxes:
        raise ValueError(
            f"MTCNN found no face in {samples} samples of this generator: is it a face generator?"
        )
    arr = np.stack(boxes)  # [K, 4] with margin, clipped to [0, size]
    mean = np.rint(arr.mean(axis=0)).astype(int)
    box = (max(0, mean[0]), max(0, mean[1]), min(size, mean[2]), min(size, mean[3]))
    faces = np.stack(raw)  # [K, 4] x0, y0, x1, y1, may run past the image
    q75, q25 = np.percentile(faces, [75, 25], axis=0)
    sides = (faces[:, 2] - faces[:, 0] + faces[:, 3] - faces[:, 1]) / 2  # [K]
    return CropBox(
        tuple(int(v) for v in box),
        tuple(float(v) for v in q75 - q25),
        len(boxes),
        samples,
        size,
        seed,
        float(sides.mean()),
    )
