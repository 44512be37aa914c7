"""Ctrl-C on ``pathatlas index`` says what it left: typer alone ends the process with status 130 and no word."""

from __future__ import annotations

from pathatlas.indexer.pipeline import Indexer
from pathatlas.ui.bench_crash import make_pdf
from tests.helpers import run_cli


def test_an_interrupted_index_run_says_what_it_kept_and_exits_130(hashing_cli, monkeypatch):
    pdf = make_pdf(hashing_cli / "book.pdf", 2, "v1")

    def interrupted(self, paths, force=False):
        raise KeyboardInterrupt

    monkeypatch.setattr(Indexer, "add", interrupted)
    result = run_cli("index", pdf, "--index", hashing_cli / "idx")
    assert result.exit_code == 130
    assert "interrupted: the sources committed before it stay indexed" in result.stderr
