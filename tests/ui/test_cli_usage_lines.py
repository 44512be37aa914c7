"""The command line's words: usage lines name a required argument as click and man pages do (`remove [OPTIONS]
SOURCE`, not Typer 0.29's `{SOURCE}`, read as a set of choices); a usage error is one line; an empty PDF is said to
be empty."""

from __future__ import annotations

import re

import pytest

from tests.helpers import run_cli


@pytest.mark.parametrize(
    ("command", "usage"),
    [
        (["remove"], "pathatlas remove [OPTIONS] SOURCE"),
        (["index"], "pathatlas index [OPTIONS] [PATH]..."),
        (["bench", "compare-qa"], "pathatlas bench compare-qa [OPTIONS] BEFORE AFTER"),
    ],
)
def test_usage_lines_name_arguments_without_braces(tmp_path, command, usage):
    result = run_cli(*command, "--help", home=tmp_path / "home")
    assert result.exit_code == 0, result.output
    line = next(line for line in result.stdout.splitlines() if "Usage:" in line)
    assert re.sub(r"\s+", " ", line.strip(" │")).split(" ", 2)[2] == usage.split(" ", 1)[1], (
        "the program name is the runner's"
    )


def test_an_empty_pdf_is_said_to_be_empty_in_one_line(tmp_path):
    """MuPDF's own words were "is not a readable PDF: Cannot open empty file: filename='...'"."""
    empty = tmp_path / "zero.pdf"
    empty.touch()
    result = run_cli("index", empty, "--index", tmp_path / "idx", home=tmp_path / "home")
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: {empty} is empty (0 bytes): copy or download the PDF again"], result.output


@pytest.mark.parametrize(
    ("command", "message", "help_of"),
    [
        (["search", "x", "-k", "abc"], "Invalid value for '--k' / '-k'", "search"),
        (["serch", "x"], "No such command 'serch'. Did you mean 'search'", ""),
        (["search", "x", "--filtr", "kind=page"], "No such option: --filtr (Possible options: --filter)", "search"),
        (["bench", "retrievl"], "No such command 'retrievl'. Did you mean 'retrieval'?", "bench"),
    ],
)
def test_a_usage_error_is_one_error_line_with_clicks_status_2(tmp_path, command, message, help_of):
    """Typer drew a 5-6 line box under the usage line; scripts keep Click's status 2 for a usage error."""
    result = run_cli(*command, home=tmp_path / "home")
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), (result.output, result.exception)
    assert result.stdout == "", "stdout stays for --json"
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: {message}") and "╭" not in result.stderr, result.stderr
    command_help = f"'{' '.join(['root', help_of]).strip()} --help'"  # the runner's program name
    said = line.removeprefix("error: ").removesuffix(command_help)
    assert said.endswith(("; try ", ". Try ", "? Try ")), line
    assert not any(f"{mark}; try" in line for mark in ".?!"), "a sentence ends once"


def test_a_group_without_its_command_still_shows_its_help(tmp_path):
    result = run_cli("bench", home=tmp_path / "home")
    assert result.exit_code == 2 and "retrieval" in result.stdout and "error:" not in result.output
