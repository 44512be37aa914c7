"""``pathatlas ui`` listens on loopback unless told, and shared beyond it (a class on one machine's UI) shows a
read-only Library: Streamlit listened on every interface, and any visitor could remove a book, writing as the UI with
its token."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pathatlas.ui import cli
from pathatlas.ui.bench_serve import free_port
from tests.helpers import app_test_said


class Child:
    """A Streamlit that ends at once: what ``ui`` started, and with which environment."""

    started: list[tuple[list[str], dict[str, str]]] = []

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        Child.started.append((command, env))

    def wait(self, timeout: float | None = None) -> int:
        return 0

    def poll(self) -> int:
        return 0


@pytest.mark.parametrize(
    ("arguments", "address", "read_only"),
    [
        ([], "127.0.0.1", False),
        (["--host", "localhost"], "localhost", False),
        (["--host", "0.0.0.0"], "0.0.0.0", True),
        (["--host", "0.0.0.0", "--insecure"], "0.0.0.0", False),
    ],
)
def test_the_ui_listens_where_told_and_is_read_only_beyond_loopback(monkeypatch, arguments, address, read_only):
    monkeypatch.setattr(subprocess, "Popen", Child)
    monkeypatch.delenv(cli.READ_ONLY_ENV, raising=False)
    Child.started.clear()
    result = CliRunner().invoke(cli.app, ["ui", "--port", str(free_port()), *arguments])
    assert result.exit_code == 0, result.output
    ((command, env),) = Child.started
    assert command[command.index("--server.address") + 1] == address
    assert (env.get(cli.READ_ONLY_ENV) == "1") == read_only
    assert ("read-only" in result.output) == read_only, "the one starting it is told"


LIBRARY = r"""
import json, os, sys
from streamlit.testing.v1 import AppTest

seen = {}
for read_only in ("0", "1"):
    os.environ["PATHATLAS_UI_READ_ONLY"] = read_only
    app = AppTest.from_file(sys.argv[1], default_timeout=180)
    app.run()
    seen[read_only] = {
        "buttons": [b.label for b in app.button],
        "uploads": len(app.get("file_uploader")),
        "captions": [c.value for c in app.caption],
    }
print(json.dumps(seen), flush=True)
os._exit(0)  # threads left by the in-process API can abort the interpreter's exit (134)
"""


def test_a_read_only_library_lists_its_sources_without_add_or_remove(demo_index, tmp_path):
    index = tmp_path / "index"
    shutil.copytree(demo_index.path, index)
    env = {k: v for k, v in os.environ.items() if k != "PATHATLAS_API_URL"}
    env.update(PATHATLAS_INDEX=str(index), PATHATLAS_HOME=str(demo_index.settings.home), HF_HUB_OFFLINE="1")
    script = Path(__file__).resolve().parents[2] / "ui" / "streamlit_app.py"
    command = [sys.executable, "-c", LIBRARY, str(script)]
    seen = app_test_said(command, env)
    writable, shared = seen["0"], seen["1"]
    assert "Remove" in writable["buttons"], "the check below can fail"
    assert shared["uploads"] == writable["uploads"] - 1, "the search's and ask's image uploads stay, the library's goes"
    assert "Remove" not in shared["buttons"]
    assert any("read-only" in caption for caption in shared["captions"])
    assert any(caption.startswith("In total:") for caption in shared["captions"]), "its sources are still listed"
