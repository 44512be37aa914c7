"""What a user meets indexing and searching: ``pathatlas index`` without paths reads again every source the index
holds (it was a usage error); a case folder looked at once per run, not walked and hashed again by ``records``; the
web UI's uploaders say the limit ``PATHATLAS_MAX_UPLOAD_MB`` sets, not Streamlit's "200MB per file"; an unknown word
quoted as typed ("Straße", not "strasse"). Hashing encoder throughout; the web UI by Streamlit's AppTest in a process
of its own (``run_app``)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pathatlas.indexer.pipeline import Indexer
from pathatlas.indexer.sources import cases
from pathatlas.indexer.sources.cases import CaseFolderSource
from pathatlas.retrieval.index import Index
from pathatlas.ui.cli import streamlit_command
from pathatlas.ui.words import unindexed_words
from tests.helpers import calls_to, hashing_env, hashing_settings, indexed_lecture, one_error_line, run_cli
from tests.indexer.test_case_folders import folder_with, jsonl, tile
from tests.ui.test_web_ui_library_and_search_lines import run_app

LECTURE = "Osteoblasts lay down osteoid, the unmineralised matrix of bone. Osteoclasts resorb bone."
ROWS = [{"image": "a.jpg", "case": "c1", "diagnosis": "granuloma"}, {"image": "b.jpg", "case": "c2"}]


def statuses(result) -> dict[str, str]:
    """An ``index --json`` run's status of each source, by file or folder name, in the order reported."""
    return {Path(s["source"]).name: s["status"] for s in json.loads(result.stdout)}


@pytest.fixture
def kept(tmp_path) -> Path:
    """``tmp_path`` holding a lecture PDF (bone.pdf) and a case folder (slides), both indexed into ``idx``."""
    indexed_lecture(tmp_path, "bone.pdf", LECTURE)
    slides = folder_with(tmp_path / "slides", "cases.jsonl", jsonl(ROWS))
    assert run_cli("index", slides, "--index", tmp_path / "idx", home=tmp_path / "home").exit_code == 0
    return tmp_path


# -- 1. index without paths ---------------------------------------------------------------------------------------


def test_index_without_paths_reads_again_every_source_it_holds(kept):
    """The changed case folder is read again, the PDF only checked; each source has its progress line on stderr, in
    the index's order, and the table goes to stdout."""
    (kept / "slides" / "cases.jsonl").write_text(jsonl([{**ROWS[0], "diagnosis": "sarcoidosis"}, ROWS[1]]))
    result = run_cli("index", "--index", kept / "idx", home=kept / "home")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [f"(1/2) {kept / 'bone.pdf'}", f"(2/2) {kept / 'slides'}"]
    assert [line.split("│")[2].strip() for line in result.stdout.splitlines() if "│" in line] == [
        "unchanged",
        "indexed",
    ]
    found = run_cli("search", "sarcoidosis", "--index", kept / "idx", "--json", home=kept / "home")
    assert json.loads(found.stdout)[0]["citation"]["case"] == "c1"


def test_index_without_paths_with_json_is_json_only(kept):
    result = run_cli("index", "--index", kept / "idx", "--json", home=kept / "home")
    assert result.exit_code == 0, result.output
    assert statuses(result) == {"bone.pdf": "unchanged", "slides": "unchanged"}
    assert result.stderr == ""


def test_a_source_gone_from_disk_fails_alone_and_keeps_its_records(kept):
    """The PDF moved away: one error line names it and how to drop it; the case folder is still read again, and the
    PDF's records are still there."""
    (kept / "bone.pdf").rename(kept / "moved.pdf")
    (kept / "slides" / "cases.jsonl").write_text(jsonl([{**ROWS[0], "diagnosis": "sarcoidosis"}, ROWS[1]]))
    result = run_cli("index", "--index", kept / "idx", home=kept / "home")
    one_error_line(
        result, str(kept / "bone.pdf"), "not found on disk", f"'pathatlas remove bone.pdf --index {kept / 'idx'}'"
    )
    assert "(1/1)" in result.stderr  # the one source there is to read
    again = run_cli("index", "--index", kept / "idx", "--json", home=kept / "home")
    assert again.exit_code == 1 and statuses(again) == {"bone.pdf": "failed", "slides": "unchanged"}
    info = json.loads(run_cli("info", "--index", kept / "idx", "--json", home=kept / "home").stdout)
    assert info["sources"][str(kept / "bone.pdf")]["entries"] > 0


def test_a_case_folder_that_lost_its_metadata_fails_and_its_pdfs_are_not_added(kept):
    """Read as a path given, the folder would add the PDF inside it, a source nobody named."""
    (kept / "slides" / "cases.jsonl").unlink()
    (kept / "bone.pdf").rename(kept / "slides" / "inside.pdf")
    result = run_cli("index", "--index", kept / "idx", "--json", home=kept / "home")
    assert statuses(result) == {"bone.pdf": "failed", "slides": "failed"}
    (_, lost) = json.loads(result.stdout)
    assert lost["problems"] == [
        f"{kept / 'slides'}: no longer a cases source (a case folder needs cases.jsonl or "
        "labels.csv); its records stay as indexed"
    ]


def test_index_without_paths_and_no_index_is_one_line_and_makes_none(tmp_path):
    result = run_cli("index", "--index", tmp_path / "none", home=tmp_path / "home")
    line = one_error_line(result, "no PathAtlas index at", "to index again", f"--index {tmp_path / 'none'}")
    assert [text for text in result.output.splitlines() if text.strip()] == [line]
    assert not (tmp_path / "none").exists()
    bare = run_cli("index", home=tmp_path / "home")  # the default index: the command to paste needs no --index
    assert "('pathatlas index PATH')" in one_error_line(bare, str(tmp_path / "home" / "index"))


def test_index_without_paths_of_an_emptied_index_says_to_name_sources(kept):
    for name in ("bone.pdf", "slides"):
        assert run_cli("remove", name, "--index", kept / "idx", home=kept / "home").exit_code == 0
    one_error_line(run_cli("index", "--index", kept / "idx", home=kept / "home"), "holds no sources yet")


# -- 2. a case folder looked at once -----------------------------------------------------------------------------


def test_a_case_folder_is_walked_and_hashed_once_a_run(tmp_path, monkeypatch):
    """``index`` asks for the fingerprint, then the records: the folder was walked 9 times (3 for its notes, each
    time) and its images hashed twice."""
    folder = folder_with(tmp_path / "slides", "cases.jsonl", jsonl(ROWS))
    source = CaseFolderSource(folder, hashing_settings(tmp_path))
    walks, hashes = calls_to(monkeypatch, "walk", cases.os), calls_to(monkeypatch, "hash_files", cases)
    fingerprint = source.fingerprint()
    read = list(source.records())
    assert (len(walks), len(hashes)) == (1, 1)
    assert [case.fingerprint for case in read] == [fingerprint] * 2


def test_what_the_fingerprint_covers_is_unchanged(tmp_path):
    """An image dropped in without its row (a note) still reads the folder again, with the note among its problems;
    the same folder again is unchanged; records without a fingerprint asked first still carry the folder's."""
    settings = hashing_settings(tmp_path)
    folder = folder_with(tmp_path / "slides", "cases.jsonl", jsonl(ROWS))

    def indexed() -> tuple[str, list[str]]:
        with Index.open(settings.index_dir, settings, create=True) as idx:
            (report,) = Indexer(idx, show_progress=False).add([folder]).sources
        return report.status, report.problems

    assert indexed() == ("indexed", [])
    tile(5).save(folder / "new.jpg")
    status, problems = indexed()
    assert status == "indexed" and "1 image not listed in cases.jsonl, not indexed: new.jpg" in problems[0]
    assert indexed() == ("unchanged", problems)
    alone = CaseFolderSource(folder, settings)
    assert {case.fingerprint for case in alone.records()} == {CaseFolderSource(folder, settings).fingerprint()}
    assert alone.problems == problems


# -- 3. the web UI's upload limit -----------------------------------------------------------------------------------


def test_pathatlas_ui_lets_streamlit_take_uploads_up_to_the_setting(monkeypatch):
    monkeypatch.setenv("PATHATLAS_MAX_UPLOAD_MB", "700")
    command = streamlit_command(8501)
    assert command[command.index("--server.maxUploadSize") + 1] == "700"


UPLOADERS = """
app = AppTest.from_file(sys.argv[1], default_timeout=180)
app.run()
said({"limits": [uploader.proto.max_upload_size_mb for uploader in app.get("file_uploader")],
      "exceptions": [exception.value for exception in app.exception]})
"""


def test_the_uploaders_say_the_apis_limit(tmp_path):
    """Streamlit's own limit stays its default here (200 MB, as where the app is run by ``streamlit run``): the library
    uploader says the API's 7 MB, the search and ask image uploaders its 3 MB of an image query."""
    indexed_lecture(tmp_path, "bone.pdf", LECTURE)
    limits = {"PATHATLAS_MAX_UPLOAD_MB": "7", "PATHATLAS_MAX_QUERY_IMAGE_MB": "3"}
    quick = {**hashing_env(tmp_path / "home"), **limits}
    seen = run_app(f"os.environ.update({quick!r})\n" + UPLOADERS, tmp_path / "idx", tmp_path / "home")
    assert seen["exceptions"] == []
    assert sorted(seen["limits"]) == [3, 3, 7], seen["limits"]


# -- 4. unknown words as typed --------------------------------------------------------------------------------------


def test_an_unknown_word_is_quoted_as_typed():
    """Looked up casefolded, named as first typed: each word once whatever its case."""
    assert unindexed_words("Straße STRASSE Melanomma melanomma", frozenset(), ()) == ["Straße", "Melanomma"]


def test_the_search_warning_names_the_word_as_typed(tmp_path):
    indexed_lecture(tmp_path, "bone.pdf", LECTURE)
    result = run_cli("search", "Osteoid Straße", "--index", tmp_path / "idx", home=tmp_path / "home")
    assert result.exit_code == 0, result.output
    assert "'Straße'" in result.stderr and "strasse" not in result.stderr
    rest = run_cli("ask", "Straße?", "--index", tmp_path / "idx", "--json", home=tmp_path / "home")
    assert [u["word"] for u in json.loads(rest.stdout)["unknown_words"]] == ["Straße"]


@pytest.fixture(autouse=True)
def no_api_url(monkeypatch):
    """The web UI's in-process API, whatever the machine's environment names."""
    if "PATHATLAS_API_URL" in os.environ:
        monkeypatch.delenv("PATHATLAS_API_URL")
