"""A hand-made campaign of face runs with known answers, for the leaderboard's face pages.

No face problem is needed: the records are written as ``bench.runner.execute``
writes them (``record["problem"]`` from ``FaceSimilarity.describe``,
``record["report"]`` from ``FaceSimilarity.report``), with embeddings chosen so
that every pairwise distance is known exactly.

Problems (all × ga, random, cma-me × seeds 0, 1, 2):

- ``face-seed``: target ``seed:3`` of the shipped ``dcgan-mnist`` (z 100), no
  baseline, dlib not installed. Best-face embeddings: ga at angles 0°, 60°,
  180° in the plane of e0 and e1 (distances 1, √3, 2); random seeds 0, 1 at
  e2, e3 (√2), seed 2 finished but its report failed (no embedding); cma-me
  seed 0 failed, seed 1 at e1, seed 2 pending (no folder).
- ``face-photo``: target a photo (``person.jpg``, stored sideways with EXIF
  orientation 6) and a second one; baseline 0.7; dlib distances known.
- ``face-gone``: target ``seed:1`` of dcgan-mnist with a weight file that does
  not exist, so the target cannot be pictured.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from bench.campaign import CAMPAIGN_FILE, RUNS, Plan
from bench.provenance import SCHEMA_VERSION, provenance
from bench.runner import RunResult

ALGOS = ["ga", "random", "cma-me"]
SEEDS = [0, 1, 2]
DIM = 512
BASELINE = 0.7
MISSING_WEIGHTS = "/nonexistent/dcgan-mnist-elsewhere.pt"


def unit(*parts: tuple[int, float]) -> np.ndarray:
    """A 512-vector with the given (axis, value) entries, normalised to unit length."""
    v = np.zeros(DIM)
    for axis, value in parts:
        v[axis] = value
    return v / np.linalg.norm(v)


def angle(degrees: float) -> np.ndarray:
    """The unit vector at ``degrees`` in the plane of e0 and e1."""
    rad = math.radians(degrees)
    return unit((0, math.cos(rad)), (1, math.sin(rad)))


# (algo, seed) -> embedding of the best face; missing keys: see FATE
EMBEDDINGS = {
    ("ga", 0): angle(0),
    ("ga", 1): angle(60),
    ("ga", 2): angle(180),
    ("random", 0): unit((2, 1.0)),
    ("random", 1): unit((3, 1.0)),
    ("cma-me", 1): angle(90),
}
FATE = {("random", 2): "no report", ("cma-me", 0): "failed", ("cma-me", 2): "pending"}
# the 15 distances between the 6 embedded runs of face-seed, worked out by hand
SEED_DISTANCES = {
    "ga": [1.0, 2.0, math.sqrt(3)],
    "random": [math.sqrt(2)],
    "all": [1.0, 2.0, math.sqrt(3), 2 * math.sin(math.radians(15))] + [math.sqrt(2)] * 11,
}


def sideways_photo(path: Path) -> Path:
    """A 40 × 20 JPEG, red left half and blue right, tagged "rotate 90° clockwise to view"."""
    arr = np.zeros((20, 40, 3), dtype=np.uint8)
    arr[:, :20, 0] = 255
    arr[:, 20:, 2] = 255
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: the viewer must rotate 90° clockwise
    Image.fromarray(arr).save(path, exif=exif, quality=95)
    return path


PHOTO_REGION = (0, 25, 20, 40)  # the first target photo's pixels "FaceNet saw"


def facenet_distance(problem: str, algo: str, seed: int) -> float:
    """The best face's distance to the target: distinct and known for every run."""
    return round(0.4 + 0.1 * ALGOS.index(algo) + 0.03 * seed + 0.2 * (problem != "face-seed"), 6)


def _record(spec: Any, problem: dict[str, Any], prov: dict[str, Any]) -> dict[str, Any]:
    algo, seed = spec.algo, spec.seed
    fitness = facenet_distance(spec.problem, algo, seed)
    record: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "run_id": spec.run_id,
        "spec": spec.to_dict(),
        "problem": problem,
        "algorithm": {"batch_size": 50, "params": {}},
        "started": "2025-01-01T00:00:00+00:00",
        "finished": "2025-01-01T00:01:00+00:00",
        "status": "finished",
        "error": None,
        "best_fitness": fitness,
        "evaluations": spec.budget,
        "nonfinite": 0,
        "wall_seconds": 60.0,
        "eval_seconds": 55.0,
        "algo_seconds": 5.0,
        "evals_per_second": spec.budget / 60.0,
        "provenance": prov,
    }
    fate = FATE.get((algo, seed))
    if fate == "failed":
        record.update(status="failed", best_fitness=None, evaluations=50)
        record["error"] = {"type": "RuntimeError", "message": "out of memory", "traceback": ""}
        return record
    if fate == "no report":
        record["report_error"] = {"type": "RuntimeError", "message": "FaceNet crashed"}
        return record
    report: dict[str, Any] = {
        "facenet_distance": fitness,
        "facenet_embedding": [round(float(v), 7) for v in EMBEDDINGS[(algo, seed)]],
        "baseline_distance": None,
        "beats_baseline": None,
        "dlib_distance": None,
        "dlib_accepted": None,
        "dlib_unavailable": "dlib is not installed",
    }
    if spec.problem == "face-photo":
        dlib = 0.5 + 0.05 * seed
        report.update(
            baseline_distance=BASELINE,
            beats_baseline=fitness < BASELINE,
            dlib_distance=dlib,
            dlib_accepted=dlib < 0.6,
            dlib_unavailable=None,
        )
    record["report"] = report
    return record


def make_face_campaign(folder: Path) -> Path:
    """Write the campaign into ``folder`` (photos beside it); return ``folder``."""
    folder = Path(folder)
    (folder / RUNS).mkdir(parents=True)
    photo = sideways_photo(folder.parent / "person.jpg")
    other = sideways_photo(folder.parent / "other.jpg")
    problems = {
        "face-seed": {"target": "seed:3", "generator": "dcgan-mnist"},
        "face-photo": {"target": f"{photo},{other}", "generator": "dcgan-mnist"},
        "face-gone": {"target": "seed:1", "generator": "dcgan-mnist", "weights": MISSING_WEIGHTS},
    }
    plan = Plan(list(problems), ALGOS, SEEDS, 100, problems, {})
    (folder / CAMPAIGN_FILE).write_text(
        json.dumps({"schema_version": SCHEMA_VERSION, "plan": plan.to_dict()}, indent=2)
    )
    prov = provenance()
    for spec in plan.specs():
        if FATE.get((spec.algo, spec.seed)) == "pending":
            continue
        params = problems[spec.problem]
        described = {
            "sense": "min", "dim": 100, "target": params["target"],
            "generator": params["generator"], "z_dim": 100, "space": "z", "baseline_distance": None,
        }  # fmt: skip
        if spec.problem == "face-photo":  # upright: 20 wide, 40 tall; the bottom 15 rows blue
            described["target_regions"] = [list(PHOTO_REGION), [0, 0, 20, 15]]
        record = _record(spec, described, prov)
        finished = record["status"] == "finished"
        fitness = facenet_distance(spec.problem, spec.algo, spec.seed)
        curve = pd.DataFrame({"evaluations": [50, 100], "best": [fitness + 0.2, fitness]})
        shade = 40 + 60 * ALGOS.index(spec.algo) + 20 * spec.seed
        image = np.full((28, 28, 1), shade, dtype=np.uint8)
        RunResult(
            record,
            curve if finished else None,
            np.zeros(100) if finished else None,
            [image] if finished else None,
        ).save(folder / RUNS / spec.run_id)
    return folder
