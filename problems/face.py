"""Face similarity (seeds digest §1): a latent whose face FaceNet takes for the target.

Genome: one latent of a face generator in Z (``[z_dim]``), or for style-based
generators in W (``[w_dim]``) or W+ (``[num_ws · w_dim]``), standardised so the
prior is N(0, 1) in every space (``latent_space``; ``--set space=w+``). Fitness:
the L2 distance between FaceNet's unit embedding of the generated face and the
target's (minimise; 0 is a perfect match, 2 the worst). The pipeline is batched
end to end, with no detector in the loop: generator (chunked) → the
generator's fixed crop box (``face_crop``) → resize to 160×160 → FaceNet's
normalisation → embeddings → distances.

Targets:

- ``seed:N``: the face the generator itself makes from latent seed N (a perfect
  solution exists, like the study's G1/G2). The latent is
  ``np.random.RandomState(N).randn(z_dim)``, the convention of StyleGAN's
  ``gen_images.py``, so seed N is the same face as there.
- ``PATH`` or ``PATH1,PATH2,...``: photos of one person (``target_from_photos``).

Measures for quality-diversity: the face's coordinates on the first two
principal axes of FaceNet embeddings of the generator's random faces, in
standard deviations (``face_measures``), fitted once per generator and stored.

``baseline=B.jpg`` (another photo of the target's person, not a target photo)
records its FaceNet distance to the target, the figure a run's best face must
beat to "deceive FaceNet" (the study's quality check). ``baseline="A.jpg,B.jpg"``
means the same where the target is photo A alone, and is refused otherwise.
Target photos farther apart than FaceNet's same-person threshold, and a
baseline photo farther than it from the target, are warned about
(``target_warnings``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from bench.problems.face_crop import (
    CropBox,
    calibrate_crop,
    calibration_path,
    crop_path,
    generator_id,
    without_margin,
)
from bench.problems.face_measures import RANGE_STD, FacePCA, pca_filename
from bench.problems.face_targets import (
    IMAGE_SIZE,
    SAME_PERSON_THRESHOLD,
    FaceAligner,
    FaceInputError,
    check_photo_file,
    embed_faces,
    standardise,
    target_from_photos,
)
from bench.problems.facenet_fast import FastFaceNet
from bench.problems.facenet_weights import load_facenet, resolve_weights
from bench.problems.latent_space import LatentSpace

from bench.cache import cache_dir
from bench.device import CPU_CHUNK, auto_chunk, compile_and_measure, resolve_device
from bench.generator import Generator, load_generator, to_uint8
from bench.problem import FACE_STUDY, MeasureSpace, Problem, check_batch_shape

PRECISIONS = ("fp32", "bf16", "fp16")


def seed_latent(seed: int, z_dim: int) -> np.ndarray:
    """The latent ``[z_dim]`` of seed ``seed`` (StyleGAN's ``gen_images.py`` convention)."""
    return np.random.RandomState(seed).randn(z_dim)  # a local generator, not the global one


class FaceSimilarity(Problem):
    """Find a generated face that FaceNet places as close as possible to a target.

    Args:
        target: ``seed:N`` or photo path(s), comma separated.
        generator: Registered face generator name, or a ``Generator`` instance.
        weights: Weight file for that generator instead of its shipped one.
        facenet: FaceNet weights: ``casia-webface`` (default), ``vggface2`` or a ``.pt`` file.
        baseline: Another photo of the target's person (not a target photo), or ``None``;
            ``A,B`` is accepted where the target is photo ``A`` alone (the same figure).
        device: Torch device of the generator and FaceNet (``cpu``, ``cuda``, ``cuda:N``).
        chunk: Most images per forward pass; ``None`` picks one from free memory.
        calibration_samples: Generated samples for the crop box when none is cached.
        crop: ``x0,y0,x1,y1`` to fix the crop box by hand instead of calibrating.
        space: Search space: ``z``, or ``w`` / ``w+`` for style-based generators.
        measure_samples: Random faces behind the measure axes when none are stored.
        measure_bins: Archive cells per measure.
        precision: ``fp32``, or opt-in ``bf16`` / ``fp16`` (autocast) for speed; the
            largest fitness change it causes on a probe batch is measured and described.
        channels_last: Run FaceNet's convolutions in channels-last layout (faster on
            oneDNN and tensor cores; same embeddings up to rounding).
        compile: Opt-in ``torch.compile`` of the generator and FaceNet; the largest
            fitness change it causes on a probe batch is measured and described.
        sphere: Scale every latent (z, w, or each layer's w of w+) to the length of a
            prior draw before the generator, so that growing the latents gains nothing
            (``bench.prior_distance``; CMA-ES otherwise ends 1.2-1.7 prior stds out on
            ``dcgan-faces``). A ``seed:N`` target stays the face of seed N's own latent.
            Off in the study.

    """

    sense = "min"
    worst_fitness = 2.0  # the largest distance between unit vectors
    # 10 generations of 200: minutes on a CPU. The study's runs (digest §1) are the ga
    # `paper` preset (100,000) and its 20,000-evaluation tables: pass --budget.
    default_budget = 2_000
    study = FACE_STUDY
    default_generator = "dcgan-faces"

    def __init__(
        self,
        target: str = "seed:0",
        generator: str | Generator | None = None,
        weights: str | None = None,
        facenet: str = "casia-webface",
        baseline: str | None = None,
        device: str = "cpu",
        chunk: int | None = None,
        calibration_samples: int = 200,
        crop: str | None = None,
        space: str = "z",
        measure_samples: int = 1000,
        measure_bins: int = 50,
        precision: str = "fp32",
        channels_last: bool = True,
        compile: bool = False,  # the user-facing name: --set compile=true
        sphere: bool = False,
    ):
        # the photos are checked before any network loads (seconds)
        self.target_spec = target
        self.target_seed, self.target_photos = _parse_target(target)
        self.baseline_photos = _parse_baseline(baseline, self.target_seed, self.target_photos)
        if chunk is not None and chunk < 1:
            raise ValueError(f"chunk must be at least 1, got {chunk}")
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}; valid: {', '.join(PRECISIONS)}")
        self.device = resolve_device(device)
        if precision == "fp16" and self.device.type != "cuda":
            raise ValueError("precision fp16 needs a CUDA device; on a CPU use bf16")
        self.precision = "fp32"  # the target and the deviation probe are computed in fp32
        self.chunk = chunk or CPU_CHUNK
        self.generator_name = generator or self.default_generator
        self.generator = self._load_generator(self.generator_name, weights, device)
        self.z_dim = int(self.generator.z_dim)
        self.latent = LatentSpace(self.generator, space, sphere=sphere)
        self.genome_shape = self.latent.genome_shape
        if measure_samples < 3 or measure_bins < 1:
            raise ValueError("measure_samples must be at least 3 and measure_bins at least 1")
        self.measure_samples = measure_samples
        self.measure_space = MeasureSpace(
            ("FaceNet axis 1 (std)", "FaceNet axis 2 (std)"),
            ((-RANGE_STD, RANGE_STD),) * 2,
            (measure_bins,) * 2,
        )
        self._pca: FacePCA | None = None
        self._calibration_files: dict[str, Path] = {}  # crop box and measure axes read from
        self.facenet_source = facenet
        self.facenet_file = resolve_weights(facenet)
        self.facenet = FastFaceNet(load_facenet(self.facenet_file, device=device), channels_last)
        self.crop = self._crop_box(crop, calibration_samples)
        self.manual_crop = crop is not None  # the stored measure axes belong to the calibrated box
        if chunk is None:
            self.chunk = auto_chunk(self.device, lambda n: self.embed_genomes(self._probe(n)))
        self.target_warnings: tuple[str, ...] = ()
        self.target_spread: float | None = None  # largest photo-to-target distance
        self.target_max_pair_distance: float | None = None  # largest photo-to-photo distance
        # per target photo, the pixels FaceNet saw ([x0, y0, x1, y1] of the upright photo)
        self.target_regions: list[list[int] | None] | None = None
        self._judge2 = None  # (DlibJudge, target descriptor [128]) once asked for
        self._aligner: FaceAligner | None = None
        self.target = self._target_embedding()  # [512] float32 tensor on device
        self.baseline = self._baseline()
        self.compile_deviation = self._compile() if compile else None
        self.precision_deviation = self._set_precision(precision)

    def _probe(self, n: int) -> np.ndarray:
        rng = np.random.default_rng(np.random.SeedSequence(12345))
        return rng.standard_normal((n, self.latent.dim))

    def _compile(self) -> float:
        """Compile the networks; return the largest fitness change it makes on 16 genomes."""
        probe = self._probe(16)
        return compile_and_measure(self.evaluate, probe, self.generator, self.facenet)

    def _set_precision(self, precision: str) -> float | None:
        """Switch to ``precision``; return the largest fitness change it makes on 16 genomes."""
        if precision == "fp32":
            return None
        probe = self._probe(16)
        exact = self.evaluate(probe)
        self.precision = precision
        return float(np.max(np.abs(self.evaluate(probe) - exact)))

    @staticmethod
    def _load_generator(name: str | Generator, weights: str | None, device: str) -> Generator:
        if isinstance(name, Generator):
            return name.to(device).eval()
        return load_generator(name, device, weights)  # factory(device=, weights=), checked

    def _crop_box(self, crop: str | None, samples: int) -> CropBox:
        size = int(self.generator.img_resolution)
        if crop is not None:
            try:
                x0, y0, x1, y1 = (int(v) for v in str(crop).split(","))
            except ValueError:
                raise ValueError(f"crop must be 'x0,y0,x1,y1' in pixels, got {crop!r}") from None
            if not (0 <= x0 < x1 <= size and 0 <= y0 < y1 <= size):
                raise ValueError(f"crop {crop} does not fit a {size}x{size} image")
            return CropBox((x0, y0, x1, y1), (0.0,) * 4, 0, 0, size, 0)
        name = self.generator_name if isinstance(self.generator_name, str) else "custom"
        cached = crop_path(generator_id(name, self.generator))
        if cached.is_file():
            self._calibration_files["crop"] = cached
            return CropBox.load(cached)
        return calibrate_crop(self.generator, samples, aligner=FaceAligner(self.device))

    @property
    def aligner(self) -> FaceAligner:
        """MTCNN for the target and baseline photos, made on first use."""
        if self._aligner is None:
            self._aligner = FaceAligner(self.device)
        return self._aligner

    def _target_embedding(self) -> torch.Tensor:
        """The target's unit embedding ``[512]`` (float32, on the device)."""
        if self.target_seed is not None:
            return self.embed_genomes(self.seed_genome(self.target_seed), as_given=True)[0]
        target = target_from_photos(self.target_photos, self.facenet, self.aligner)
        self.target_warnings = target.warnings
        self.target_spread = target.spread
        self.target_max_pair_distance = target.max_pair_distance
        self.target_regions = [None if r is None else list(r) for r in target.regions]
        return torch.as_tensor(target.embedding, device=self.device)

    def _baseline(self) -> float | None:
        """FaceNet distance from the target to the baseline photo (the study's baseline)."""
        if not self.baseline_photos:
            return None
        photo = self.baseline_photos[-1]  # of "A,B" (target A), B
        face = self.aligner.align(photo)
        emb = embed_faces(self.facenet, face.face[None])[0]  # [512]
        dist = float(np.linalg.norm(self.target.cpu().numpy() - emb))
        if dist < 1e-4:
            raise ValueError(
                f"baseline photo {photo} shows the target's own face (distance {dist:.1e}); "
                "give another photo of the person"
            )
        self.target_warnings += face.warnings
        if dist > SAME_PERSON_THRESHOLD:
            self.target_warnings += (
                f"baseline photo {photo} is {dist:.3f} from the target for FaceNet, over its "
                f"same-person threshold {SAME_PERSON_THRESHOLD}: probably another person; "
                "give a photo of the target's person",
            )
        return dist

    @property
    def baseline_note(self) -> str | None:
        """What ``baseline_distance`` measures, or ``None`` without a baseline."""
        if not self.baseline_photos:
            return None
        return (
            f"FaceNet distance from the target to {self.baseline_photos[-1]}, another photo "
            "of its person (seeds digest §1's baseline)"
        )

    def faces(self, images: torch.Tensor) -> torch.Tensor:
        """FaceNet inputs from generated images.

        Args:
            images: ``[N, C, H, W]`` in [-1, 1] (C is 1 or 3).

        Returns:
            ``[N, 3, 160, 160]`` RGB in 0..255, the fixed crop box resized.

        """
        x0, y0, x1, y1 = self.crop.box
        crops = images[:, :, y0:y1, x0:x1]
        if crops.shape[1] == 1:
            crops = crops.expand(-1, 3, -1, -1)
        resized = F.interpolate(
            crops, size=(IMAGE_SIZE, IMAGE_SIZE), mode="bilinear", align_corners=False,
            antialias=True,
        )
        return (resized.clamp(-1, 1) + 1.0) * 127.5

    def seed_genome(self, seed: int) -> np.ndarray:
        """The genome ``[1, D]`` of the face of latent seed ``seed``, in this search space."""
        return self.latent.genome_of_z(seed_latent(seed, self.z_dim)[None])

    @torch.inference_mode()
    def embed_genomes(self, genomes: np.ndarray, as_given: bool = False) -> torch.Tensor:
        """FaceNet embeddings ``[N, 512]`` of the faces of genomes ``[N, D]``.

        ``as_given`` skips ``sphere``'s scaling (``LatentSpace.images``).
        """
        check_batch_shape(genomes, (None, self.latent.dim), f"{type(self).__name__} genomes")
        out = []
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.precision)
        with torch.autocast(self.device.type, dtype=dtype, enabled=dtype is not None):
            for i in range(0, len(genomes), self.chunk):
                part = genomes[i : i + self.chunk]
                images = self.latent.images(part, chunk=self.chunk, as_given=as_given)
                out.append(self._embed_images(images.float()).float())
        if not out:
            return torch.zeros((0, 512), device=self.device)
        return torch.cat(out)

    def _embed_images(self, images: torch.Tensor) -> torch.Tensor:
        """FaceNet embeddings ``[N, 512]`` of generated images ``[N, C, H, W]`` in [-1, 1]."""
        return self.facenet(standardise(self.faces(images)))

    def evaluate(self, genomes: np.ndarray) -> np.ndarray:
        """Distances ``[N]`` (float64) of the faces of ``genomes [N, D]`` to the target."""
        return self._distances(self.embed_genomes(genomes))

    def _distances(self, emb: torch.Tensor) -> np.ndarray:
        """L2 distances ``[N]`` (float64) of embeddings ``[N, 512]`` to the target."""
        return torch.linalg.vector_norm(emb - self.target, dim=1).double().cpu().numpy()

    def evaluate_with_measures(self, genomes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Distances ``[N]`` and measures ``[N, 2]`` from one pass through generator and FaceNet."""
        emb = self.embed_genomes(genomes)
        return self._distances(emb), self.pca.project(emb.double()).cpu().numpy()

    def measures(self, genomes: np.ndarray) -> np.ndarray:
        """Coordinates ``[N, 2]`` of the faces on the generator's two main FaceNet axes."""
        return self.evaluate_with_measures(genomes)[1]

    @property
    def pca_filename(self) -> str:
        """Name of the stored measure axes of this generator, FaceNet and crop box.

        Axes are fitted on faces cut with the problem's crop box: those of the
        calibrated box (the shipped ones) carry no box in their name, those of a
        ``crop=`` given by hand or of a box calibrated on this machine (``bench
        calibrate-crop``) carry it, so neither is read for the other.
        """
        name = self.generator_name if isinstance(self.generator_name, str) else "custom"
        gen_id = generator_id(name, self.generator)
        crop_file = self._calibration_files.get("crop")
        from_here = crop_file is not None and not _is_shipped(crop_file)  # bench calibrate-crop
        box = self.crop.box if self.manual_crop or from_here else None
        shipped = _shipped_crop(gen_id)
        if box is not None and shipped is not None and tuple(box) == tuple(shipped.box):
            box = None  # the shipped box after all: its shipped axes fit it
        return pca_filename(gen_id, self.facenet_file, box)

    def warm_up(self) -> None:
        """Read or fit the measure axes now, before a run's clock starts.

        Fitting them (where no stored axes fit this generator, FaceNet and box)
        embeds ``measure_samples`` faces, about a minute on a CPU; inside the first
        evaluation it was counted as evaluation time.
        """
        _ = self.pca

    @property
    def pca(self) -> FacePCA:
        """The measure axes: stored for this generator and FaceNet, else fitted and cached."""
        if self._pca is None:
            path = calibration_path(self.pca_filename, "face-measures")
            stored = FacePCA.load(path) if path.is_file() else None
            if stored is not None and stored.samples >= self.measure_samples:
                self._pca = stored
                self._calibration_files["measures"] = path
            else:
                self._pca = self.fit_measure_axes(self.measure_samples)
                if isinstance(self.generator_name, str):
                    path = cache_dir("face-measures") / self.pca_filename
                    self._pca.save(path)
                    self._calibration_files["measures"] = path
        return self._pca

    def fit_measure_axes(self, samples: int, seed: int = 0) -> FacePCA:
        """Fit the measure axes on FaceNet embeddings of ``samples`` random faces (Z prior)."""
        rng = np.random.default_rng(np.random.SeedSequence(seed))
        z = rng.standard_normal((samples, self.z_dim))  # random faces come from the prior in Z
        with torch.inference_mode():
            emb = torch.cat(
                [
                    self._embed_images(self.generator.generate(c, self.chunk))
                    for c in np.array_split(z, max(1, -(-samples // self.chunk)))
                ]
            )
        return FacePCA.fit(emb.double().cpu().numpy(), seed)

    def second_judge(self, genomes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Re-score faces with dlib's recogniser, which the search never saw.

        Generated faces are judged inside the crop box (less its margin); photo
        targets by the mean descriptor of their photos' largest faces, seed
        targets by the generator's own image.

        Args:
            genomes: ``[N, D]``, e.g. the best faces of runs.

        Returns:
            ``(dlib distances [N], accepted [N])``, accepted meaning below dlib's 0.6.

        Raises:
            JudgeUnavailable: dlib or its models are not installed.

        """
        from bench.problems.dlib_judge import THRESHOLD, DlibJudge

        box = without_margin(self.crop.box)
        if self._judge2 is None:
            judge = DlibJudge()
            if self.target_photos:
                aligner = FaceAligner(self.device)
                target = np.mean([judge.embed_photo(p, aligner)[0] for p in self.target_photos], 0)
            else:
                seed = int(self.target_spec.removeprefix("seed:"))
                img = self._rgb(self.seed_genome(seed), as_given=True)[0]
                target = judge.embed(img, box)
            self._judge2 = (judge, target)
        judge, target = self._judge2
        emb = np.stack([judge.embed(img, box) for img in self._rgb(genomes)])
        dist = np.linalg.norm(emb - target, axis=1)
        return dist, dist < THRESHOLD

    def report(self, genomes: np.ndarray) -> dict:
        """The figures of the best face among ``genomes`` (the runner passes a run's best).

        Args:
            genomes: ``[N, D]``.

        Returns:
            ``facenet_distance`` to the target and ``facenet_embedding`` (512 floats,
            for the diversity of solutions across runs); ``baseline_distance`` and
            ``beats_baseline`` (the face is closer to the target than the baseline
            photo, another photo of the person, is: it "deceives FaceNet"), both
            ``None`` without a baseline; ``dlib_distance`` and ``dlib_accepted``
            (below dlib's 0.6) from the second judge, ``None`` with a
            ``dlib_unavailable`` message when dlib is not installed.

        """
        from bench.problems.dlib_judge import JudgeUnavailable

        emb = self.embed_genomes(genomes)
        dist = self._distances(emb)
        best = int(np.argmin(dist))
        out = {
            "facenet_distance": float(dist[best]),
            "facenet_embedding": [round(float(v), 7) for v in emb[best].cpu()],
            "baseline_distance": self.baseline,
            "beats_baseline": None if self.baseline is None else bool(dist[best] < self.baseline),
        }
        try:
            dlib_dist, accepted = self.second_judge(genomes[best : best + 1])
        except JudgeUnavailable as exc:  # the FaceNet figures stand without the second judge
            missing = {"dlib_distance": None, "dlib_accepted": None, "dlib_unavailable": str(exc)}
            return {**out, **missing}
        return {**out, "dlib_distance": float(dlib_dist[0]), "dlib_accepted": bool(accepted[0])}

    def _rgb(self, genomes: np.ndarray, as_given: bool = False) -> list[np.ndarray]:
        images = self.render(genomes, as_given)
        return [np.repeat(im, 3, axis=2) if im.shape[2] == 1 else im for im in images]

    def render(self, genomes: np.ndarray, as_given: bool = False) -> list[np.ndarray]:
        """Full-resolution uint8 images ``[H, W, C]`` of ``genomes [N, D]``.

        ``as_given`` skips ``sphere``'s scaling (``LatentSpace.images``).
        """
        check_batch_shape(genomes, (None, self.latent.dim), f"{type(self).__name__} genomes")
        return to_uint8(self.latent.images(genomes, chunk=self.chunk, as_given=as_given))

    def fed_genomes(self, genomes: np.ndarray) -> np.ndarray:
        """``genomes [N, D]`` as the generator reads them (float64; ``sphere`` applied)."""
        return self.latent.fed(genomes)

    def weight_files(self) -> Sequence[Path]:
        """Files the fitness depends on, for the provenance's hashes.

        The generator's and FaceNet's weights, the crop box and measure axes read
        from a calibration file (``bench calibrate-crop`` replaces a shipped box
        on this machine: the hash shows which one a run used), the target and
        baseline photos (a run id knows only their paths), and dlib's models once
        they judged.
        """
        path = getattr(self.generator, "weight_path", None)
        dlib_files = self._judge2[0].model_files if self._judge2 is not None else ()
        calibrations = tuple(p for p in self._calibration_files.values() if p.is_file())
        given = dict.fromkeys((*self.target_photos, *self.baseline_photos))  # "A,B" repeats A
        photos = tuple(Path(p) for p in given)
        return (
            ((Path(path),) if path else ())
            + (Path(self.facenet_file),)
            + calibrations
            + photos
            + tuple(dlib_files)
        )

    def describe(self) -> dict:
        """Target, generator, judge, crop box and baseline of this instance."""
        name = self.generator_name
        return {
            "target": self.target_spec,
            "target_warnings": list(self.target_warnings),
            # None for a seed: target; 0 for one photo
            "target_spread": self.target_spread,
            "target_max_pair_distance": self.target_max_pair_distance,
            # None for a seed: target; per photo, the upright photo's pixels FaceNet saw
            "target_regions": self.target_regions,
            "generator": name if isinstance(name, str) else type(name).__name__,
            "z_dim": self.z_dim,
            "space": self.latent.space,
            "sphere": self.latent.sphere,
            "genome_size": self.latent.dim,
            "facenet": self.facenet_source,
            "crop_box": list(self.crop.box),
            # of the raw MTCNN boxes; None from a box file calibrated before they were kept
            # (its IQR is of boxes clipped to the image), or from a hand-given crop
            "crop_iqr": list(self.crop.iqr) if self.crop.face_side is not None else None,
            "crop_face_side": self.crop.face_side,
            "crop_detected": f"{self.crop.detected}/{self.crop.samples}",
            "baseline_distance": self.baseline,
            "baseline_photos": list(self.baseline_photos),
            "baseline": self.baseline_note,
            "device": str(self.device),
            "chunk": self.chunk,
            "precision": self.precision,
            "precision_max_fitness_deviation": self.precision_deviation,
            "compile": self.compile_deviation is not None,
            "compile_max_fitness_deviation": self.compile_deviation,
        }


def _parse_target(spec: str) -> tuple[int | None, tuple[str, ...]]:
    """``(seed, ())`` of a ``seed:N`` target, or ``(None, photos)``, each photo an existing file."""
    if spec.startswith("seed:"):
        try:
            seed = int(spec.removeprefix("seed:"))
        except ValueError:
            raise ValueError(f"target seed must be an integer: {spec!r}") from None
        if seed < 0:
            raise ValueError(f"target seed must be an integer from 0: {spec!r}")
        return seed, ()
    paths = tuple(p.strip() for p in spec.split(",") if p.strip())
    if not paths:
        raise FaceInputError(f"no target photos given in target={spec!r}; give seed:N or PHOTO")
    for path in paths:
        check_photo_file(path)
    return None, paths


def _parse_baseline(
    spec: str | None, seed: int | None, target_photos: tuple[str, ...]
) -> tuple[str, ...]:
    """The baseline photos of ``spec`` (``()`` for ``None``), refused where they mean nothing.

    Args:
        spec: ``PHOTO`` (another photo of the target's person) or ``A,B`` (the target is
            photo ``A`` alone), or ``None``.
        seed: The target's seed, ``None`` for a photo target.
        target_photos: The target's photos.

    """
    if spec is None:
        return ()
    if seed is not None:
        raise ValueError(
            f"baseline needs a photo target: seed:{seed} is a generated face with no other "
            "photo of its person; drop baseline, or give target=PHOTO"
        )
    paths = tuple(p.strip() for p in spec.split(",") if p.strip())
    if len(paths) not in (1, 2):
        raise ValueError(
            f"baseline is one other photo of the target's person (baseline=PHOTO), got {spec!r}"
        )
    for path in paths:
        check_photo_file(path)
    if len(paths) == 2 and _same_file(*paths):
        raise ValueError(
            f"baseline names {paths[0]} twice (distance 0, a bar no face beats); "
            "give one other photo of the target's person: baseline=PHOTO"
        )
    if len(paths) == 2 and not (len(target_photos) == 1 and _same_file(paths[0], target_photos[0])):
        raise ValueError(
            f"baseline={spec} is the distance between two photos, the study's baseline only "
            f"for target={paths[0]} alone; give one other photo of the target's person: "
            "baseline=PHOTO"
        )
    if any(_same_file(paths[-1], t) for t in target_photos):
        raise ValueError(
            f"baseline photo {paths[-1]} is a target photo; give one other photo of the "
            "target's person: baseline=PHOTO"
        )
    return paths


def _same_file(a: str, b: str) -> bool:
    """Whether two existing paths name one file."""
    return os.path.samefile(a, b)


def _is_shipped(path: Path) -> bool:
    """Whether ``path`` is a calibration file shipped beside the generators' weights."""
    from bench.generators.zoo import WEIGHTS_DIR

    return path.resolve().parent == WEIGHTS_DIR.resolve()


def _shipped_crop(gen_id: str) -> CropBox | None:
    """The crop box shipped for generator ``gen_id``, if one is."""
    from bench.generators.zoo import WEIGHTS_DIR

    path = WEIGHTS_DIR / f"{gen_id}-crop.json"
    return CropBox.load(path) if path.is_file() else None
