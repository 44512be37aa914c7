"""Sources sharing a file name (two years' "notes.pdf", two "cases" folders) are named apart by REST as citations
name them (``source_names``): in the source facet, in the refusal of a name several sources share, in case details.
Hashing encoder and tiny files throughout."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from pathatlas.indexer.pipeline import Indexer
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.records import source_id
from pathatlas.ui.api.app import create_app
from pathatlas.ui.bench_crash import make_pdf
from tests.uploads import api_settings

NAMES = ("year1/notes.pdf", "year2/notes.pdf", "year1/cases", "year2/cases")


def case_folder(folder: Path) -> Path:
    """A case folder of one case, C-1, with one image."""
    folder.mkdir(parents=True)
    (folder / "cases.jsonl").write_text('{"image": "c1.jpg", "case": "C-1", "diagnosis": "granuloma"}\n')
    Image.effect_noise((64, 64), 40).convert("RGB").save(folder / "c1.jpg", "JPEG")
    return folder


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> tuple[Path, dict[str, str], dict[str, str]]:
    """A root whose index holds ``NAMES`` (under ``courses``), with each name's source id and a case image's id."""
    root = tmp_path_factory.mktemp("shared")
    courses = root / "courses"
    sources = [make_pdf(courses / year / "notes.pdf", 1, year) for year in ("year1", "year2")]
    sources += [case_folder(courses / year / "cases") for year in ("year1", "year2")]
    settings = api_settings(root)
    with Index.open(settings.index_dir, settings, create=True) as index:
        assert not Indexer(index, show_progress=False).add(sources).failed
        named = {tail(key): entry.get("id") or source_id(key) for key, entry in index.manifest.items()}
        cases = {tail(payload["source"]): rid for rid, payload in index.store.scan({"kind": "case"})}
    assert sorted(named) == sorted(NAMES) and sorted(cases) == ["year1/cases", "year2/cases"]
    return root, named, cases


def tail(key: str) -> str:
    """A source's folder and file name: "year1/notes.pdf"."""
    return "/".join(Path(key).parts[-2:])


@pytest.fixture(scope="module")
def client(library):
    with TestClient(create_app(api_settings(library[0]))) as test_client:
        yield test_client


def test_the_source_facet_names_each_source_of_a_shared_name_by_its_folder(client, library):
    _, named, _ = library
    values = client.get("/facets").json()["fields"]["source"]
    assert {value["label"]: value["value"] for value in values} == named


def test_a_name_several_sources_share_is_refused_naming_each_by_its_folder_and_id(client, library):
    root, named, _ = library
    response = client.post("/search", json={"text": "page", "filters": {"source": "notes.pdf"}})
    detail = response.json()["detail"]
    assert response.status_code == 400 and detail.startswith("'notes.pdf' matches several sources: "), detail
    for name in ("year1/notes.pdf", "year2/notes.pdf"):
        assert f"{name} (id {named[name]})" in detail, detail
    assert str(root) not in detail, "never a server path"


@pytest.mark.parametrize("folder", ["year1/cases", "year2/cases"])
def test_case_details_name_the_case_folder_apart_from_its_namesake(client, library, folder):
    root, named, cases = library
    details = client.get(f"/cases/{cases[folder]}").json()
    assert (details["source"], details["source_id"]) == (folder, named[folder])
    assert str(root) not in str(details)


@pytest.mark.parametrize("name", ["year2/notes.pdf", "year2/cases"])
def test_a_source_filter_takes_the_name_its_citations_give_it(client, name):
    response = client.post("/search", json={"text": "year2", "k": 10, "filters": {"source": name}})
    assert response.status_code == 200, response.text
    hits = response.json()["hits"]
    assert hits and {hit["citation"]["source"] for hit in hits} == {name}
