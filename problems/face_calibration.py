"""Everything the face problem needs to know about a new face generator, made once.

When a face generator is exported (``bench export-generator``), this writes
beside its weights the two calibrations that the face problem would otherwise
compute on every new machine:

- ``<id>-crop.json``: the fixed crop box, MTCNN over ``samples`` faces (``face_crop``);
- ``<id>-facenet-<sha>-pca.json``: the quality-diversity measure axes, the
  first two principal axes of FaceNet embeddings of ``samples`` faces
  (``face_measures``), for the default FaceNet weights.

``<id>`` is ``generator_id``: the generator's name and its weights' sha256
prefix, so a retrained generator never picks up stale calibrations.
"""

from __future__ import annotations

from pathlib import Path

from bench.problems.face_crop import calibrate_crop, generator_id
from bench.problems.face_measures import pca_filename
from bench.problems.face_targets import FaceAligner

from bench.generator import Generator


def calibrate_face_generator(
    name: str,
    generator: Generator,
    out_dir: Path,
    samples: int = 1000,
    facenet: str = "casia-webface",
) -> dict:
    """Calibrate crop box and measure axes of ``generator`` and write them to ``out_dir``.

    Args:
        name: The generator's registered name.
        generator: The network, loaded from the weights file it ships as
            (``weight_path`` set: its sha256 names the files).
        out_dir: Where its weights live.
        samples: Generated faces for each calibration (the study used 10,000
            for the crop; 1,000 already gives a stable box).
        facenet: FaceNet weights of the measure axes.

    Returns:
        Summary for the model card: the box, the IQR of the raw detector boxes
        (pixels, and as fractions of the image and of the mean face side), the
        detection count, the axes' explained variance, and the two file names.

    """
    from bench.problems.face import FaceSimilarity

    out_dir = Path(out_dir)
    gen_id = generator_id(name, generator)
    crop = calibrate_crop(generator, samples, aligner=FaceAligner())
    crop_file = out_dir / f"{gen_id}-crop.json"
    crop.save(crop_file)
    problem = FaceSimilarity(
        "seed:0", generator=generator, facenet=facenet, crop=",".join(map(str, crop.box)),
        measure_samples=samples,
    )
    pca = problem.fit_measure_axes(samples)
    pca_file = out_dir / pca_filename(gen_id, problem.facenet_file)
    pca.save(pca_file)
    return {
        "crop_box": list(crop.box),
        "crop_iqr_of": "raw MTCNN boxes (no margin, not clipped to the image)",
        "crop_iqr_px": list(crop.iqr),
        "crop_face_side_px": crop.face_side,
        "crop_mean_iqr_fraction": crop.mean_iqr_fraction,
        "crop_mean_iqr_fraction_of_face": crop.mean_iqr_fraction_of_face,
        "crop_faces_detected": f"{crop.detected}/{crop.samples}",
        "measure_axes_explained_variance": list(pca.explained),
        "measure_axes_samples": pca.samples,
        "files": [crop_file.name, pca_file.name],
    }


def face_problem_card(
    name: str, generator: Generator, out_dir: Path, samples: int = 1000,
    facenet: str = "casia-webface",
) -> dict:
    """``calibrate_face_generator`` for a model card, never failing the export.

    A generator with no faces yet (e.g. a few training steps in) gets
    ``{"unavailable": reason}`` instead of an error.
    """
    try:
        return calibrate_face_generator(name, generator, out_dir, samples, facenet)
    except ValueError as exc:
        return {"unavailable": str(exc)}
