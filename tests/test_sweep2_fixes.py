"""Last fixes from a sweep: progress that reaches its total, an empty ``--filter`` value, an empty URL filter in the web
UI, and the size advice for a strip already too thin to compare."""

from __future__ import annotations

import pytest

from pathatlas.errors import BadInputError
from pathatlas.ui.cli import parse_filters


# -- 2. an empty --filter value ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("given", "field"), [("kind=", "kind"), ("organ=", "organ"), ("kind= ", "kind")])
def test_an_empty_cli_filter_value_is_refused_as_every_door_refuses_it(given, field):
    """``--filter kind=`` was told "use FIELD=VALUE, e.g. kind=figure", which it had done."""
    with pytest.raises(BadInputError) as refused:
        parse_filters(["organ=lung", given])
    assert str(refused.value) == f"filter {field!r} is empty: give a value or leave it out"
