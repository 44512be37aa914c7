"""ONNX exports of the torch backbones, made once per model cache, and ONNX Runtime sessions over them.

Why: at the sizes PathAtlas runs them (one image, one short query, an ask's evidence passages) ONNX Runtime needs
about half the CPU of eager torch or numpy for the same vectors, and a process that runs no other model never imports
torch. An export is named after its weights file and the torch version that wrote it, so new weights export anew;
finding one imports neither torch nor onnxruntime.
"""

from __future__ import annotations

import hashlib
import os
import threading
import warnings
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from filelock import FileLock

from pathatlas.errors import PathAtlasError

if TYPE_CHECKING:
    import torch


def runtime_available() -> bool:
    """Whether onnxruntime and onnx (the exporter needs it) are installed; without them torch or numpy run."""
    try:
        metadata.version("onnxruntime")
        metadata.version("onnx")
    except metadata.PackageNotFoundError:
        return False
    return True


def export_path(cache_dir: Path, stem: str, weights: Path) -> Path:
    """Where the export of ``weights`` lives (whether or not it exists yet)."""
    stat = weights.stat()
    stamp = f"{weights.name}|{stat.st_size}|{metadata.version('torch')}"
    return cache_dir / f"{stem}-{hashlib.blake2b(stamp.encode(), digest_size=4).hexdigest()}.onnx"


_writing = threading.Lock()


def write_once(target: Path, write: Callable[[Path], None]) -> Path:
    """``target``, written by ``write(staging)`` first if missing; a crash never leaves a half file there. One process
    and one thread at a time (a lock file beside it): two processes on a fresh model cache (``serve`` and ``index``)
    would both export, and onnxruntime's quantiser writes a fixed ``-inferred.onnx`` beside its input, which the other
    process would then delete under it (FileNotFoundError)."""
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with _writing, FileLock(target.with_name(f".{target.name}.lock")):
        if not target.is_file():
            staging = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            write(staging)
            os.replace(staging, target)
    return target


def export_module(
    module: torch.nn.Module,
    example: tuple[torch.Tensor, ...],
    target: Path,
    inputs: list[str],
    outputs: list[str],
    dynamic_axes: dict[str, dict[int, str]],
) -> None:
    """Trace ``module`` (in eval mode, without gradients) into an ONNX file at ``target``."""
    import torch

    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module.eval(),
            example,
            str(target),
            input_names=inputs,
            output_names=outputs,
            dynamic_axes=dynamic_axes,
            opset_version=17,
            dynamo=False,
        )


def threads_per_call() -> int:
    """Threads of one model call as ``OMP_NUM_THREADS`` says (the service divides the cores among its lanes there, and
    torch reads it too); else 0: ONNX Runtime's choice, one per physical core, as torch's default."""
    value = os.environ.get("OMP_NUM_THREADS", "")
    return int(value) if value.isdigit() else 0


def session(path: Path, threads: int) -> Any:
    """An ONNX Runtime CPU session with ``threads`` threads per call."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    # Idle threads sleep instead of spinning: an image query's tesseract and SIFT threads need those cores
    # (atlas image queries with their printed words read: p50 262-281 ms against 291-302 ms spinning; 137-141 ms
    # against 150-154 ms without OCR; BENCHMARKS.md).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own classes (InvalidProtobuf, Fail, ...) for a bad file
        path.unlink(missing_ok=True)  # a cache file: the next run writes it again from the shipped weights
        first_line = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise PathAtlasError(f"model cache file {path} was unreadable ({first_line}); removed it, run again") from None
