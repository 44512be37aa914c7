"""``demo --index FOLDER`` refuses an index holding sources other than its corpus under this PATHATLAS_HOME: where they
are the demo corpus of another home (the index was built under it), the refusal says so, not "your own sources".
Hashing encoder."""

from __future__ import annotations

import pytest

from pathatlas.ui.bench_crash import make_pdf
from tests.helpers import only_error_line, run_cli


@pytest.fixture
def demo_of_another_home(tmp_path):
    """``tmp_path/demo``: the demo's index, built under the home ``tmp_path/first``."""
    built = run_cli("demo", "--index", tmp_path / "demo", home=tmp_path / "first")
    assert built.exit_code == 0, built.output
    return tmp_path / "demo"


def test_an_index_of_another_homes_demo_corpus_is_refused_naming_that_corpus(tmp_path, demo_of_another_home):
    manifest = (demo_of_another_home / "manifest.json").read_bytes()
    result = run_cli("demo", "--index", demo_of_another_home, home=tmp_path / "second")
    first, second = (tmp_path / home / "demo-corpus" for home in ("first", "second"))
    line = only_error_line(
        result, f"holds the demo corpus of another PATHATLAS_HOME ({first}), not this one's ({second})", "--index"
    )
    assert "your own" not in line
    assert (demo_of_another_home / "manifest.json").read_bytes() == manifest
    assert not second.exists(), "refused before the corpus is made"


def test_a_users_source_beside_another_homes_demo_corpus_is_named_as_theirs(tmp_path, demo_of_another_home):
    lecture = make_pdf(tmp_path / "lecture.pdf", 1, "granulomas")
    added = run_cli("index", lecture, "--index", demo_of_another_home, home=tmp_path / "first")
    assert added.exit_code == 0, added.output
    result = run_cli("demo", "--index", demo_of_another_home, home=tmp_path / "second")
    only_error_line(result, "holds your own sources (lecture.pdf)", "separate --index")
