"""Each lane's thread runs FAISS on the service's share of the cores (``share_cores``), FAISS imported first
included: OpenMP keeps its thread count per thread, and a lane's thread took the one OpenMP read as FAISS loaded."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import hashing_env

REPO = Path(__file__).parents[2]
LANE_COUNTS = """
import os, threading
import faiss  # first, as a test, the MCP server, LangChain or a notebook loads it
from pathatlas.settings import load_settings
from pathatlas.ui.api.engine import Engine

def fresh_thread_count():
    counts = []
    thread = threading.Thread(target=lambda: counts.append(faiss.omp_get_max_threads()))
    thread.start()
    thread.join()
    return counts[0]

unshared = fresh_thread_count()
os.environ["OMP_NUM_THREADS"] = str(unshared + 1)  # a share that differs from what a thread takes by itself
engine = Engine(load_settings())
lanes = (engine.text_lane, engine.image_lane, engine.ask_lane)
for lane in lanes:
    lane.run_batch = lambda items: [faiss.omp_get_max_threads() for _ in items]
counts = [lane.submit(None).result(timeout=30) for lane in lanes]
engine.close()
print(unshared, *counts)
"""


def test_every_lane_thread_runs_faiss_on_the_shared_count_when_faiss_was_imported_first(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    env.update(hashing_env(tmp_path / "home"), PATHATLAS_INDEX=str(tmp_path / "index"), HF_HUB_OFFLINE="1")
    run = subprocess.run(
        [sys.executable, "-c", LANE_COUNTS], env=env, cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-3000:]
    unshared, *lanes = map(int, run.stdout.split())
    assert lanes == [unshared + 1] * 3, f"a new thread takes {unshared}; the lanes (text, image, ask) ran {lanes}"
