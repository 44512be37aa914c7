"""What a walkthrough of the command line found: ``demo --index`` added the demo corpus to a user's own index, ``export
--hits F --to F`` wrote the handout over the results it read, a file name with a newline broke a problem over two
lines, a home nothing can be made in ended ``search`` in a traceback, and README named a stale records version."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from PIL import Image

from pathatlas.indexer.sources.cases import CaseFolderSource
from pathatlas.indexer.sources.pdf.source import PdfSource
from pathatlas.settings import Settings
from pathatlas.ui.bench_crash import make_pdf
from tests.helpers import index_new, indexed_lecture, one_error_line, only_error_line, run_cli

README = Path(__file__).resolve().parents[2] / "README.md"
HIT = {"rank": 1, "kind": "page", "snippet": "Osteoclasts resorb bone.", "citation": {"label": "book.pdf, p. 3"}}


# -- demo --------------------------------------------------------------------------------------------------------------
def test_demo_refuses_an_index_of_the_users_own_sources_and_writes_nothing(tmp_path):
    root = indexed_lecture(tmp_path, "lecture.pdf", "Granulomas in the lung.")
    manifest = (root / "idx" / "manifest.json").read_bytes()
    result = run_cli("demo", "--index", root / "idx", home=root / "home")
    only_error_line(result, f"the index at {root / 'idx'} holds your own sources (lecture.pdf)", "separate --index")
    assert (root / "idx" / "manifest.json").read_bytes() == manifest
    assert not (root / "home" / "demo-corpus").exists(), "refused before the corpus is made"


def test_demo_runs_again_into_its_own_index_given_with_index(tmp_path):
    for _ in range(2):  # the second run finds the demo's sources alone: no user's work to protect
        result = run_cli("demo", "--index", tmp_path / "demo", home=tmp_path / "home")
        assert result.exit_code == 0, result.output


# -- export ------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("to", ["hits.json", "link.json"])
def test_a_handout_over_its_own_results_is_refused_and_they_stay(tmp_path, to):
    hits = tmp_path / "hits.json"
    hits.write_text(json.dumps([HIT]))
    (tmp_path / "link.json").symlink_to(hits)
    result = run_cli("export", "--hits", hits, "--to", tmp_path / to)
    only_error_line(result, f"--to {tmp_path / to} is the --hits file", "give another --to")
    assert json.loads(hits.read_text()) == [HIT]


def test_a_handout_beside_its_results_is_written(tmp_path):
    hits = tmp_path / "hits.json"
    hits.write_text(json.dumps([HIT]))
    result = run_cli("export", "--hits", hits, "--to", tmp_path / "handout.json")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "handout.json").read_text())[0]["citation"] == "book.pdf, p. 3"


# -- problems on one line ----------------------------------------------------------------------------------------------
def case_folder(folder: Path, labels: str) -> Path:
    """``folder`` holding a.png and ``labels`` as its labels.csv."""
    folder.mkdir()
    Image.new("RGB", (48, 48), "red").save(folder / "a.png")
    (folder / "labels.csv").write_text(labels)
    return folder


def test_a_file_name_with_a_newline_is_one_line_in_each_problem(tmp_path):
    folder = case_folder(tmp_path / "c", 'image,case\na.png,A\n"missing\nfile.jpg",x\n')
    indexed = run_cli("index", folder, "--index", tmp_path / "idx", "--json", home=tmp_path / "home")
    assert indexed.exit_code == 0, indexed.output
    (problem,) = json.loads(indexed.stdout)[0]["problems"]
    assert problem.startswith(f"cannot read image {folder}/missing\\nfile.jpg: ") and "\n" not in problem
    listed = run_cli("info", "--problems", "--index", tmp_path / "idx", home=tmp_path / "home")
    assert f"  {problem}" in listed.stdout.splitlines(), listed.stdout


def test_a_source_failed_by_such_a_name_names_it_as_its_problem_does(tmp_path):
    """Its only row unreadable, the folder fails: the failure quotes the problem, the name escaped as there."""
    folder = case_folder(tmp_path / "c", 'image,case\n"missing\nfile.jpg",x\n')
    failed = run_cli("index", folder, "--index", tmp_path / "idx", "--json", home=tmp_path / "home")
    failure, problem, _unlisted = json.loads(failed.stdout)[0]["problems"]
    assert failure == f"nothing to index in {folder}: {problem} (and 1 more problems)", failure


# -- a home nothing can be made in -------------------------------------------------------------------------------------
@pytest.mark.skipif(not os.access("/proc/1", os.F_OK) or os.access("/proc/1", os.W_OK), reason="Linux's /proc")
def test_a_search_with_a_home_that_cannot_be_made_is_one_error_line(session_home, tmp_path):
    """The default encoder extracts its model into the home: under /proc/1 even root's mkdir says ENOENT."""
    settings = Settings(home=session_home, index=tmp_path / "idx")
    index_new(settings, make_pdf(tmp_path / "bone.pdf", 1, "osteoclasts"))
    result = run_cli("search", "bone", "--index", tmp_path / "idx", PATHATLAS_HOME="/proc/1/pa")
    one_error_line(result, "PATHATLAS_HOME=/proc/1/pa is not usable: it cannot be made in /proc/1")


# -- README ------------------------------------------------------------------------------------------------------------
def test_readme_names_each_readers_records_version():
    said = re.search(r"the PDF reader's is (\d+), the case-folder reader's\s+(\d+)", README.read_text())
    assert said is not None
    assert (int(said[1]), int(said[2])) == (PdfSource.records_version, CaseFolderSource.records_version)
