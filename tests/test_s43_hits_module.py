"""A hit's one JSON form (``ui.hits``) lives apart from the REST models, so a door that only searches does not import
FastAPI: ``Atlas.search`` imported it (about 250 ms of the schema module's 650) for ``hit_records`` and ``check_k``.
Hashing encoder and a one-page PDF."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.helpers import indexed_lecture


def imported_after(script: str) -> list[str]:
    """The lines ``script`` prints, run in a fresh interpreter (a module imported once stays in ``sys.modules``)."""
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=os.environ, timeout=120)
    assert ran.returncode == 0, ran.stderr
    return ran.stdout.splitlines()


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
