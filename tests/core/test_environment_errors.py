"""The disk and environment errors the machine must fix, read from one table by every layer that names them."""

from __future__ import annotations

import os

import pytest

from pathatlas.retrieval.stores import faiss_store
from pathatlas.settings import ENVIRONMENT_ERRORS


@pytest.mark.parametrize("code", sorted(ENVIRONMENT_ERRORS))
def test_a_failed_faiss_write_is_the_environment_error_its_words_name(tmp_path, monkeypatch, code):
    """FAISS names the system's reason only in words: each error of the table (a folder without permission, a file
    where a folder must be) is raised as the ``OSError`` it is, so the user reads one line, not a traceback."""

    def failing(index, name):
        raise RuntimeError(f"Error in faiss::FileIOWriter: could not open {name} for writing: {os.strerror(code)}")

    monkeypatch.setattr(faiss_store.faiss, "write_index", failing)
    with pytest.raises(OSError) as raised:
        faiss_store._write_index(None, tmp_path / "text.faiss")
    assert raised.value.errno == code and raised.value.filename == str(tmp_path / "text.faiss")
