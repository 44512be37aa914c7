"""The web UI tests' AppTest runs are retried once where CPython's AST race failed them (``helpers.AST_RACE``), never
where the app failed."""

from __future__ import annotations

import sys

import pytest

from tests.helpers import AST_RACE, app_test_said

FAILS_ONCE = f"""
import json, pathlib, sys
tried = pathlib.Path(sys.argv[1])
if not tried.exists():
    tried.write_text("1")
    sys.exit({AST_RACE!r} if sys.argv[2] == "race" else "AssertionError: the app drew nothing")
print(json.dumps({{"drawn": True}}))
"""


@pytest.mark.skipif(sys.version_info >= (3, 11, 8), reason="CPython 3.11.8 fixed the race: nothing is retried")
def test_a_run_the_ast_race_failed_is_run_once_more(tmp_path):
    said = app_test_said([sys.executable, "-c", FAILS_ONCE, str(tmp_path / "tried"), "race"], {})
    assert said == {"drawn": True}


def test_a_run_the_app_failed_is_not_run_again(tmp_path):
    with pytest.raises(AssertionError, match="the app drew nothing"):
        app_test_said([sys.executable, "-c", FAILS_ONCE, str(tmp_path / "tried"), "app"], {})
