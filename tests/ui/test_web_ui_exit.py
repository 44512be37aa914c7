"""The web UI's API in process ends with its process: the engine's lanes, watcher and warm-up stop before the
interpreter tears down the native libraries under them. CI's web UI test aborted at exit ("terminate called without
an active exception") when the process ended while the warm-up still loaded Tesseract and ONNX Runtime."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.helpers import hashing_env

EXIT_WHILE_WARMING_UP = """
import sys, time
from pathlib import Path
from pathatlas.retrieval.search import Searcher

marks = Path(sys.argv[1])
find_many = Searcher.find_many

def slow(searcher, queries):
    with marks.open("a") as out:
        out.write("searching\\n")
    time.sleep(2)
    found = find_many(searcher, queries)
    with marks.open("a") as out:
        out.write("searched\\n")
    return found

Searcher.find_many = slow
from pathatlas.ui.web_client import backend

backend()  # the API in process: its warm-up searches in the background
deadline = time.monotonic() + 120
while "searching" not in (marks.read_text() if marks.exists() else "") and time.monotonic() < deadline:
    time.sleep(0.05)
"""


def test_the_process_waits_for_the_warm_up_search_in_flight_as_it_exits(tmp_path):
    marks = tmp_path / "marks"
    env = {k: v for k, v in os.environ.items() if k != "PATHATLAS_API_URL"}
    env.update(hashing_env(tmp_path / "home"), PATHATLAS_INDEX=str(tmp_path / "index"), HF_HUB_OFFLINE="1")
    run = subprocess.run(
        [sys.executable, "-c", EXIT_WHILE_WARMING_UP, str(marks)], env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert marks.read_text().split() == ["searching", "searched"], "the exit cut the warm-up's search short"
