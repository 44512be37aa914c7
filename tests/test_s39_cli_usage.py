"""Usage lines name a required argument as click and man pages do: ``remove [OPTIONS] SOURCE``, not Typer 0.29's
``{SOURCE}``, which read as a set of choices."""

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
