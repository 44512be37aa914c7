"""Fresh-process start-up costs of the everyday commands: wall time and the heavy modules each one imports.

Every run is a new interpreter (as a user's shell starts one); nothing is written to the index (the re-index
runs on a source the index already holds, so it finds it unchanged).
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pathatlas.errors import BadInputError

HEAVY = ("torch", "torchvision", "sentence_transformers", "numba", "scipy.sparse", "pymupdf", "faiss")
"""Modules that cost from a tenth of a second to seconds to import."""

_RUN = (
    "import json, sys\nfrom pathatlas.ui.cli import app\n"
    "try:\n    app()\nexcept SystemExit as exit:\n    code = exit.code\nelse:\n    code = 0\n"
    f"print('MODULES', json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)), file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def commands(index: Path, source: Path | None, query: str, image: Path | None = None) -> dict[str, list[str]]:
    found = {
        "help": ["--help"],
        "info": ["info", "--index", str(index), "--json"],
        "text search": ["search", query, "--index", str(index), "--json"],
    }
    if image is not None:
        found["image search"] = ["search", "--image", str(image), "--index", str(index), "--json"]
    if source is not None:
        found["unchanged re-index"] = ["index", str(source), "--index", str(index), "--json"]
    return found


def _cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class FreshRun:
    done: subprocess.CompletedProcess
    seconds: float
    cpu_seconds: float
    heavy_modules: list[str]
    """Which of ``HEAVY`` the process had imported when it exited."""


def run_fresh(args: list[str], env: dict[str, str] | None = None, timeout: float | None = None) -> FreshRun:
    """One ``pathatlas ARGS`` in a new interpreter: its output, wall and CPU seconds and heavy imports."""
    started, cpu = time.perf_counter(), _cpu_of_children()
    done = subprocess.run(
        [sys.executable, "-c", _RUN, *args], capture_output=True, text=True, env=env, timeout=timeout, check=False
    )
    seconds, cpu = time.perf_counter() - started, _cpu_of_children() - cpu
    line = next((line for line in done.stderr.splitlines() if line.startswith("MODULES ")), "MODULES []")
    return FreshRun(done, seconds, cpu, json.loads(line.removeprefix("MODULES ")))


def run_once(args: list[str]) -> FreshRun:
    run = run_fresh(args)
    if run.done.returncode != 0:
        errors = [line for line in run.done.stderr.splitlines() if not line.startswith("MODULES ")]
        raise BadInputError(f"pathatlas {' '.join(args)} failed: {errors[-1] if errors else 'no message'}")
    return run


def bench_startup(
    index: Path, source: Path | None, query: str, repeats: int = 3, image: Path | None = None
) -> dict[str, Any]:
    """Per command over ``repeats`` fresh processes: median and best wall seconds, median CPU seconds (what a
    busy machine distorts least) and the heavy modules loaded."""
    result: dict[str, Any] = {}
    for name, args in commands(index, source, query, image).items():
        runs = [run_once(args) for _ in range(repeats)]
        result[name] = {
            "median_s": round(statistics.median(r.seconds for r in runs), 2),
            "best_s": round(min(r.seconds for r in runs), 2),
            "cpu_s": round(statistics.median(r.cpu_seconds for r in runs), 2),
            "heavy_modules": runs[-1].heavy_modules,
        }
    return result
