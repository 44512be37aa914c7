"""A diagnosis fixed in a case folder's metadata and the folder indexed again gave every image of it a new record id
(the id hashes the folder's version), so every link to a case hit made before (its thumbnail, case, image, a record
fetched by id, a similar search, an answer's citation) answered 404 "no such record". Links carry the image's key
beside the id (its folder's id, case and file; a page's source id and number), which finds the same image, with its
new labels, once the id is gone; an image removed since still answers 404. Hashing encoder, tiny files."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from pathatlas.indexer.pipeline import Indexer
from pathatlas.retrieval.index import Index
from pathatlas.ui.api.app import create_app
from pathatlas.ui.bench_crash import make_pdf
from tests.uploads import api_settings

ROWS = [("a.png", "C-1", "granulom"), ("b.png", "C-1", "granulom"), ("c.png", "C-2", "fibrosis")]
"""Two cases, three images; case C-1's diagnosis misspelt, as a label fix finds it."""
FIXED = "granuloma"


def write_folder(folder: Path, rows: list[tuple[str, str, str]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for n, (name, _, _) in enumerate(rows):
        if not (folder / name).exists():
            Image.new("RGB", (48, 48), (40 * n, 90, 160)).save(folder / name)
    lines = [f"{name},{case},{diagnosis}" for name, case, diagnosis in rows]
    (folder / "labels.csv").write_text("\n".join(["image,case,diagnosis", *lines]) + "\n")
    return folder


def fixed(folder: Path) -> Path:
    """``folder`` with case C-1's diagnosis fixed: every image of the folder, C-2's too, gets a new id."""
    return write_folder(folder, [(name, case, FIXED if case == "C-1" else d) for name, case, d in ROWS])


def index(settings, *sources: Path) -> None:
    """``sources`` indexed (again) into the index at ``settings.index_dir``, which is then closed."""
    opened = Index.open(settings.index_dir, settings, create=True)
    try:
        assert not Indexer(opened, show_progress=False).add(list(sources)).failed
    finally:
        opened.close()


def served(settings) -> TestClient:
    """The service on the index as it is now, started afresh (a restart after indexing)."""
    return TestClient(create_app(settings))


@pytest.fixture
def library(tmp_path):
    settings = api_settings(tmp_path)
    folder = write_folder(tmp_path / "cases", ROWS)
    index(settings, folder)
    return settings, folder


def case_hit(client: TestClient, image: str) -> dict:
    hits = client.post("/search", json={"text": "granulom fibrosis", "k": 10, "filters": {"kind": "case"}}).json()
    return next(hit for hit in hits["hits"] if hit["citation"]["image"] == image)


def key_of(url: str) -> dict[str, str]:
    """The key a link carries (its query)."""
    return dict(parse_qsl(urlsplit(url).query))


def test_a_case_hits_links_reach_the_same_image_with_its_fixed_diagnosis(library):
    settings, folder = library
    with served(settings) as client:
        before = case_hit(client, "a.png")
        picture = client.get(before["case_image_url"]).content
    key = key_of(before["case_url"])
    assert key == {"source": before["citation"]["source_id"], "case": "C-1", "image": "a.png"}
    index(settings, fixed(folder))
    with served(settings) as client:
        now = case_hit(client, "a.png")
        assert now["id"] != before["id"], "the fix gave the image a new id"
        assert client.get(f"/records/{before['id']}").status_code == 404, "the id alone finds nothing"
        record = client.get(f"/records/{before['id']}", params=key)
        assert record.status_code == 200 and (record.json()["id"], record.json()["diagnosis"]) == (now["id"], FIXED)
        case = client.get(before["case_url"])
        assert case.status_code == 200 and case.json()["diagnosis"] == FIXED
        assert [image["image"] for image in case.json()["images"]] == ["a.png", "b.png"]
        assert client.get(before["case_image_url"]).content == picture
        thumbnail = client.get(before["thumbnail_url"])
        assert thumbnail.status_code == 200 and thumbnail.headers["content-type"] == "image/jpeg"
        similar = client.post("/search/similar", json={"id": before["id"], "key": key})
        assert similar.status_code == 200, similar.text
        assert client.post("/search/similar", json={"id": before["id"]}).status_code == 404


def test_a_link_to_an_image_removed_since_answers_404(library):
    settings, folder = library
    with served(settings) as client:
        gone, kept = case_hit(client, "b.png"), case_hit(client, "a.png")
    (folder / "b.png").unlink()
    index(settings, write_folder(folder, [row for row in ROWS if row[0] != "b.png"]))
    with served(settings) as client:
        for url in (gone["thumbnail_url"], gone["case_url"], gone["case_image_url"]):
            answer = client.get(url)
            assert (answer.status_code, answer.json()) == (404, {"detail": "no such record"}), url
        assert client.get(f"/records/{gone['id']}", params=key_of(gone["case_url"])).status_code == 404
        assert client.get(kept["case_image_url"]).status_code == 200, "its case's other image is still there"


def test_a_link_whose_key_names_no_source_id_is_refused(library):
    settings, _ = library
    with served(settings) as client:
        hit = case_hit(client, "a.png")
        refused = client.get(f"/cases/{hit['id']}", params={**key_of(hit["case_url"]), "source": "../cases"})
        assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["query", "source"]


def test_an_answers_case_citation_links_still_reach_the_case_after_the_fix(library):
    settings, folder = library
    with served(settings) as client:
        asked = {"question": "Which case shows fibrosis?", "options": ["fibrosis", "granulom"]}
        cited = [c for c in client.post("/ask", json=asked).json()["citations"] if c["case"]]
    assert cited
    index(settings, fixed(folder))
    with served(settings) as client:
        for citation in cited:
            key = {"source": citation["source_id"], "case": citation["case"], "image": citation["image"]}
            assert key_of(citation["case_url"]) == key_of(citation["case_image_url"]) == key, citation
            assert client.get(f"/records/{citation['evidence']}").status_code == 404, "a new id"
            assert client.get(citation["case_url"]).json()["case"] == citation["case"]
            assert client.get(citation["case_image_url"]).status_code == 200


def test_a_page_hits_links_reach_the_same_page_of_its_book_edited_since(tmp_path):
    """A re-indexed unchanged book keeps its ids; an edited one gives every page a new id, which the page's key (its
    source and number) replaces: a passage's link then shows its page, no longer knowing where the passage lies."""
    settings = api_settings(tmp_path)
    book = make_pdf(tmp_path / "book.pdf", 3, "first")
    index(settings, book)
    with served(settings) as client:
        page = client.get("/pages", params={"source": "book.pdf", "page": 2}).json()
        (hit,) = client.post("/search", json={"text": "first page 2", "k": 1}).json()["hits"]
    assert urlsplit(hit["page_url"]).path == f"/media/pages/{hit['passage']}", "its passage outlined"
    index(settings, book)
    with served(settings) as client:
        assert client.get(f"/records/{page['id']}").status_code == 200, "unchanged: the same id"
    index(settings, make_pdf(book, 3, "second"))
    key = {"source": page["citation"]["source_id"], "page": "2"}
    with served(settings) as client:
        assert client.get(f"/records/{page['id']}").status_code == 404, "edited: a new id"
        record = client.get(f"/records/{page['id']}", params=key).json()
        assert record["citation"]["page"] == 2 and record["text"].startswith("second page 2")
        for url in (page["page_url"], page["thumbnail_url"], hit["page_url"], hit["thumbnail_url"]):
            assert key_of(url) == key, url
            assert client.get(url).status_code == 200, url
        assert client.get(f"/records/{page['id']}/pdf", params=key).status_code == 200
