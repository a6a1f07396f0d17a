"""Records name weight files without this machine's folders where they can."""

import pandas as pd

from bench.leaderboard.provenance import gather
from bench.provenance import SOURCE_ROOT, portable_path, provenance

SHIPPED = SOURCE_ROOT / "generators" / "weights" / "dcgan-mnist.pt"


def test_shipped_weights_are_named_inside_the_suite(monkeypatch):
    assert SHIPPED.is_file(), "the suite ships dcgan-mnist"
    assert portable_path(SHIPPED) == "generators/weights/dcgan-mnist.pt"
    monkeypatch.chdir(SOURCE_ROOT / "generators")
    assert portable_path("weights/dcgan-mnist.pt") == "generators/weights/dcgan-mnist.pt"


def test_cached_and_other_files(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    (cache / "weights").mkdir(parents=True)
    (cache / "weights" / "facenet.pt").write_bytes(b"weights")
    own = tmp_path / "mine.pt"
    own.write_bytes(b"mine")
    monkeypatch.setenv("LATENT_BENCH_CACHE", str(cache))
    record = provenance([cache / "weights" / "facenet.pt", own])
    assert list(record["weights"]) == ["<cache>/weights/facenet.pt", str(own.resolve())]


def test_leaderboard_merges_old_absolute_names_with_new_ones():
    digest = "ab" * 32
    old = {"provenance": {"weights": {str(SHIPPED): digest}}}
    new = {"provenance": {"weights": {"generators/weights/dcgan-mnist.pt": digest}}}
    elsewhere = {"provenance": {"weights": {"/elsewhere/dcgan-mnist.pt": digest}}}
    runs = pd.DataFrame({"problem": ["p"] * 3, "budget": [10] * 3, "seed": [0, 1, 2],
                         "wall_seconds": [1.0] * 3})
    prov = gather(runs, {"a": old, "b": new, "c": elsewhere})
    assert prov["weights"] == {
        "/elsewhere/dcgan-mnist.pt": {digest: 1},  # another machine's folder: left as recorded
        "generators/weights/dcgan-mnist.pt": {digest: 2},  # runs of it counted per sha256
    }


def test_cache_folder_follows_xdg_only_when_absolute(tmp_path, monkeypatch):
    from pathlib import Path

    from bench.cache import cache_dir

    monkeypatch.delenv("LATENT_BENCH_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir("weights") == tmp_path / "xdg" / "latent-bench" / "weights"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", "relative")  # invalid by the XDG spec: ignored
    assert cache_dir() == (Path.home() / ".cache" / "latent-bench").resolve()


def test_records_name_the_libraries_torch_computes_in(monkeypatch):
    import torch

    import bench.provenance as prov
    from bench.leaderboard.provenance import machine_line

    libs = provenance()["torch_math"]
    assert libs == prov.torch_math_libraries()
    if torch.backends.mkldnn.is_available():  # every PyPI wheel for x86 and ARM
        assert libs["onednn"][0].isdigit()
    shown = (
        "  - Intel(R) oneAPI Math Kernel Library Version 2024.2-Product Build 20240605 for ...\n"
        "  - Intel(R) MKL-DNN v3.12.0 (Git Hash 80afa71)\n"
        "  - CPU capability usage: AVX512\n"
        "  - Build settings: BLAS_INFO=mkl, BUILD_TYPE=Release, LAPACK_INFO=mkl\n"
    )
    monkeypatch.setattr(torch.__config__, "show", lambda: shown)
    prov.torch_math_libraries.cache_clear()
    try:
        parsed = prov.torch_math_libraries()
    finally:
        prov.torch_math_libraries.cache_clear()
    assert parsed == {"mkl": "2024.2", "onednn": "3.12.0", "cpu_capability": "AVX512",
                      "blas": "mkl"}
    machine = {"cpu": "AMD EPYC", "cpu_count": 2, "device": "cpu", "torch_threads": 2}
    record = {"provenance": {"machine": machine, "torch_math": parsed}}
    assert machine_line(record).endswith(", torch: MKL 2024.2, oneDNN 3.12.0, AVX512")
    del record["provenance"]["torch_math"]  # records before 1 December 2026
    assert machine_line(record) == "AMD EPYC × 2 CPUs, cpu, 2 torch threads"
