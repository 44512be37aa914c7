"""A review of the keys links carry beside a record's id (``LinkKey``). The key's ``source`` is a source's id, but it
was resolved as any source name is, so a link to a folder removed since reached another folder whose name is that id,
where README says a removed image answers 404. A misspelt field of POST /search/similar's ``key`` was dropped, the
key then finding nothing (404 "no such record"), where the body's own fields are refused by name (422). The /ask
example showed its citations' links without the key a real answer's carry. Hashing encoder, tiny files."""

from __future__ import annotations

from pathatlas.retrieval.index import Index
from pathatlas.ui.api.routes.ask import P174, P185
from pathatlas.ui.api.schemas import Links, linked
from tests.api.test_links_survive_label_fixes import (  # noqa: F401 (library: a fixture)
    ROWS,
    case_hit,
    index,
    key_of,
    library,
    served,
    write_folder,
)


def removed(settings, source) -> None:
    opened = Index.open(settings.index_dir, settings)
    try:
        opened.remove_source(str(source))
    finally:
        opened.close()


def test_a_link_to_a_removed_folder_never_reaches_a_folder_named_as_its_id(library, tmp_path):  # noqa: F811
    settings, folder = library
    with served(settings) as client:
        hit = case_hit(client, "a.png")
    removed(settings, folder)
    index(settings, write_folder(tmp_path / hit["citation"]["source_id"], [("a.png", "C-1", "another folder's")]))
    with served(settings) as client:
        for url in (hit["case_url"], hit["case_image_url"], hit["thumbnail_url"]):
            answer = client.get(url)
            assert (answer.status_code, answer.json()) == (404, {"detail": "no such record"}), url


def test_a_similar_searchs_key_with_a_misspelt_field_is_refused_naming_it(library):  # noqa: F811
    settings, _ = library
    with served(settings) as client:
        hit = case_hit(client, "a.png")
        key = {**key_of(hit["case_url"]), "imgae": "a.png"}
        del key["image"]
        answer = client.post("/search/similar", json={"id": "0" * 24, "key": key})  # an id gone: its key finds it
    assert answer.status_code == 422, answer.text
    assert [error["loc"] for error in answer.json()["detail"]] == [["body", "key", "imgae"]]


def test_the_ask_examples_citations_link_as_an_answers_do():
    for citation in (P174, P185):
        built = linked({**citation, "thumbnail": True}, Links())
        assert {name: built[name] for name in citation} == citation
