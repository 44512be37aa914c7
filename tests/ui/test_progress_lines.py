"""A run that draws no progress bar (stderr a log file or a pipe) still says how far it got, in plain lines at most
every ``PROGRESS_LINE_SECONDS``: an upgrade of a 998-page book logged "(1/1) book.pdf", then nothing for minutes."""

from __future__ import annotations

import json

from pathatlas.retrieval.encoders.hashing import HashingEncoder
from pathatlas.ui import cli_common
from pathatlas.ui.bench_crash import make_pdf
from tests.helpers import run_cli


def test_progress_lines_are_spaced_in_time_and_say_the_share_done(monkeypatch):
    told: list[str] = []
    monkeypatch.setattr(cli_common.err_console, "print", lambda text, **_: told.append(text))
    now = [0.0]
    lines = cli_common.ProgressLines(clock=lambda: now[0])
    for second, done in ((10, 100), (31, 200), (40, 300), (62, 998)):
        now[0] = second
        lines("/books/book.pdf", done, 998)
    assert told == ["book.pdf: 200 of 998 items (20%)", "book.pdf: 998 of 998 items (100%)"]


def test_an_index_run_into_a_log_writes_progress_lines_and_json_stays_json(tmp_path, monkeypatch):
    monkeypatch.setattr(cli_common, "PROGRESS_LINE_SECONDS", 0.0)
    book = make_pdf(tmp_path / "book.pdf", 3, "v1")
    env = {"PATHATLAS_ENCODER": HashingEncoder.name, "PATHATLAS_CASE_KEYPOINTS": "0"}
    logged = run_cli("index", book, "--index", tmp_path / "idx", home=tmp_path / "home", **env)
    assert logged.exit_code == 0, logged.output
    assert any(line.startswith("book.pdf: ") and " of 3 items" in line for line in logged.stderr.splitlines())
    quiet = run_cli(
        "index",
        make_pdf(tmp_path / "more.pdf", 2, "v1"),
        "--index",
        tmp_path / "idx",
        "--json",
        home=tmp_path / "home",
        **env,
    )
    assert quiet.exit_code == 0 and json.loads(quiet.stdout) and " of 2 items" not in quiet.stderr, quiet.output
