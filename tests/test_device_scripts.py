"""The scripts a session with a lent GPU runs (scripts/device): they parse and they work on a CPU.

The full rehearsal (``session.sh check`` and ``train`` with ``DEVICE=cpu``) takes minutes
and is in scripts/device/README.md; here the shell script must parse, and the batch probe
runs for real on a tiny pack and picks its batch by the stated rule.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from bench.generators.stylegan2_data import write_face_pack
from without_packages import run_without

from bench.datasets import LabelledImages

ROOT = Path(__file__).resolve().parents[1]
DEVICE = ROOT / "scripts" / "device"


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed here")
@pytest.mark.parametrize("script", ["session.sh", "prepare.sh", "setup.sh"])
def test_shell_scripts_parse(script):
    subprocess.run(["bash", "-n", str(DEVICE / script)], check=True)


@pytest.mark.parametrize("argv", [[], ["nonsense"], ["train"], ["train", "soon"], ["check", "1"]])
def test_session_refuses_a_wrong_mode_before_any_work(tmp_path, argv):
    got = subprocess.run(
        ["bash", str(DEVICE / "session.sh"), *argv], capture_output=True, text=True,
        env={"OUT": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert got.returncode == 2
    assert got.stderr.strip() == "usage: session.sh check | train SECONDS"
    assert list(tmp_path.iterdir()) == []  # no log, no install: it stopped first


def _pack(path: Path) -> Path:
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, size=(12, 16, 16, 3), dtype=np.uint8)
    write_face_pack(LabelledImages(imgs[:8], None, imgs[8:], None, "12 random 16-px images"), path)
    return path


@pytest.mark.parametrize("min_gain, expect_smallest", [(1e9, True), (0.0, False)])
def test_batch_probe_times_each_batch_and_picks_by_its_rule(tmp_path, min_gain, expect_smallest):
    pack, out = _pack(tmp_path / "pack.npz"), tmp_path / "probe.json"
    subprocess.run(
        [sys.executable, str(DEVICE / "probe_batches.py"), str(pack), str(out), "--device",
         "cpu", "--batches", "4,2", "--steps", "1", "--min-gain", str(min_gain)],
        check=True, capture_output=True, text=True,
    )
    got = json.loads(out.read_text())
    rates = {r["batch"]: r["images_per_second"] for r in got["results"]}
    assert sorted(rates) == [2, 4] and all(v > 0 for v in rates.values())
    best = max(rates, key=rates.get)
    assert got["chosen_batch"] == (2 if expect_smallest else best)


GPU_CHECK_CASES = {  # one case of each benchmark file that `session.sh check` runs
    "test_face_throughput.py": "dcgan-faces-fp32-b64 and not compiled",
    "test_diversity_throughput.py": "evaluations_per_second and mnist-rmse",
}


def test_gpu_benchmarks_run_with_only_the_gpu_images_packages(tmp_path):
    """The lent GPU's image lacks pyribs, pymoo, Dask, dlib and OpenCV: the benchmarks
    that ``session.sh check`` runs must not need them (run here on the CPU, one case of
    each file, in one pytest run)."""
    files = [str(ROOT / "benchmarks" / file) for file in GPU_CHECK_CASES]
    select = " or ".join(f"({s})" for s in GPU_CHECK_CASES.values())
    code = f"""
import pytest
sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", "--rootdir", {str(ROOT)!r},
    *{files!r}, "-k", {select!r}, "--benchmark-json", {str(tmp_path / "out.json")!r}]))
"""
    blocked = {"ribs", "pymoo", "dask", "distributed", "scikit_posthocs", "dlib",
               "face_recognition_models", "cv2"}
    done = run_without(blocked, code, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    got = json.loads((tmp_path / "out.json").read_text())
    ran = {Path(case["fullname"].split("::")[0]).name for case in got["benchmarks"]}
    assert len(got["benchmarks"]) == 2 and ran == set(GPU_CHECK_CASES), got["benchmarks"]
    probes = got["machine_info"]["cpu_peak_probes_gflops"]  # the peak is the best probe
    assert len(probes) == 2
    for case in got["benchmarks"]:
        assert case["extra_info"]["evals_per_second"] > 0
        assert case["extra_info"]["peak_gflops"] == max(probes.values())


TRAVEL_LIMIT_MIB = 64  # the device tool's working tree: tracked files plus what is carried
SMALLEST_PACK_MIB = 15  # UTKFace's 21,707 training faces at 64 px, WebP quality 70 (33 dB)
WHEEL_AND_ROOM_MIB = 3  # facenet-pytorch's wheel (1.8 MiB) and prepare.sh's 1 MiB of room


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed here")
def test_the_repository_leaves_room_for_the_training_pack():
    """A lent GPU trains on a pack that travels with the repository: keep room for one.

    Published boards once grew the tree from 26 to 42 MiB, past what the quality-90
    pack of prepare.sh left, unnoticed until a rehearsal; this says so in CI instead.
    """
    if (ROOT / "generators" / "weights" / "stylegan2-utkface64.pt").is_file():
        pytest.skip("stylegan2-utkface64 is trained and shipped: no pack needs to travel")
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True,
    )
    if listed.returncode != 0:
        pytest.skip(f"not a git checkout ({listed.stderr.decode().strip()})")
    names = [name for name in listed.stdout.decode().split("\0") if name]
    tree = sum((ROOT / name).stat().st_size for name in names if (ROOT / name).is_file())
    room = TRAVEL_LIMIT_MIB - WHEEL_AND_ROOM_MIB - tree / 2**20
    assert room >= SMALLEST_PACK_MIB, (
        f"the repository takes {tree / 2**20:.1f} MiB, leaving {room:.1f} MiB for the training "
        f"pack (at least {SMALLEST_PACK_MIB} MiB): publish smaller files or move some out"
    )
