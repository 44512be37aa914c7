"""A local Qdrant copy (qdrant-client's local mode, ``pathatlas export --to FOLDER``) open in another process: its
client locks the folder, and opening it again is one error line, not qdrant-client's RuntimeError (the CLI printed a
210-line traceback). Hashing encoder and a small PDF."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pathatlas.errors import IndexBusyError
from pathatlas.retrieval.stores import open_store
from tests.helpers import one_error_line
from tests.retrieval.test_index_folder_faults import qdrant_index, run

HOLD_FOLDER = """
import sys
from qdrant_client import QdrantClient
client = QdrantClient(path=sys.argv[1])
print("holding", flush=True)
sys.stdin.read()
client.close()
"""
"""Another process (a server, a search) with the local copy open until its stdin closes."""


def test_a_local_copy_open_in_another_process_is_one_error_line_and_opens_once_it_is_closed(tmp_path):
    settings, twin = qdrant_index(tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_FOLDER, str(twin)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline() == "holding\n"
        line = one_error_line(run(settings, "search", "alpha page", "--index", settings.index_dir))
        assert f"the local Qdrant copy at {twin.resolve()} is open in another process" in line, line
        assert "Qdrant server" in line and "--store faiss" in line, line
    finally:
        holder.communicate("", timeout=60)
    assert "alpha.pdf" in run(settings, "search", "alpha page", "--index", settings.index_dir).output


def test_a_second_open_in_one_process_is_the_same_error(settings, tmp_path):
    """What the server's own second opener meets (the lock is per open file, so one process reproduces it)."""
    twin = settings.model_copy(update={"qdrant_url": str(tmp_path / "twin")})
    first = open_store("qdrant", tmp_path / "store", {"text": 4}, twin)
    try:
        with pytest.raises(IndexBusyError, match="is open in another process"):
            open_store("qdrant", tmp_path / "other-store", {"text": 4}, twin)
    finally:
        first.close()
    open_store("qdrant", tmp_path / "other-store", {"text": 4}, twin).close()
