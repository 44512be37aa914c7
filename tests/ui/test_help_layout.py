"""``--help`` that reads well at any width, and the servers' benchmarks saying how their text queries were encoded.

The ``bench`` commands' help broke its sentences where the docstrings wrap at 120 characters ("run both under one
PYTHONHASHSEED (the server" / "inherits the environment)."); ``bench mcp`` and ``bench serve`` ran a server that
encoded text queries by MiniLM's 8-bit export or exactly, by what the model cache happened to hold."""

from __future__ import annotations

import hashlib
import json
import re
from types import SimpleNamespace

import pytest
import typer

from pathatlas.retrieval.bench.common import EIGHT_BIT_QUERIES
from pathatlas.ui.cli import app
from tests.bench.test_bench_own_data import question
from tests.helpers import hashing_env, indexed_book, run_cli


def command_paths(command=None, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command line ``pathatlas`` takes, groups (``bench``) and their commands included."""
    command = command or typer.main.get_command(app)
    found = [path]
    for name, sub in getattr(command, "commands", {}).items():
        found += command_paths(sub, (*path, name))
    return found


COMMANDS = command_paths()
WIDE = 200
PROSE_LINE = re.compile(r"^ \S")
"""A line of a paragraph as help shows it (one column of padding); an example or a ``\\b`` line is indented more."""


def help_of(path: tuple[str, ...], columns: int) -> str:
    result = run_cli(*path, "--help", COLUMNS=str(columns))
    assert result.exit_code == 0, result.output
    return result.stdout


def described(shown: str) -> list[str]:
    """The help's text above its option and command boxes, line by line, without the padding to the width."""
    return [line.rstrip() for line in shown.split("╭")[0].splitlines()]


def examples_of(path: tuple[str, ...]) -> list[str]:
    """A command's example lines (and ``\\b`` blocks') as its help shows them: indented, after one column."""
    command = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]
    return [f" {line.rstrip()}" for line in (command.help or "").splitlines() if line.startswith("    ")]


@pytest.mark.parametrize("path", COMMANDS, ids=lambda path: " ".join(path) or "pathatlas")
def test_no_line_of_a_paragraph_ends_before_the_width_does(path):
    """At 200 columns a paragraph's line that its paragraph goes on after was filled to the width (Rich wrapped it),
    never ended short where the docstring wraps."""
    lines = described(help_of(path, WIDE))
    broken = [
        line
        for line, after in zip(lines, lines[1:], strict=False)
        if PROSE_LINE.match(line) and PROSE_LINE.match(after) and len(line) < WIDE - 40
    ]
    assert not broken, broken


def test_a_long_bench_sentence_shows_whole_on_one_line():
    lines = described(help_of(("bench", "mcp"), WIDE))
    sentence = "For answer-by-answer agreement run both under one PYTHONHASHSEED (the server inherits the environment)."
    assert any(sentence in line for line in lines), lines


@pytest.mark.parametrize("columns", [WIDE, 80])
def test_each_example_stays_one_line(columns):
    """Examples (and the \\b blocks of ``mcp``) keep their own lines, one example a line, and fit 80 columns: a wrapped
    example went on at the first column ("B=osteoclast", "http://127.0.0.1:8000/docs"), read as a line of its own."""
    wrapped = {}
    for path in COMMANDS:
        lines = described(help_of(path, columns))
        if missing := [example for example in examples_of(path) if example not in lines]:
            wrapped[path] = missing
    assert not wrapped, wrapped
    assert len([path for path in COMMANDS if examples_of(path)]) >= 9  # every first-hour command has examples


# -- the servers' benchmarks record how text queries were encoded ----------------------------------------------------


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    return indexed_book(tmp_path_factory.mktemp("help-book"))


@pytest.fixture
def events(monkeypatch) -> list[str]:
    """What happened, in order: the query vectors settled (as by MiniLM's 8-bit export), the server started."""
    import pathatlas.retrieval.bench.common as common

    happened: list[str] = []

    def settle(encoder):
        happened.append("settled")
        return EIGHT_BIT_QUERIES

    monkeypatch.setattr(common, "settle_query_vectors", settle)
    return happened


def record_of_the_shared_kind(book, monkeypatch) -> set[str]:
    """The fields ``run_record`` writes for this index, as ``bench qa`` and ``bench retrieval`` write them: ``bench
    serve`` and ``bench mcp`` wrote none of them (input hashes, git commit, index, settings)."""
    from pathatlas.retrieval.bench.common import run_record
    from pathatlas.retrieval.index import Index
    from pathatlas.ui.cli_common import settings_for

    for name, value in hashing_env(book / "home").items():
        monkeypatch.setenv(name, value)
    settings = settings_for(book / "idx")
    with Index.open(settings.index_dir, settings) as idx:
        return set(run_record({}, idx, {}))


def test_bench_serve_settles_query_vectors_before_the_server_starts_and_records_them(book, events, monkeypatch):
    import pathatlas.ui.bench_serve as bench_serve

    def load(index, clients, seconds, **options):
        events.append("server started")
        measured = dict.fromkeys(("text", "image", "ask"), {"n": 1, "p50_ms": 1.0, "p95_ms": 1.0, "p99_ms": 1.0})
        return {"seconds": seconds, "throughput_rps": 1.0, "errors": 0} | measured

    monkeypatch.setattr(bench_serve, "bench_serve", load)
    args = ["bench", "serve", "--index", book / "idx", "--clients", 3, "--seconds", 1, "--json", "-"]
    result = run_cli(*args, home=book / "home")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    run = document["run"]
    assert (run["clients"], run["seconds"], run["query_vectors"]) == (3, 1.0, EIGHT_BIT_QUERIES)
    assert events == ["settled", "server started"]
    assert run["index"] == str((book / "idx").resolve())
    assert record_of_the_shared_kind(book, monkeypatch) <= set(run)
    assert document["throughput_rps"] == 1.0  # what it measured beside the record
    assert f"text queries encoded {EIGHT_BIT_QUERIES}" in " ".join(result.stderr.split())


class FirstOptionDoor:
    """An MCP client whose server answers the first option to every question; ``started``, where a test sets it,
    hears the server start."""

    started: list[str] | None = None

    def __init__(self, server):
        self.server = server

    async def __aenter__(self):
        if self.started is not None:
            self.started.append("server started")
        return self

    async def __aexit__(self, *stopped):
        return None

    async def call_tool(self, name, arguments):
        answer = {"choice": 0, "answer": arguments["options"][0], "confidence": 0.5, "citations": []}
        return SimpleNamespace(is_error=False, content=[SimpleNamespace(text=json.dumps(answer))])


def test_bench_mcp_settles_query_vectors_before_the_server_starts_and_records_them(book, events, monkeypatch, tmp_path):
    import mcp

    monkeypatch.setattr(FirstOptionDoor, "started", events)
    monkeypatch.setattr(mcp, "Client", FirstOptionDoor)
    questions = tmp_path / "q.jsonl"
    questions.write_text(json.dumps(question(0)))
    args = ["bench", "mcp", "--questions", questions, "--index", book / "idx", "--no-compare", "--json", "-"]
    result = run_cli(*args, home=book / "home")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    run = document["run"]
    assert (run["answerer"], run["modes"], run["query_vectors"]) == ("offline", ["mcp"], EIGHT_BIT_QUERIES)
    assert document["modes"]["mcp"]["accuracy"] == 1.0 and "query_vectors" not in document  # said once, in the run
    assert events == ["settled", "server started"]
    assert run["questions"] == str(questions.resolve())
    assert run["questions_sha256"] == hashlib.sha256(questions.read_bytes()).hexdigest()
    assert record_of_the_shared_kind(book, monkeypatch) <= set(run)
