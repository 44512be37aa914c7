"""Load on the REST service: N concurrent clients on loopback for a bounded time.

The service runs as its own process (``pathatlas serve``), so the load generator does not share its
interpreter; traffic goes to 127.0.0.1 only, and the run stops by itself after ``seconds``.
"""

from __future__ import annotations

import asyncio
import io
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from pathatlas.corpora.demo import draw_pattern
from pathatlas.retrieval.bench.speed import TEXT_QUERIES
from pathatlas.retrieval.metrics import percentile_ms

PATTERNS = ["koilocytes", "granuloma", "glands", "keratin-pearls", "alveoli", "small-blue-cells"]

ASK = {
    "question": "Which cells show a clear perinuclear halo in HPV infection?",
    "options": ["Koilocytes", "Langhans giant cells", "Goblet cells", "Type II pneumocytes"],
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(index: Path, port: int, timeout: float = 300.0, ready: bool = True) -> subprocess.Popen:
    """``pathatlas serve`` on loopback; returns once it answers (and, with ``ready``, has loaded its models)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    command = [
        sys.executable,
        "-c",
        "from pathatlas.ui.cli import app; app()",
        "serve",
        "--index",
        str(index),
        "--port",
        str(port),
    ]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the service exited: {process.stderr.read().decode()[-500:]}")
        try:
            health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
            if health.status_code == 200 and (health.json().get("ready", True) or not ready):
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    process.kill()
    raise RuntimeError(f"the service did not answer on port {port} within {timeout:.0f} s")


def png_bytes(seed: int) -> bytes:
    buffer = io.BytesIO()
    draw_pattern(PATTERNS[seed % len(PATTERNS)], seed).save(buffer, "PNG")
    return buffer.getvalue()


async def client(n: int, base: str, until: float, samples: dict[str, list[float]], errors: dict[str, int]) -> None:
    """One user: mostly text searches, an image search every 4th request (the first one), an ask every 10th."""
    images = [png_bytes(n * 100 + i) for i in range(3)]
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        step = 0
        while time.perf_counter() < until:
            kind = "ask" if step % 10 == 9 else "image" if step % 4 == 0 else "text"
            started = time.perf_counter()
            try:
                if kind == "text":
                    response = await http.post("/search", json={"text": TEXT_QUERIES[(n + step) % len(TEXT_QUERIES)]})
                elif kind == "image":
                    response = await http.post("/search/image", files={"image": ("q.png", images[step % 3])})
                else:
                    response = await http.post("/ask", json=ASK)
                response.raise_for_status()
                samples[kind].append(time.perf_counter() - started)
            except httpx.HTTPError as exc:
                counted = f"{kind}: {error_kind(exc)}"
                errors[counted] = errors.get(counted, 0) + 1
            step += 1


def error_kind(exc: httpx.HTTPError) -> str:
    """How a failed request is counted: an answer by its status (``HTTP 400``, as a text-only encoder's image
    searches get, told apart from an overload's ``HTTP 503``), anything else by its class (``ReadTimeout``)."""
    if isinstance(exc, httpx.HTTPStatusError):
        return f"HTTP {exc.response.status_code}"
    return type(exc).__name__


def latencies(seconds: list[float]) -> dict[str, Any]:
    """``n`` and the p50/p95/p99 ms of one kind's successful requests; None where none succeeded (nothing was
    measured: a 0.0 would read as instant)."""
    return {
        "n": len(seconds),
        **{f"p{q}_ms": round(percentile_ms(seconds, q), 1) if seconds else None for q in (50, 95, 99)},
    }


def bench_serve(index: Path, clients: int = 20, seconds: float = 30.0, base: str | None = None) -> dict[str, Any]:
    process = None
    if base is None:
        port = free_port()
        process = start_server(index, port)
        base = f"http://127.0.0.1:{port}"
    samples: dict[str, list[float]] = {"text": [], "image": [], "ask": []}
    errors: dict[str, int] = {}
    try:
        started = time.perf_counter()
        until = started + seconds

        async def run_all() -> None:
            await asyncio.gather(*(client(n, base, until, samples, errors) for n in range(clients)))

        asyncio.run(run_all())
        elapsed = time.perf_counter() - started
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=30)
    total = sum(len(v) for v in samples.values())
    return {
        "clients": clients,
        "seconds": round(elapsed, 1),
        "requests": total,
        "throughput_rps": round(total / elapsed, 2),
        "errors": sum(errors.values()),
        "error_kinds": errors,
        **{kind: latencies(timings) for kind, timings in samples.items()},
    }
