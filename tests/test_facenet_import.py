"""The offline FaceNet import: complete, exact against the original graph, and failing loudly."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from bench.problems import facenet_weights
from bench.problems.facenet_import import (
    GraphImportError,
    build_state_dict,
    check_structure,
    graph_constants,
    read_graph,
)
from bench.problems.facenet_weights import (
    INSTALL_HINT,
    WeightsError,
    casia_graph_path,
    load_facenet,
)
from facenet_pytorch import InceptionResnetV1

from bench.provenance import sha256_file


@pytest.fixture(scope="module")
def graph(facenet_cache):
    return read_graph(casia_graph_path())


def test_every_graph_tensor_used_once_and_every_entry_filled(graph, facenet_cache):
    model = InceptionResnetV1(pretrained=None, classify=False).eval()
    state, report = build_state_dict(graph, model)
    assert set(state) == set(model.state_dict())
    params = [k for k in graph_constants(graph) if k.endswith(("weights", "_bn_offset", "biases"))]
    # 132 convolutions (111 with a folded batch norm, 21 residual up-projections with biases),
    # plus the bottleneck MatMul and its four batch-norm tensors.
    assert len(params) == 132 + 111 + 21 + 1
    assert report.graph_tensors == len(params) + 4
    assert report.derived == 111 * 4 + 1
    structure = check_structure(graph, model)
    # every conv's stride and padding, 21 residual scales, 23 concat orders, the bottleneck
    # epsilon and 3 max-pools
    assert structure.checks == 132 + 21 + 23 + 1 + 3
    assert any("no input normalisation" in n for n in structure.notes)
    for key, value in state.items():
        assert value.shape == model.state_dict()[key].shape, key
    sidecar = json.loads((facenet_cache / "weights" / "facenet-casia.json").read_text())
    assert sidecar["sha256"] == sha256_file(facenet_cache / "weights" / "facenet-casia.pt")
    assert sidecar["source_sha256"] == sha256_file(casia_graph_path())


def test_folded_batch_norm_is_an_exact_identity_plus_offset(facenet):
    bn = facenet.conv2d_2b.bn
    x = torch.randn(2, bn.num_features, 5, 5)
    assert torch.equal(bn(x), x + bn.bias[:, None, None])


def test_embeddings_match_the_original_graph_run_by_opencv(facenet, graph):
    """OpenCV executes the frozen TF graph itself: an independent reference."""
    cv2 = pytest.importorskip("cv2", reason="opencv-python-headless (dev extra) runs the graph")
    net = cv2.dnn.readNetFromTensorflow(str(casia_graph_path()))
    rng = np.random.default_rng(0)
    x = rng.normal(0.0, 0.8, size=(3, 3, 160, 160)).astype(np.float32)  # normalised input range
    reference = []
    for xi in x:  # the frozen graph's reshapes are folded for a batch of one
        net.setInput(xi[None])
        reference.append(net.forward().reshape(-1))
    ours = facenet(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(ours, np.stack(reference), atol=1e-5)


def test_structure_check_catches_a_padding_mismatch(graph):
    model = InceptionResnetV1(pretrained=None, classify=False)
    model.conv2d_2b.conv.padding = (0, 0)  # the graph pads this 3x3 conv SAME
    with pytest.raises(GraphImportError, match="Conv2d_2b_3x3"):
        check_structure(graph, model)


def test_unknown_graph_tensor_is_rejected(graph):
    from tensorboard.compat.proto.graph_pb2 import GraphDef

    broken = GraphDef()
    broken.CopyFrom(graph)
    suffix = "block35_1/Branch_2/Conv2d_0a_1x1/weights"
    node = next(n for n in broken.node if n.name.endswith(suffix))
    node.name = node.name.replace("Branch_2", "Branch_7")
    with pytest.raises(GraphImportError, match="Branch_7"):
        build_state_dict(broken, InceptionResnetV1(pretrained=None, classify=False))


def test_not_a_graph_is_a_clear_error(tmp_path):
    bad = tmp_path / "graph.pb"
    bad.write_bytes(b"\xff" * 100)
    with pytest.raises(GraphImportError, match="not a readable TensorFlow GraphDef"):
        read_graph(bad)


def test_no_source_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENT_BENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv(facenet_weights.DOWNLOAD_ENV, raising=False)
    monkeypatch.setattr(facenet_weights, "casia_graph_path", lambda: None)  # as if not installed
    with pytest.raises(WeightsError) as info:
        load_facenet("casia-webface")
    assert INSTALL_HINT in str(info.value)
    with pytest.raises(WeightsError, match="vggface2"):
        load_facenet("vggface2")


def test_unknown_weights_name_lists_valid_ones():
    with pytest.raises(WeightsError, match="casia-webface, vggface2"):
        load_facenet("casia")


def test_loads_from_a_path_and_rejects_a_wrong_file(facenet_cache, tmp_path):
    model = load_facenet(facenet_cache / "weights" / "facenet-casia.pt")
    assert not model.training and model.last_bn.running_var.abs().sum() > 0
    wrong = tmp_path / "wrong.pt"
    torch.save({"x": torch.zeros(1)}, wrong)
    with pytest.raises(WeightsError, match="not an InceptionResnetV1 state dict"):
        load_facenet(wrong)


def test_cli_import_writes_weights_and_sidecar(bench_cmd, tmp_path, monkeypatch, facenet_cache):
    monkeypatch.setenv("LATENT_BENCH_CACHE", str(tmp_path))
    res = bench_cmd("weights", "import", "facenet-casia")
    assert res.returncode == 0, res.stderr
    out = tmp_path / "weights" / "facenet-casia.pt"
    assert f"sha256 {sha256_file(out)}" in res.stdout
    # The import is deterministic: the same bytes as the session's own import, and the bytes
    # the shipped face calibrations are named after (a temporary file name changed them)
    assert sha256_file(out) == sha256_file(facenet_cache / "weights" / "facenet-casia.pt")
    assert sha256_file(out) == facenet_weights.CASIA_IMPORT_SHA256


def test_an_import_by_an_older_importer_is_done_again(tmp_path, monkeypatch, facenet_cache):
    """Imports of 7b48fa7..215d8f6 held the tensors as other bytes: every face run refitted."""
    monkeypatch.setenv("LATENT_BENCH_CACHE", str(tmp_path))
    cached = tmp_path / "weights" / "facenet-casia.pt"
    cached.parent.mkdir()
    state = torch.load(facenet_cache / "weights" / "facenet-casia.pt", weights_only=True)
    torch.save(state, tmp_path / "weights" / ".facenet-casia.pt.tmp-1")  # the old import's way
    (tmp_path / "weights" / ".facenet-casia.pt.tmp-1").rename(cached)
    sidecar = {"name": "facenet-casia", "sha256": sha256_file(cached)}  # consistent, no importer
    cached.with_suffix(".json").write_text(json.dumps(sidecar))
    assert sha256_file(cached) != facenet_weights.CASIA_IMPORT_SHA256
    assert facenet_weights.resolve_weights("casia-webface") == cached
    assert sha256_file(cached) == facenet_weights.CASIA_IMPORT_SHA256
    assert json.loads(cached.with_suffix(".json").read_text())["importer"] == 2


def test_a_file_of_another_network_is_refused_in_one_short_line(tmp_path):
    """load_state_dict would list all 714 keys (about 30 KB); the message gives counts."""
    other = tmp_path / "other.pt"
    torch.save({"x": torch.zeros(1), "y": torch.zeros(1)}, other)
    with pytest.raises(WeightsError) as info:
        load_facenet(other)
    message = str(info.value)
    assert "\n" not in message and len(message) < 400, message
    assert "not an InceptionResnetV1 state dict: 714 of its 714 keys missing" in message
    assert "conv2d_1a.conv.weight" in message and "2 unexpected (x, y)" in message
    state = InceptionResnetV1(pretrained=None, classify=False).state_dict()
    state["last_linear.weight"] = torch.zeros(3, 3)
    torch.save(state, other)
    with pytest.raises(WeightsError, match=r"1 of another shape \(last_linear.weight\)$"):
        load_facenet(other)
