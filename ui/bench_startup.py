"""Fresh-process start-up costs of the everyday commands: wall time and the heavy modules each one imports, and how
long a fresh ``pathatlas serve`` takes to listen and to be ready (/ready).

Every run is a new interpreter (as a user's shell starts one); nothing is written to the index (the re-index
runs on a source the index already holds, so it finds it unchanged).
"""

from __future__ import annotations

import json
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

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


@dataclass
class ServeStart:
    listening_s: float
    """Until /ready first answers (503 while the models load): the service listens before its models load."""
    ready_s: float
    """Until /ready answers 200: the first search is answered without waiting for a model."""
    cpu_seconds: float


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def readiness(port: int) -> tuple[int, dict] | None:
    """/ready's status and body, or None while nothing listens on ``port``."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as answered:  # 503: listening, not ready (``problem`` says when it cannot be)
        try:
            return answered.code, json.loads(answered.read())
        except ValueError:
            return answered.code, {}
    except OSError:  # refused (not listening yet) or reset
        return None


def serve_argv(index: Path, port: int) -> list[str]:
    return [sys.executable, "-c", _RUN, "serve", "--index", str(index), "--port", str(port)]


def time_serve(index: Path, timeout: float = 300.0, poll: float = 0.05) -> ServeStart:
    """One ``pathatlas serve`` in a new interpreter on a free loopback port, polled until /ready answers 200, then
    stopped."""
    port = free_port()
    return time_server(serve_argv(index, port), port, timeout, poll)


def time_server(argv: list[str], port: int, timeout: float, poll: float, grace: float = 5.0) -> ServeStart:
    """The server ``argv`` starts, timed until ``port``'s /ready first answers and until it answers 200, then
    stopped (killed if it outlives ``grace`` seconds after SIGTERM). Its stderr goes to a file, not a pipe nobody
    reads: a chatty server would block once the pipe filled, and never get ready."""
    cpu, started = _cpu_of_children(), time.perf_counter()
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as stderr:
        process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=stderr, text=True)  # stdout: access log
        try:
            listening, ready = wait_ready(process, port, started, timeout, poll, stderr)
        finally:
            stop(process, grace)
    return ServeStart(round(listening, 2), round(ready, 2), round(_cpu_of_children() - cpu, 2))


def stop(process: subprocess.Popen, grace: float) -> None:
    """SIGTERM, then SIGKILL if the process still runs ``grace`` seconds later (one that ignores SIGTERM or hangs
    in its shutdown would be left running)."""
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def last_error(stderr: IO[str]) -> str:
    """The last line the server wrote on stderr, besides the harness's MODULES line."""
    stderr.seek(0)
    errors = [line for line in stderr.read().splitlines() if line.strip() and not line.startswith("MODULES ")]
    return errors[-1] if errors else "no message"


def wait_ready(
    process: subprocess.Popen, port: int, started: float, timeout: float, poll: float, stderr: IO[str]
) -> tuple[float, float]:
    """Seconds from ``started`` until /ready first answered and until it answered 200. Refused in one line as soon
    as the server exits (its last stderr line) or says it cannot get ready (its ``problem``), not at the timeout."""
    listening = None
    while time.perf_counter() - started < timeout:
        if process.poll() is not None:
            raise BadInputError(f"pathatlas serve failed: {last_error(stderr)}")
        answer = readiness(port)
        now = time.perf_counter() - started
        if answer is not None:
            listening = now if listening is None else listening
            status, body = answer
            if status == 200:
                return listening, now
            if body.get("problem"):
                raise BadInputError(f"pathatlas serve cannot get ready: {body['problem']}")
        time.sleep(poll)
    raise BadInputError(f"pathatlas serve was not ready within {timeout:.0f} s (last on stderr: {last_error(stderr)})")


def bench_startup(
    index: Path, source: Path | None, query: str, repeats: int = 3, image: Path | None = None
) -> dict[str, Any]:
    """Per command over ``repeats`` fresh processes: median and best wall seconds, median CPU seconds (what a
    busy machine distorts least) and the heavy modules loaded; for ``serve``, until it is ready (and ``listening_s``,
    until it first answers; its modules are not reported: it is stopped, not exited)."""
    result: dict[str, Any] = {}
    for name, args in commands(index, source, query, image).items():
        runs = [run_once(args) for _ in range(repeats)]
        result[name] = {
            "median_s": round(statistics.median(r.seconds for r in runs), 2),
            "best_s": round(min(r.seconds for r in runs), 2),
            "cpu_s": round(statistics.median(r.cpu_seconds for r in runs), 2),
            "heavy_modules": runs[-1].heavy_modules,
        }
    starts = [time_serve(index) for _ in range(repeats)]
    result["serve until ready"] = {
        "median_s": statistics.median(s.ready_s for s in starts),
        "best_s": min(s.ready_s for s in starts),
        "cpu_s": round(statistics.median(s.cpu_seconds for s in starts), 2),
        "heavy_modules": None,
        "listening_s": statistics.median(s.listening_s for s in starts),
    }
    return result
