"""A course server's findings: students hold an upload token that adds sources but removes none and replaces none by
its name (the lecturer's PATHATLAS_API_TOKEN does all), image queries have their own byte limit checked before their
body is read, and index jobs waiting or running are capped. Hashing encoder and tiny files throughout."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi import HTTPException
from fastapi.testclient import TestClient
from PIL import Image
from starlette.requests import Request

from pathatlas.errors import BadInputError
from pathatlas.settings import described, load_settings
from pathatlas.ui import web_client
from pathatlas.ui.api.app import create_app
from pathatlas.ui.api.deps import RequestGuard, require_token
from pathatlas.ui.api.indexing import UNCHANGED
from pathatlas.ui.api.routes.library import LECTURERS_JOB
from pathatlas.ui.bench_crash import make_pdf
from tests.helpers import png_bytes
from tests.servers import job_ended
from tests.uploads import AUTH, TOKEN, api_settings, counted_body, upload, zipped

STUDENT_TOKEN = "stud3nt"
STUDENT = {"Authorization": f"Bearer {STUDENT_TOKEN}"}
NO_REMOVAL = "removing a source needs the lecturer's token (PATHATLAS_API_TOKEN); the upload token only adds"


def replacing(name: str) -> str:
    return (
        f"{name} is the name of an indexed upload: replacing it needs the lecturer's token (PATHATLAS_API_TOKEN); "
        "upload it under another name"
    )


@pytest.fixture
def client(tmp_path):
    settings = api_settings(tmp_path, api_token=TOKEN, upload_token=STUDENT_TOKEN)
    with TestClient(create_app(settings)) as served:
        yield served


def pdf(root: Path, tag: str) -> bytes:
    return make_pdf(root / f"{tag}.pdf", 1, tag).read_bytes()


def indexed(client, name: str, data: bytes, headers: dict) -> dict:
    response = upload(client, name, data, headers)
    assert response.status_code == 202, response.text
    return job_ended(client, response.json()["id"])


def sources(client) -> dict[str, str]:
    return {source["source"]: source["id"] for source in client.get("/sources").json()}


def first_snippet(client, words: str) -> str:
    return client.post("/search", json={"text": words, "k": 1}).json()["hits"][0]["snippet"]


def upload_folders(root: Path) -> list[Path]:
    return sorted((root / "home" / "uploads").iterdir())


# -- 1. the upload token: a secret like the API token ----------------------------------------------------------------
def test_the_upload_token_is_stripped_masked_and_not_the_lecturers(monkeypatch):
    monkeypatch.setenv("PATHATLAS_UPLOAD_TOKEN", f" {STUDENT_TOKEN}\n")
    settings = load_settings()
    assert settings.upload_token == STUDENT_TOKEN and STUDENT_TOKEN not in repr(settings)
    (shown,) = [row for row in described(settings) if row["variable"] == "PATHATLAS_UPLOAD_TOKEN"]
    assert (shown["value"], shown["secret"]) == ("set", True)
    monkeypatch.setenv("PATHATLAS_UPLOAD_TOKEN", "  ")
    assert load_settings().upload_token is None, "blank is no token"
    monkeypatch.setenv("PATHATLAS_UPLOAD_TOKEN", TOKEN)
    monkeypatch.setenv("PATHATLAS_API_TOKEN", TOKEN)
    with pytest.raises(BadInputError) as refused:
        load_settings()
    assert str(refused.value) == (
        "bad setting PATHATLAS_UPLOAD_TOKEN: Value error, the same as PATHATLAS_API_TOKEN; give students a token of "
        "their own"
    )


# -- 2. students add, only the lecturer removes ----------------------------------------------------------------------
def test_the_upload_token_adds_a_source_but_removes_none(client, tmp_path):
    assert indexed(client, "book.pdf", pdf(tmp_path, "alpha"), AUTH)["status"] == "done"
    assert indexed(client, "notes.pdf", pdf(tmp_path, "beta"), STUDENT)["status"] == "done"
    held = sources(client)
    for source_id in held.values():
        refused = client.delete(f"/sources/{source_id}", headers=STUDENT)
        assert (refused.status_code, refused.json()) == (403, {"detail": NO_REMOVAL})
    assert sources(client) == held
    assert client.delete(f"/sources/{held['book.pdf']}", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.delete(f"/sources/{held['notes.pdf']}", headers=AUTH).json() == {"removed": 2}
    assert list(sources(client)) == ["book.pdf"]


def test_both_doors_refuse_a_removal_with_the_upload_token(tmp_path):
    """The guard in front of the routes, before any body is read, and ``require_token``, which the write routes depend
    on, each on its own."""
    settings = api_settings(tmp_path, api_token=TOKEN, upload_token=STUDENT_TOKEN)
    headers = [(b"authorization", STUDENT["Authorization"].encode())]
    scope = {"type": "http", "method": "DELETE", "path": "/sources/abc", "headers": headers, "root_path": ""}
    assert RequestGuard(None, settings).refusal(scope) == (403, NO_REMOVAL, [])
    with pytest.raises(HTTPException) as refused:
        require_token(Request(scope), SimpleNamespace(settings=settings), STUDENT["Authorization"])
    assert (refused.value.status_code, refused.value.detail) == (403, NO_REMOVAL)


# -- 3. students do not replace an upload by its name ----------------------------------------------------------------
def test_the_upload_token_cannot_replace_an_upload_by_sending_its_name(client, tmp_path):
    alpha = pdf(tmp_path, "alpha")
    assert indexed(client, "week1.pdf", alpha, AUTH)["status"] == "done"
    folders = upload_folders(tmp_path)
    refused = upload(client, "week1.pdf", pdf(tmp_path, "beta"), STUDENT)
    assert (refused.status_code, refused.json()) == (403, {"detail": replacing("week1.pdf")})
    assert upload_folders(tmp_path) == folders, "nothing of the refused upload is kept"
    assert first_snippet(client, "alpha beta page").startswith("alpha")
    again = indexed(client, "week1.pdf", alpha, STUDENT)  # the very same bytes: taken, and found unchanged
    unchanged = f"week1.pdf: {UNCHANGED} (week1.pdf)"
    assert (again["status"], again["notes"]) == ("done", [unchanged]), again
    assert indexed(client, "week1.pdf", pdf(tmp_path, "beta"), AUTH)["status"] == "done", "the lecturer replaces"
    assert list(sources(client)) == ["week1.pdf"] and first_snippet(client, "alpha beta page").startswith("beta")


def test_the_upload_token_cannot_replace_a_zipped_case_folder_by_its_name(client):
    def cases(diagnosis: str) -> bytes:
        image = png_bytes(Image.effect_noise((64, 64), 40).convert("RGB"))
        return zipped(
            ("c/cases.jsonl", f'{{"image": "a.png", "diagnosis": "{diagnosis}"}}\n'.encode()), ("c/a.png", image)
        )

    assert indexed(client, "cases.zip", cases("granuloma"), AUTH)["status"] == "done"
    refused = upload(client, "cases.zip", cases("sarcoidosis"), STUDENT)
    assert (refused.status_code, refused.json()) == (403, {"detail": replacing("cases.zip")})


def test_a_students_upload_taken_before_the_lecturers_of_its_name_does_not_replace_it(client, tmp_path, monkeypatch):
    """Checked again when the job would replace: the student's job waited while the lecturer's upload of the same name
    was taken and indexed."""
    jobs, lecturer_done = client.app.state.jobs, threading.Event()
    run = jobs._run

    def students_wait(job):
        if not job.may_replace:
            lecturer_done.wait(60)
        run(job)

    monkeypatch.setattr(jobs, "_run", students_wait)
    student = upload(client, "week2.pdf", pdf(tmp_path, "beta"), STUDENT)
    assert student.status_code == 202, "nothing of that name is indexed yet"
    assert indexed(client, "week2.pdf", pdf(tmp_path, "alpha"), AUTH)["status"] == "done"
    lecturer_done.set()
    ended = job_ended(client, student.json()["id"])
    assert (ended["status"], ended["error"]) == ("failed", replacing("week2.pdf"))
    assert list(sources(client)) == ["week2.pdf"] and first_snippet(client, "alpha beta page").startswith("alpha")


def test_the_web_ui_sends_the_lecturers_token_else_the_upload_token(tmp_path, monkeypatch):
    both = api_settings(tmp_path, api_token=TOKEN, upload_token=STUDENT_TOKEN)
    monkeypatch.setattr(web_client, "ui_settings", lambda: both)
    assert web_client.headers() == AUTH
    monkeypatch.setattr(web_client, "ui_settings", lambda: api_settings(tmp_path, upload_token=STUDENT_TOKEN))
    assert web_client.headers() == STUDENT


# -- 4. image queries: their own limit, before and while they are read ----------------------------------------------
QUERY_MB = 2
OVER_QUERY = {"detail": f"image query is over the limit of {QUERY_MB} MB (PATHATLAS_MAX_QUERY_IMAGE_MB)"}


def chunks(count: int, read: list[int]) -> Iterator[bytes]:
    """A multipart body of ``count`` chunks of 256 KB, counting in ``read`` those read."""
    head = b'--b\r\ncontent-disposition: form-data; name="image"; filename="x.png"\r\n\r\n'
    return counted_body(head, b"\r\n--b--\r\n", count, read)


@pytest.mark.parametrize("route", ["/search/image", "/ask/image"])
def test_an_image_query_over_its_limit_is_refused_before_its_body_is_read(tmp_path, route):
    settings = api_settings(tmp_path, max_upload_mb=200, max_query_image_mb=QUERY_MB)
    with TestClient(create_app(settings)) as client:
        read: list[int] = []
        headers = {"content-type": "multipart/form-data; boundary=b", "content-length": str(190 << 20)}
        refused = client.post(route, content=chunks(760, read), headers=headers)
        assert (refused.status_code, refused.json()) == (413, OVER_QUERY)
        assert len(read) <= 1, f"{len(read)} chunks of the body were read before the refusal"


def test_an_image_query_within_the_forms_slack_is_refused_as_it_is_read(tmp_path):
    """The body's limit leaves room for the form around the file: a file over the limit by less is refused while it is
    read; one of the limit's very size is read, and judged by what it holds."""
    with TestClient(create_app(api_settings(tmp_path, max_upload_mb=200, max_query_image_mb=QUERY_MB))) as client:
        limit = QUERY_MB << 20
        over = client.post("/search/image", files={"image": ("big.png", b"0" * (limit + (512 << 10)))})
        assert (over.status_code, over.json()) == (413, OVER_QUERY)
        at_limit = client.post("/search/image", files={"image": ("big.png", b"0" * limit)})
        assert at_limit.status_code == 400 and "big.png is not a readable image" in at_limit.json()["detail"]


# -- 5. index jobs waiting or running are capped ----------------------------------------------------------------------
def test_uploads_beyond_the_jobs_cap_are_refused_before_their_body_is_read(tmp_path, monkeypatch):
    settings = api_settings(tmp_path, api_token=TOKEN, max_upload_mb=200, max_jobs=2)
    with TestClient(create_app(settings)) as client:
        go = threading.Event()

        def held(job):
            job.status = "running"
            go.wait(60)
            return "done", None

        monkeypatch.setattr(client.app.state.jobs, "_index_job", held)
        jobs = [upload(client, f"{tag}.pdf", pdf(tmp_path, tag), AUTH) for tag in ("alpha", "beta")]
        assert [job.status_code for job in jobs] == [202, 202]
        folders, read = upload_folders(tmp_path), []
        headers = {**AUTH, "content-type": "multipart/form-data; boundary=b", "content-length": str(190 << 20)}
        refused = client.post("/jobs", content=chunks(760, read), headers=headers)
        assert (refused.status_code, refused.headers["retry-after"]) == (429, "30")
        said = "2 index jobs are waiting or running (PATHATLAS_MAX_JOBS): send it again once one has ended"
        assert refused.json() == {"detail": said}
        assert len(read) <= 1 and upload_folders(tmp_path) == folders, "nothing read, nothing stored"
        go.set()
        for job in jobs:
            job_ended(client, job.json()["id"])
        assert upload(client, "gamma.pdf", pdf(tmp_path, "gamma"), AUTH).status_code == 202


def test_uploads_sent_at_once_count_against_the_cap_before_they_are_jobs(tmp_path):
    """Each upload holds its slot while it is taken: two taken at once fill a cap of two, though neither is a job."""
    with TestClient(create_app(api_settings(tmp_path, max_jobs=2))) as client:
        jobs = client.app.state.jobs
        with jobs.job_slot() as first, jobs.job_slot() as second, jobs.job_slot() as third:
            assert (first, second, third) == (True, True, False)
        with jobs.job_slot() as again:
            assert again, "a slot is free again once its upload is answered"


def test_the_upload_token_cancels_no_job_the_lecturers_token_sent(client, tmp_path, monkeypatch):
    """A cancel rolls an upload back and deletes it: a student could throw away the lecturer's uploads one by one."""
    jobs, release = client.app.state.jobs, threading.Event()
    run = jobs._run
    monkeypatch.setattr(jobs, "_run", lambda job: (release.wait(60), run(job)))
    lecturers = upload(client, "week3.pdf", pdf(tmp_path, "gamma"), AUTH).json()["id"]
    students = upload(client, "notes.pdf", pdf(tmp_path, "delta"), STUDENT).json()["id"]
    refused = client.delete(f"/jobs/{lecturers}", headers=STUDENT)
    assert (refused.status_code, refused.json()["detail"]) == (403, LECTURERS_JOB)
    assert client.delete(f"/jobs/{students}", headers=STUDENT).status_code == 202, "a student's own upload"
    release.set()
    assert job_ended(client, lecturers)["status"] == "done"
