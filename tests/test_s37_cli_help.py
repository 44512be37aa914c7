"""``--help`` that reads as a command line does, and the servers' benchmarks recording which code and index they ran.

Help showed Python's types after every option: ``--json <bool>`` after a flag, ``--images <list[Path]>`` after a
repeatable path option, ``<str>`` and ``<path>`` elsewhere, and ``PATH <list[Path]>`` for an argument. It now shows
Click's words (``--images PATH``, ``--limit INTEGER``), nothing after a flag, an argument's name alone. ``bench serve``
and ``bench mcp`` wrote no run record (input hashes, git commit, index, settings) where every other JSON-writing
benchmark of an index did."""

from __future__ import annotations

import hashlib
import json
import re

import pytest
import typer

from pathatlas.retrieval.bench.common import EIGHT_BIT_QUERIES
from pathatlas.ui.cli import app
from tests.helpers import hashing_env, indexed_book, run_cli
from tests.test_bench_own_data import question
from tests.test_s36_help import FirstOptionDoor, command_paths

COMMANDS = command_paths()
PYTHON_TYPE = re.compile(r"<(?:bool|str|int|float|path|list\[|tuple\[|dict\[)[^>]*>")
"""A Python type as Typer shows it (``<bool>``, ``<list[Path]>``); ``<PATHATLAS_HOME>`` in a help text is no type."""


def command_at(path: tuple[str, ...]):
    command = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]
    return command


def help_of(path: tuple[str, ...]) -> str:
    """The help as a terminal 200 columns wide shows it, box borders out."""
    result = run_cli(*path, "--help")
    assert result.exit_code == 0, result.output
    return result.stdout.replace("│", " ")


def row_names(path: tuple[str, ...]) -> list[str]:
    """What starts each option's and argument's row: its long option, else its short one, else its metavar or name."""
    params = [*command_at(path).params, "--help"]
    return [
        p if isinstance(p, str) else max(p.opts, key=len) if p.param_type_name == "option" else p.metavar or p.name
        for p in params
        if isinstance(p, str) or not p.hidden
    ]


@pytest.mark.parametrize("path", COMMANDS, ids=lambda path: " ".join(path) or "pathatlas")
def test_help_shows_no_python_type_and_loses_no_row(path):
    shown = help_of(path)
    assert not PYTHON_TYPE.findall(shown), PYTHON_TYPE.findall(shown)
    lost = [name for name in row_names(path) if not re.search(rf"^\s+(\*\s+)?{re.escape(name)}\s", shown, re.M)]
    assert not lost, shown


@pytest.mark.parametrize(
    ("path", "row"),
    [
        (("index",), r"--json\s+Print JSON instead of a table\."),  # a flag: nothing between it and its help
        (("index",), r"--force\s+--no-force\s+Re-index sources"),
        (("index",), r"PATH\s+PDFs, folders of PDFs"),  # an argument: its name alone
        (("bench", "queries"), r"--images\s+PATH\s+Query images"),  # a repeatable path option: one PATH
        (("bench", "queries"), r"--limit\s+INTEGER \[x>=1\]\s+At most"),
        (("bench", "serve"), r"--seconds\s+FLOAT \[x>=1\.0\]\s+How long"),
        (("search",), r"--filter\s+FIELD=VALUE\s+FIELD=VALUE"),  # a metavar given stays
        (("bench", "compare-qa"), r"\*\s+BEFORE\s+A 'bench qa --json' result"),
        (("bench", "mcp"), r"--answerer\s+TEXT\s+offline or llm"),
    ],
)
def test_each_row_reads_as_its_command_line(path, row):
    assert re.search(row, help_of(path)), help_of(path)


def test_every_repeatable_option_says_so():
    """A repeatable option shows one ``PATH`` (``TEXT``...), as it is typed once a value; its help says it repeats."""
    silent = [
        (path, max(param.opts, key=len))
        for path in COMMANDS
        for param in command_at(path).params
        if param.param_type_name == "option" and param.type_descriptor.is_list and "repeat" not in (param.help or "")
    ]
    assert not silent


# -- bench serve and bench mcp write the run record the other benchmarks write ----------------------------------------


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    return indexed_book(tmp_path_factory.mktemp("s37-book"))


@pytest.fixture
def eight_bit(monkeypatch):
    """Text queries settled as by MiniLM's 8-bit export (the hashing encoder's are its own: none to record)."""
    import pathatlas.retrieval.bench.common as common

    monkeypatch.setattr(common, "settle_query_vectors", lambda encoder: EIGHT_BIT_QUERIES)


def record_of_the_shared_kind(book, monkeypatch) -> set[str]:
    """The fields ``run_record`` writes for this index, as ``bench qa`` and ``bench retrieval`` write them."""
    from pathatlas.retrieval.bench.common import run_record
    from pathatlas.retrieval.index import Index
    from pathatlas.ui.cli_common import settings_for

    for name, value in hashing_env(book / "home").items():
        monkeypatch.setenv(name, value)
    settings = settings_for(book / "idx")
    with Index.open(settings.index_dir, settings) as idx:
        return set(run_record({}, idx, {}))


def test_bench_serve_records_the_code_the_index_and_its_settings(book, eight_bit, monkeypatch):
    import pathatlas.ui.bench_serve as bench_serve

    def load(index, clients, seconds):
        figures = {"n": 1, "p50_ms": 1.0, "p95_ms": 1.0, "p99_ms": 1.0}
        return {"seconds": seconds, "throughput_rps": 1.0, "errors": 0} | dict.fromkeys(
            ("text", "image", "ask"), figures
        )

    monkeypatch.setattr(bench_serve, "bench_serve", load)
    args = ["bench", "serve", "--index", book / "idx", "--clients", 3, "--seconds", 1, "--json", "-"]
    result = run_cli(*args, home=book / "home")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    run = document["run"]
    assert record_of_the_shared_kind(book, monkeypatch) <= set(run)
    assert run["index"] == str((book / "idx").resolve())
    assert (run["clients"], run["seconds"], run["query_vectors"]) == (3, 1.0, EIGHT_BIT_QUERIES)
    assert document["throughput_rps"] == 1.0  # what it measured beside the record


def test_bench_mcp_records_the_questions_code_index_and_settings(book, eight_bit, monkeypatch, tmp_path):
    import mcp

    monkeypatch.setattr(mcp, "Client", FirstOptionDoor)
    questions = tmp_path / "q.jsonl"
    questions.write_text(json.dumps(question(0)))
    args = ["bench", "mcp", "--questions", questions, "--index", book / "idx", "--no-compare", "--json", "-"]
    result = run_cli(*args, home=book / "home")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    run = document["run"]
    assert record_of_the_shared_kind(book, monkeypatch) <= set(run)
    assert run["questions"] == str(questions.resolve())
    assert run["questions_sha256"] == hashlib.sha256(questions.read_bytes()).hexdigest()
    assert (run["answerer"], run["modes"], run["query_vectors"]) == ("offline", ["mcp"], EIGHT_BIT_QUERIES)
    assert document["modes"]["mcp"]["accuracy"] == 1.0 and "query_vectors" not in document  # said once, in the run
