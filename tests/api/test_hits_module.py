"""A hit's one JSON form (``ui.hits``) and the filters every door takes (``ui.filters``) live apart from the REST
models, so a door that only searches, ``Atlas.search`` or ``pathatlas search``, does not import FastAPI (about 250 ms
of the schema module's 650). Hashing encoder and a one-page PDF."""

from __future__ import annotations

from tests.helpers import hashing_env, imported_after, indexed_lecture


def test_the_hit_form_imports_no_web_framework():
    script = "import sys\nimport pathatlas.ui.hits\nprint('fastapi' in sys.modules)"
    assert imported_after(script) == ["False"]


def test_atlas_searches_and_checks_k_without_fastapi(tmp_path):
    indexed_lecture(tmp_path, "a.pdf", "Granuloma with giant cells in the lung.")
    script = f"""
import sys
from pathatlas.errors import BadInputError
from pathatlas.ui.library import Atlas
atlas = Atlas({str(tmp_path / "idx")!r}, home={str(tmp_path / "home")!r},
              encoder="py:pathatlas.ui.bench_crash.HashingEncoder", case_keypoints=False)
hits = atlas.search("granuloma")
print(hits[0]["relevance"], len(atlas.similar(hits[0], k=5)) <= 5)
try:
    atlas.search("granuloma", k=101)
except BadInputError as exc:
    print(exc)
print('fastapi' in sys.modules)
"""
    assert imported_after(script) == ["best match True", "k must be between 1 and 100, not 101", "False"]


def test_the_command_line_searches_with_filters_without_fastapi(tmp_path):
    indexed_lecture(tmp_path, "a.pdf", "Granuloma with giant cells in the lung.")
    script = f"""
import os, sys
os.environ.update({hashing_env(tmp_path / "home")!r}, COLUMNS="200")
from pathatlas.ui.cli import app
app(["search", "granuloma", "--index", {str(tmp_path / "idx")!r}, "--filter", "kind=page"], standalone_mode=False)
print('fastapi' in sys.modules)
"""
    table, fastapi_loaded = (lines := imported_after(script))[:-1], lines[-1]
    assert any("best match" in line and "a.pdf, p. 1" in line for line in table), "\n".join(lines)
    assert fastapi_loaded == "False"
