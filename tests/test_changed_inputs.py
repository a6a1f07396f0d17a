"""Input files replaced between runs: resume refuses, the leaderboard counts each version."""

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import torch

import bench.resume_checks
from bench.cache import CACHE_ENV
from bench.campaign import CAMPAIGN_FILE, CampaignError, Plan, load_campaign, run_campaign
from bench.cli import main
from bench.leaderboard import build_leaderboard
from bench.leaderboard.provenance import gather, provenance_lines
from bench.provenance import SOURCE_ROOT, local_path, portable_path, sha256_file
from bench.registry import registry
from bench.results import RECORD
from bench.runner import execute

WEIGHTS = Path(__file__).resolve().parents[1] / "generators" / "weights"


@pytest.fixture
def hashed_input(tmp_path, monkeypatch):
    """A file every sphere run hashes into its provenance, as a face run does its target."""
    path = tmp_path / "inputs" / "target.bin"
    path.parent.mkdir()
    path.write_bytes(b"first version")
    monkeypatch.setattr(registry("problems").load("sphere"), "weight_files", lambda self: (path,))
    return path


def _plan(seeds=(0, 1)) -> Plan:
    return Plan(
        problems=["sphere", "rastrigin"],
        algorithms=["random"],
        seeds=list(seeds),
        budget=20,
        problem_params={"sphere": {"dim": 4}, "rastrigin": {"dim": 4}},
        algo_params={"random": {"batch": 10}},
    )


def _records(folder: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in folder.glob(f"runs/*/{RECORD}")}


def test_local_path_inverts_portable_path(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    for path in (
        SOURCE_ROOT / "generators" / "weights" / "dcgan-mnist.pt",
        tmp_path / "cache" / "weights" / "facenet-casia.pt",
        tmp_path / "elsewhere" / "target.png",
    ):
        assert local_path(portable_path(path)) == path.resolve()
    assert local_path("<cache>/weights/x.pt") == tmp_path / "cache" / "weights" / "x.pt"
    assert local_path("/abs/target.png") == Path("/abs/target.png")


def test_resume_refuses_runs_made_with_a_replaced_weight_file(tmp_path, capsys):
    """The reviewer's case, with a real problem: same plan, same path, another file."""
    weights = tmp_path / "dcgan-mnist.pt"
    shutil.copyfile(WEIGHTS / "dcgan-mnist.pt", weights)
    original = weights.read_bytes()
    (tmp_path / "plan.toml").write_text(
        'budget = 20\nseeds = [0, 1]\nproblems = ["diversity-mnist-rmse", "sphere"]\n'
        'algorithms = ["random"]\n[problem.diversity-mnist-rmse]\nk = 4\n'
        f'weights = "{weights}"\n[problem.sphere]\ndim = 4\n[algo.random]\nbatch = 10\n'
    )
    out = tmp_path / "c"
    command = ["campaign", "--plan", str(tmp_path / "plan.toml"), "--out", str(out)]
    command += ["--no-progress"]
    assert main(command) == 0
    before = sha256_file(weights)
    state = torch.load(weights, weights_only=True)  # other weights of the same network
    name = next(k for k, v in state["state_dict"].items() if v.is_floating_point())
    state["state_dict"][name] = state["state_dict"][name] + 0.5
    torch.save(state, weights)
    after = sha256_file(weights)
    records = _records(out)
    plan_file = (out / CAMPAIGN_FILE).read_text()
    capsys.readouterr()

    assert main(command) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("bench: error: 2 finished run(s) in ")
    assert f"{weights} (sha256 {before[:12]}… in 2 run(s), now {after[:12]}…)" in err
    assert "restore the file(s), use another --out folder, or pass --rerun-changed" in err
    assert _records(out) == records  # nothing ran, nothing was rewritten
    assert (out / CAMPAIGN_FILE).read_text() == plan_file

    assert main([*command, "--rerun-changed"]) == 0  # those two again, with the new file
    out_text = capsys.readouterr().out
    assert "ran 2 (0 failed), skipped 2 finished" in out_text
    assert "; 2 of them had finished with inputs or plugin versions that changed since" in out_text
    assert main(command) == 0
    assert "skipped 4 finished" in capsys.readouterr().out
    weights.write_bytes(original)  # the first file again: those two are refused once more
    assert main(command) == 2
    capsys.readouterr()


def test_rerun_changed_runs_again_only_the_runs_of_the_changed_file(tmp_path, hashed_input):
    out = tmp_path / "c"
    run_campaign(_plan(), out, progress=False)
    old = sha256_file(hashed_input)
    hashed_input.write_bytes(b"another, longer version")
    new = sha256_file(hashed_input)
    with pytest.raises(CampaignError, match=rf"^2 finished run\(s\) in .* {old[:12]}… in 2"):
        run_campaign(_plan(), out, progress=False)
    with pytest.raises(CampaignError, match="other input files"):  # adding seeds: still refused
        run_campaign(_plan(seeds=(0, 1, 2)), out, progress=False, force=True)

    summary = run_campaign(_plan(), out, progress=False, rerun_changed=True)
    assert (summary.ran, summary.rerun_changed, summary.skipped_finished) == (2, 2, 2)
    df = load_campaign(out)
    assert set(df["status"]) == {"finished"}
    for record in _records(out).values():
        weights = record["provenance"]["weights"]
        assert weights == ({portable_path(hashed_input): new} if weights else {})
    again = run_campaign(_plan(), out, progress=False)
    assert (again.ran, again.skipped_finished) == (0, 4)


def test_each_file_is_hashed_once_and_old_records_are_not_checked(
    tmp_path, hashed_input, monkeypatch
):
    out = tmp_path / "c"
    run_campaign(_plan(seeds=range(6)), out, progress=False)
    hashed = []

    def counting(path):
        hashed.append(Path(path))
        return sha256_file(path)

    monkeypatch.setattr(bench.resume_checks, "sha256_file", counting)
    assert run_campaign(_plan(seeds=range(6)), out, progress=False).skipped_finished == 12
    assert hashed == [hashed_input.resolve()]  # 6 runs name it, one hash

    hashed_input.write_bytes(b"changed")
    for path in out.glob(f"runs/*/{RECORD}"):  # records from before provenance
        record = json.loads(path.read_text())
        del record["provenance"]
        path.write_text(json.dumps(record))
    assert run_campaign(_plan(seeds=range(6)), out, progress=False).skipped_finished == 12


def test_a_gone_input_file_warns_and_resumes(tmp_path, hashed_input):
    out = tmp_path / "c"
    run_campaign(_plan(), out, progress=False)
    hashed_input.unlink()
    with pytest.warns(UserWarning, match=r"2 finished run\(s\) in .* used .*target.bin.*gone"):
        summary = run_campaign(_plan(), out, progress=False)
    assert (summary.ran, summary.skipped_finished) == (0, 4)


def test_leaderboard_counts_the_runs_of_each_version_of_a_file(tmp_path, hashed_input):
    """A file replaced while a campaign ran: its pages show both hashes and their runs."""
    ran = []

    def replace_after_two_runs(spec):
        ran.append(spec)
        if len(ran) == 3:
            hashed_input.write_bytes(b"replaced mid-campaign")
        return execute(spec, progress=False)

    first = sha256_file(hashed_input)
    out = tmp_path / "c"
    run_campaign(_plan(seeds=(0, 1, 2)), out, progress=False, run_fn=replace_after_two_runs)
    second = sha256_file(hashed_input)
    board = build_leaderboard(out, tmp_path / "lb")
    name = portable_path(hashed_input)
    assert board.provenance["weights"] == {name: dict(sorted({first: 2, second: 1}.items()))}
    saved = json.loads((tmp_path / "lb" / "provenance.json").read_text())
    assert saved["weights"] == board.provenance["weights"]
    shown = f"{name}: 2 different files"
    for page in ("index.html", "problem-sphere.html", "README.md"):
        text = (tmp_path / "lb" / page).read_text()
        assert shown in text and f"{first} (2 runs)" in text and f"{second} (1 run)" in text
    with pytest.raises(CampaignError, match=r"^2 finished run\(s\)"):  # and resume says so
        run_campaign(_plan(seeds=(0, 1, 2)), out, progress=False)


def test_gather_counts_runs_per_hash_and_old_provenance_still_shows():
    a, b = "a" * 64, "b" * 64
    records = {
        str(i): {"provenance": {"weights": {"generators/weights/x.pt": digest}}}
        for i, digest in enumerate([a, a, b])
    }
    runs = pd.DataFrame(
        {"problem": ["p"] * 3, "budget": [10] * 3, "seed": [0, 1, 2], "wall_seconds": [1.0] * 3}
    )
    prov = gather(runs, records)
    assert prov["weights"] == {"generators/weights/x.pt": {a: 2, b: 1}}
    lines = dict(provenance_lines(prov))
    assert (
        lines["weights (sha256)"]
        == f"generators/weights/x.pt: 2 different files, {a} (2 runs), {b} (1 run)"
    )
    prov["weights"] = {"generators/weights/x.pt": {a: 3}}  # one version: its hash, as before
    assert dict(provenance_lines(prov))["weights (sha256)"] == f"generators/weights/x.pt: {a}"
    prov["weights"] = {"generators/weights/x.pt": [a]}  # a provenance.json written before counts
    assert dict(provenance_lines(prov))["weights (sha256)"] == f"generators/weights/x.pt: {a}"
