"""The Python door (``pathatlas.ui.library.Atlas``): what the CLI prints, as values, from one object."""

from __future__ import annotations

import json

import pytest

from pathatlas.errors import BadInputError, UnknownSourceError
from pathatlas.ui.bench_crash import HashingEncoder
from pathatlas.ui.library import Atlas


@pytest.fixture
def atlas(tmp_path, demo_corpus):
    with Atlas(str(tmp_path / "index"), home=tmp_path / "home", encoder=HashingEncoder.name) as opened:
        reports = opened.add(demo_corpus / "primer" / "demo-primer.pdf", str(demo_corpus / "cases"))
        assert [r["status"] for r in reports] == ["indexed", "indexed"], reports
        yield opened


def test_search_gives_the_hit_records_every_door_prints(atlas):
    hits = atlas.search("koilocytes perinuclear halo", k=3, filters={"source": "demo-primer.pdf"})
    assert hits and json.loads(json.dumps(hits)) == hits, "JSON-ready"
    assert {"rank", "relevance", "why", "snippet", "citation"} <= set(hits[0])
    assert all(h["citation"]["source"] == "demo-primer.pdf" for h in hits)
    assert [h.id for h in atlas.hits("koilocytes perinuclear halo", k=3)] == [
        h["id"] for h in atlas.search("koilocytes perinuclear halo", k=3)
    ]


def test_an_image_query_takes_a_path_and_finds_its_own_case(demo_index, demo_corpus, session_home):
    image = sorted((demo_corpus / "cases" / "images").glob("*.jpg"))[0]
    with Atlas(demo_index.path, home=session_home) as atlas:  # the default encoder: the hashing one sees no images
        hits = atlas.search(image=str(image), k=3, filters={"kind": "case"})
    assert hits[0]["citation"]["image"] == f"images/{image.name}"


def test_ask_answers_with_cited_evidence_and_remove_takes_a_source_by_name(atlas):
    answer = atlas.ask("Which cells show a perinuclear halo?", ["Koilocytes", "Goblet cells"])
    assert answer["answer"] in ("Koilocytes", "Goblet cells") and answer["citations"]
    assert atlas.remove("demo-primer.pdf") > 0
    with pytest.raises(UnknownSourceError):
        atlas.search("koilocytes", filters={"source": "demo-primer.pdf"})


def test_bad_input_is_one_line(atlas, tmp_path):
    with pytest.raises(BadInputError):
        atlas.search("")
    text = tmp_path / "slide.png"
    text.write_text("not an image")
    with pytest.raises(BadInputError, match="slide.png"):
        atlas.search(image=text)
