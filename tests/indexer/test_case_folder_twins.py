"""A copy of an indexed case folder is not indexed beside it, where each case would be found twice: the command line
skips it in one line naming the removal that indexes it there instead, and POST /jobs refuses a zip holding it (409)
whatever the zip's own bytes. One source named twice in a run (a file twice, two links to one folder) is read and
committed once. Hashing encoder."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pathatlas.ui.api.app import create_app
from pathatlas.ui.bench_crash import make_pdf
from tests.helpers import index_new, one_error_line, run_cli, two_cases
from tests.servers import job_ended
from tests.ui.test_cli_hints import between, index_json, pasted
from tests.uploads import api_settings, upload, zipped


def indexed_names(index: Path, home: Path) -> dict[str, int]:
    """Each source of the index by its file or folder name, with its entries."""
    listed = json.loads(run_cli("info", "--index", index, "--json", home=home).stdout)["sources"]
    return {Path(key).name: entry["entries"] for key, entry in listed.items()}


# -- 1. a copy of an indexed case folder, from the command line --------------------------------------------------------
def test_a_copied_case_folder_is_skipped_in_one_line_naming_the_removal_that_indexes_it_there(tmp_path):
    home, index = tmp_path / "home", tmp_path / "idx"
    cases = two_cases(tmp_path / "cases")
    assert index_json(cases, index=index, home=home)[0] == 0
    copy = tmp_path / "cases_copy"
    shutil.copytree(cases, copy)

    refused = run_cli("index", copy, "--index", index, home=home, COLUMNS="400")
    line = one_error_line(refused, f"{copy} holds the same cases as {cases}, already indexed: skipped")
    assert indexed_names(index, home) == {"cases": 2}  # each case once

    removed = pasted(between(line, "instead, '", "' first"), home)
    assert removed.exit_code == 0, removed.output
    code, (report,) = index_json(copy, index=index, home=home)
    assert (code, report["status"]) == (0, "indexed"), report
    assert indexed_names(index, home) == {"cases_copy": 2}


# -- 2. one source named twice in a run --------------------------------------------------------------------------------
@pytest.mark.parametrize("named", ["a file twice", "two links to one case folder"])
def test_one_source_named_twice_in_a_run_is_read_and_listed_once(tmp_path, named):
    if named == "a file twice":
        book = make_pdf(tmp_path / "book.pdf", 2, "osteoid")
        paths = [book, book]
    else:
        cases = two_cases(tmp_path / "cases")
        paths = [tmp_path / "L1", tmp_path / "L2"]
        for link in paths:
            link.symlink_to(cases, target_is_directory=True)
    code, reports = index_json(*paths, index=tmp_path / "idx", home=tmp_path / "home")
    assert code == 0 and [report["status"] for report in reports] == ["indexed"], reports


# -- 3. a zip holding the cases of an indexed case folder --------------------------------------------------------------
def case_zip(folder: Path, inside: str, reverse: bool = False) -> bytes:
    """A zip of the case folder ``folder`` under the name ``inside``; ``reverse`` puts its members in the other order,
    as another tool might: the same folder, other zip bytes."""
    files = sorted(folder.iterdir(), reverse=reverse)
    return zipped(*((f"{inside}/{file.name}", file.read_bytes()) for file in files))


@pytest.fixture
def served(tmp_path):
    """A service on an index of the case folder ``cases``, indexed from disk: (the client, the folder)."""
    settings = api_settings(tmp_path)
    cases = two_cases(tmp_path / "cases")
    index_new(settings, cases)
    with TestClient(create_app(settings)) as client:
        yield client, cases


def source_ids(client) -> dict[str, str]:
    return {source["source"]: source["id"] for source in client.get("/sources").json()}


def test_a_zip_of_a_case_folder_indexed_from_disk_is_refused_naming_it(served):
    client, cases = served
    refused = upload(client, "slides.zip", case_zip(cases, "slides"))
    cases_id = source_ids(client)["cases"]
    assert (refused.status_code, refused.json()["detail"]) == (
        409,
        f"slides.zip holds the same cases as cases (id {cases_id}), already indexed: its cases would appear twice; "
        f"to index this upload in its place, remove that source first (DELETE /sources/{cases_id})",
    )
    (cases / "labels.csv").write_text("image,case,diagnosis\nc0.png,C-1,sarcoidosis\nc1.png,C-2,fibrosis\n")
    relabelled = upload(client, "slides.zip", case_zip(cases, "slides"))
    assert job_ended(client, relabelled.json()["id"])["status"] == "done"
    assert sorted(source_ids(client)) == ["cases", "slides"]


def test_the_cases_of_an_uploaded_zip_zipped_again_are_refused_unless_it_replaces_that_upload(served):
    client, cases = served
    assert client.delete(f"/sources/{source_ids(client)['cases']}").status_code == 200
    assert job_ended(client, upload(client, "atlas.zip", case_zip(cases, "myc")).json()["id"])["status"] == "done"
    myc = source_ids(client)["myc"]
    refused = upload(client, "atlas (1).zip", case_zip(cases, "myc", reverse=True))
    assert refused.status_code == 409 and refused.json()["detail"].startswith(
        f"atlas (1).zip holds the same cases as myc (id {myc}), already indexed: its cases would appear twice"
    ), refused.text
    again = upload(client, "atlas.zip", case_zip(cases, "myc", reverse=True))  # under its name it replaces that upload
    assert job_ended(client, again.json()["id"])["status"] == "done", again.text
    assert sorted(source_ids(client)) == ["myc"]


def test_the_cases_of_a_zip_being_indexed_are_refused_in_another_zip(served, monkeypatch):
    client, cases = served
    assert client.delete(f"/sources/{source_ids(client)['cases']}").status_code == 200
    started, go = threading.Event(), threading.Event()

    def held(job):
        started.set()
        go.wait(30)
        return "done", None

    monkeypatch.setattr(client.app.state.jobs, "_index_job", held)
    job_id = upload(client, "atlas.zip", case_zip(cases, "myc")).json()["id"]
    assert started.wait(30)
    refused = upload(client, "week2.zip", case_zip(cases, "myc", reverse=True))
    go.set()
    assert (refused.status_code, refused.json()["detail"]) == (
        409,
        f"week2.zip holds the same cases as atlas.zip (job {job_id}), not yet indexed: its cases would appear twice",
    )
    assert job_ended(client, job_id)["status"] == "done"


def test_a_copy_of_a_case_folder_indexed_before_its_hash_changed_is_still_skipped_and_the_hash_renewed(tmp_path):
    """A case folder's content hash covered every file in it before the thirty-ninth session: a folder indexed then
    keeps that hash until read again, and its copy, hashed the new way, was indexed beside it."""
    from pathatlas.indexer.sources.fingerprints import CONTENT_VERSION, every_file, hash_held
    from pathatlas.retrieval.index import Index
    from tests.helpers import hashing_settings

    home, index = tmp_path / "home", tmp_path / "idx"
    cases = two_cases(tmp_path / "cases")
    (cases / "notes.txt").write_text("unlisted: the old hash read it, the new one does not")
    assert index_json(cases, index=index, home=home)[0] == 0
    settings = hashing_settings(tmp_path, index=index)
    with Index.open(index, settings) as held:  # the entry as an earlier version recorded it
        key, entry = next(iter(held.manifest.items()))
        old = {k: v for k, v in entry.items() if k != "content_version"} | {
            "content": hash_held(cases, every_file(cases))
        }
        assert old["content"] != entry["content"]
        held.commit({key: old})
    copy = tmp_path / "cases_copy"
    shutil.copytree(cases, copy)
    refused = run_cli("index", copy, "--index", index, home=home, COLUMNS="400")
    one_error_line(refused, f"{copy} holds the same cases as {cases}, already indexed: skipped")
    assert run_cli("index", "--index", index, home=home).exit_code == 0  # its sources again: cases found unchanged
    with Index.open(index, settings) as held:
        renewed = held.manifest[key]
    assert (renewed["content"], renewed["content_version"]) == (entry["content"], CONTENT_VERSION)
