"""A PDF or notes file sent alone under the name of an indexed source it does not replace (a zip's deck, a book indexed
from disk) is refused (409), naming the zip that holds it: beside it, the upload was cited by its upload id
("f1d2d6c61158/tuberculosis.qmd") and the zip's deck by its folder, and an upload-token upload changed how the
lecturer's sources are cited. Hashing encoder, tiny files."""

from __future__ import annotations

import json
import time

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from pathatlas.indexer.pipeline import Indexer
from pathatlas.retrieval.records import display_name
from pathatlas.ui.api.app import create_app
from pathatlas.ui.api.jobs import claimed
from pathatlas.ui.bench_crash import make_pdf
from tests.helpers import index_new, png_bytes
from tests.servers import job_ended
from tests.uploads import AUTH, TOKEN, api_settings, upload, zipped

STUDENT = {"Authorization": "Bearer stud3nt"}
PNG = png_bytes(Image.new("RGB", (48, 48), (150, 40, 90)))
REPLACED = "course.zip: replaced the earlier upload of this name"


@pytest.fixture
def settings(tmp_path):
    return api_settings(tmp_path, api_token=TOKEN, upload_token="stud3nt")


@pytest.fixture
def client(settings):
    with TestClient(create_app(settings)) as served:
        yield served


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> bytes:
    """One PDF's bytes for every zip: a PDF made again differs (its dates), and would be read again."""
    return make_pdf(tmp_path_factory.mktemp("book") / "book.pdf", 2, "osteoid").read_bytes()


def deck(word: str) -> bytes:
    return f"## Tuberculosis\n\n- {word} granulomas\n\n## Stains\n\n- Ziehl-Neelsen\n".encode()


def course(book: bytes, word: str = "caseatng", diagnosis: str = "tuberculossis", without: str = "") -> bytes:
    """The course zip: a book, two decks and a case folder; ``word`` and ``diagnosis`` are what a correction fixes."""
    members = {
        "book.pdf": book,
        "notes/week1.qmd": b"## Bone\n\n- osteoid is laid down first\n",
        "notes/tuberculosis.qmd": deck(word),
        "cases/cases.jsonl": json.dumps({"image": "a.png", "diagnosis": diagnosis}).encode(),
        "cases/a.png": PNG,
    }
    return zipped(*((name, data) for name, data in members.items() if name != without))


def sent(client, name: str, data: bytes, headers: dict = AUTH) -> dict:
    """An upload's job once it ended and its upload's claim went (``tests.uploads.indexed``, with ``headers``)."""
    response = upload(client, name, data, headers)
    assert response.status_code == 202, response.text
    ended = job_ended(client, response.json()["id"])
    deadline = time.monotonic() + 30
    while any(claimed(folder) for folder in upload_folders(client)):
        assert time.monotonic() < deadline, "an upload stays claimed"
        time.sleep(0.01)
    return ended


def upload_folders(client) -> list:
    return sorted(client.app.state.jobs.uploads.path.iterdir())


def source_ids(client) -> dict[str, str]:
    return {source["source"]: source["id"] for source in client.get("/sources").json()}


def record_ids(client) -> dict[str, set[str]]:
    """Each source's record ids, by its name."""
    index = client.app.state.engine.index
    return {display_name(key): {rid for rid, _ in index.store.scan({"source": key})} for key in index.manifest}


@pytest.fixture
def reads(monkeypatch) -> list[str]:
    """The sources an indexer reads from here on, by name."""
    read, write = [], Indexer._write

    def counted(self, source, fingerprint):
        read.append(display_name(source.key))
        return write(self, source, fingerprint)

    monkeypatch.setattr(Indexer, "_write", counted)
    return read


# -- a file sent alone under an indexed source's name ------------------------------------------------------------------
@pytest.mark.parametrize("headers", [AUTH, STUDENT], ids=["lecturer", "student"])
def test_a_deck_sent_alone_under_the_name_of_a_zips_deck_is_refused_naming_the_zip(client, book, headers):
    assert sent(client, "course.zip", course(book))["status"] == "done"
    ids, folders = source_ids(client), upload_folders(client)
    refused = upload(client, "tuberculosis.qmd", deck("caseating"), headers)
    assert refused.status_code == 409, refused.text
    held = ids["tuberculosis.qmd"]
    assert refused.json()["detail"] == (
        f"tuberculosis.qmd is the name of a source of course.zip (id {held}), already indexed: sent alone, it would be "
        f"a second source of that name, each cited otherwise; to replace it, send course.zip again holding it, or "
        f"remove that source first (DELETE /sources/{held})"
    )
    assert (source_ids(client), upload_folders(client)) == (ids, folders)


def test_a_pdf_sent_alone_under_the_name_of_a_book_indexed_from_disk_is_refused(settings, book, tmp_path):
    index_new(settings, make_pdf(tmp_path / "atlas.pdf", 1, "glomerulus"))
    with TestClient(create_app(settings)) as client:
        held = source_ids(client)["atlas.pdf"]
        refused = upload(client, "atlas.pdf", book)
    assert refused.status_code == 409, refused.text
    assert refused.json()["detail"] == (
        f"atlas.pdf is the name of an indexed source (id {held}): sent alone, it would be a second source of that "
        f"name, each cited otherwise; upload it under another name, or remove that source first "
        f"(DELETE /sources/{held})"
    )
