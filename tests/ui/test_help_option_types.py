"""``--help`` that reads as a command line does.

Help showed Python's types after every option: ``--json <bool>`` after a flag, ``--images <list[Path]>`` after a
repeatable path option, ``<str>`` and ``<path>`` elsewhere, and ``PATH <list[Path]>`` for an argument. It now shows
Click's words (``--images PATH``, ``--limit INTEGER``), nothing after a flag, an argument's name alone. (The run
records ``bench serve`` and ``bench mcp`` now write are tested where their query vectors are: ``test_help_layout``.)"""

from __future__ import annotations

import re

import pytest
import typer

from pathatlas.ui.cli import app
from tests.helpers import run_cli
from tests.ui.test_help_layout import command_paths

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
        (("index",), r"PATH\s+PDFs, lecture notes"),  # an argument: its name alone
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
