"""ONNX: the torch.export-based exporter (``torch.onnx.export(..., dynamo=True)``), one
self-contained file (weights inside, no ``.onnx.data`` beside it), ``onnx.checker`` clean, the
batch dimension dynamic; run with ONNX Runtime.

A run with quantile scaling is refused: its graph needs the inverse error function and a
sorted search, which ONNX has no operators for (pt2 and TorchScript export it).

Needs the ``export`` extra (onnx, onnxscript, onnxruntime): ``pip install 'mlpkit[export]'``.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import ExportError, require

FILE = "model.onnx"
NEEDS = ("onnx", "onnxscript", "onnxruntime")


def serialize(
    serving: nn.Module, example: dict[str, torch.Tensor], spec: dict[str, Any], opset: int | None
) -> tuple[bytes, dict[str, Any]]:
    """The ONNX file's bytes, checked, with the export's ``model.json`` in its metadata."""
    if getattr(serving, "quantile", False):
        raise ExportError(
            "the run's quantile scaling cannot be exported to onnx; retrain with "
            "--numeric-scaling robust or standard"
        )
    onnx = require("onnx", "export")
    require("onnxscript", "export")
    batch = torch.export.Dim("batch", min=1)
    with _quiet_exporter():
        program = torch.onnx.export(
            serving,
            (),
            kwargs=example,
            input_names=list(example),
            output_names=[spec["output"]["name"]],
            dynamic_shapes={name: {0: batch} for name in example},
            opset_version=opset,
            dynamo=True,
            external_data=False,
            verbose=False,
        )
    proto = program.model_proto
    _imputers(proto)
    onnx.helper.set_model_props(proto, {"mlpkit": json.dumps(spec)})
    onnx.checker.check_model(proto, full_check=True)
    opsets = {o.domain or "ai.onnx": o.version for o in proto.opset_import}
    return proto.SerializeToString(), {"opset": opsets.get("ai.onnx")}


def load(path: Path):
    """An ONNX Runtime session on the file, as a function of the graph's named inputs (the
    session kept as its ``session`` attribute).

    The session has one thread. A call of up to ``CHUNK_ROWS`` rows runs on it directly; a
    larger batch is cut into chunks of ``CHUNK_ROWS`` rows that as many worker threads as torch
    uses (``torch.set_num_threads``) take in turn, each on one core, their outputs
    then joined. Measured on a busy 2-core machine (``benchmarks/RESULTS.md``): a chunk's
    element-wise preprocessing stays in the cache (over the whole batch it streams memory), and
    a core never waits at an operator for the other one, which a two-thread session does at
    each of its operators; together, 40 % less time for a batch of 4096 rows.
    """
    ort = require("onnxruntime", "export")
    session = ort.InferenceSession(str(path), session_options(1), providers=_CPU)
    workers = torch.get_num_threads()
    pool = ThreadPoolExecutor(workers, "mlpkit-onnx") if workers > 1 else None
    output = [session.get_outputs()[0].name]  # named once: the first output is the one read

    def run(inputs: dict[str, np.ndarray]) -> np.ndarray:
        rows = len(next(iter(inputs.values())))
        if rows <= CHUNK_ROWS:
            return session.run(output, inputs)[0]

        def chunk(start: int) -> np.ndarray:
            piece = {name: a[start : start + CHUNK_ROWS] for name, a in inputs.items()}
            return session.run(output, piece)[0]

        # ONNX Runtime lets go of the GIL while it runs, so the workers run side by side.
        starts = range(0, rows, CHUNK_ROWS)
        return np.concatenate(list(map(chunk, starts) if pool is None else pool.map(chunk, starts)))

    run.session = session  # type: ignore[attr-defined]
    return run


CHUNK_ROWS = 256  # rows per session call: of 128, 256, 512 and 1024, the fastest for 4096 rows
_CPU = ["CPUExecutionProvider"]


def session_options(threads: int | None = None):
    """ONNX Runtime's options for a prediction session: every graph optimisation, operators
    one after another, ``threads`` threads (as many as torch uses by default), and threads that
    sleep between calls instead of spinning: on a machine whose cores are shared, a spinning
    pool takes the cores the next call (and the other processes) need, which made batches of
    4096 rows a quarter slower on a busy 2-core machine."""
    ort = require("onnxruntime", "export")
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: no notes about unused initialisers
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.inter_op_num_threads = 1  # sequential: no second pool
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def _imputers(proto: Any) -> None:
    """The fill of missing values, ``Where(IsNaN(x), fill, x)`` as the exporter writes it, as
    ONNX-ML's ``Imputer`` (one value per column), which gives the same values: ONNX Runtime's
    ``Where`` takes one thread and as long as six element-wise operators, a third of the
    preprocessing's time for a batch of 4096 rows. Anything else is left as it is."""
    onnx = require("onnx", "export")
    graph = proto.graph
    constants = {i.name: i for i in graph.initializer}
    tests = {n.output[0]: n for n in graph.node if n.op_type == "IsNaN"}
    readers: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            readers[name] = readers.get(name, 0) + 1
    nodes, rewritten = [], False
    for node in graph.node:
        test = tests.get(node.input[0]) if node.op_type == "Where" else None
        fill = constants.get(node.input[1]) if test is not None else None
        values = None if fill is None else onnx.numpy_helper.to_array(fill)
        # Only a float32 column-wise fill of the very values tested: Imputer's case exactly.
        if values is None or values.dtype != np.float32 or values.ndim > 1:
            nodes.append(node)
            continue
        if test is None or node.input[2] != test.input[0]:
            nodes.append(node)
            continue
        nodes.append(
            onnx.helper.make_node(
                "Imputer",
                [test.input[0]],
                list(node.output),
                name=f"{node.name}_imputer",
                domain="ai.onnx.ml",
                imputed_value_floats=values.reshape(-1).tolist(),
                replaced_value_float=float("nan"),
            )
        )
        readers[test.output[0]] -= 1
        rewritten = True
    if not rewritten:
        return
    kept = [n for n in nodes if n.op_type != "IsNaN" or readers.get(n.output[0], 0) > 0]
    del graph.node[:]
    graph.node.extend(kept)
    if not any(o.domain == "ai.onnx.ml" for o in proto.opset_import):
        proto.opset_import.append(onnx.helper.make_opsetid("ai.onnx.ml", 1))


@contextmanager
def _quiet_exporter() -> Iterator[None]:
    """The exporter's own notes (the torchvision operators it skips, remarks on torch's
    internals) stay out of the command's output; its errors still surface as exceptions."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            # Notes about torch's own internals, nothing a user can act on.
            warnings.filterwarnings("ignore", message="# The axis name")
            warnings.filterwarnings("ignore", message=".*isinstance.treespec, LeafSpec")
            yield
    finally:
        logger.setLevel(level)
