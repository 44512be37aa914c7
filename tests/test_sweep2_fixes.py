"""Last fixes from a sweep: progress that reaches its total, an empty ``--filter`` value, an empty URL filter in the web
UI, and the size advice for a strip already too thin to compare."""

from __future__ import annotations

import re

import pytest

from pathatlas.errors import BadInputError
from pathatlas.retrieval.images import open_image
from pathatlas.ui.cli import parse_filters
from tests.test_operator_fixes import png_of_size
from tests.test_ui_tester_fixes import run_app


# -- 2. an empty --filter value ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("given", "field"), [("kind=", "kind"), ("organ=", "organ"), ("kind= ", "kind")])
def test_an_empty_cli_filter_value_is_refused_as_every_door_refuses_it(given, field):
    """``--filter kind=`` was told "use FIELD=VALUE, e.g. kind=figure", which it had done."""
    with pytest.raises(BadInputError) as refused:
        parse_filters(["organ=lung", given])
    assert str(refused.value) == f"filter {field!r} is empty: give a value or leave it out"


# -- 4. a strip too thin for any crop -------------------------------------------------------------------------------
def test_a_strip_thinner_than_a_query_needs_is_told_at_once_it_is_too_small():
    """A 1000000x30 strip over a 1000000-pixel limit was told "crop it to at most 33333x30", then refused as too small
    to compare."""
    with pytest.raises(BadInputError) as refused:
        open_image(png_of_size(1_000_000, 30), 1_000_000, name="strip.png")
    assert str(refused.value) == "strip.png is 1000000x30 pixels: too small to compare; give one of at least 32 a side"


# -- 3. an empty URL filter ------------------------------------------------------------------------------------------
EMPTY_URL_FILTER = """
app = AppTest.from_file(sys.argv[1], default_timeout=180)
app.query_params.update({"q": "granuloma", "organ": ""})
app.run()
said({
    "warnings": [w.value for w in app.warning],
    "status": [m.value for m in app.markdown if "role='status'" in m.value],
    "exceptions": [e.value for e in app.exception],
})
"""


def test_an_empty_url_filter_is_left_out_without_a_word(demo_index):
    """``/?q=granuloma&organ=`` said "filter organ= is not in this library": a blank value filters nothing."""
    seen = run_app(EMPTY_URL_FILTER, demo_index.path, demo_index.settings.home)
    assert seen["exceptions"] == [] and seen["warnings"] == [], seen
    assert re.search(r">\d+ results? for", seen["status"][0]), seen
