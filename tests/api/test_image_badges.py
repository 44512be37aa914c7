"""A student's report: a tinted copy of an adenocarcinoma tile found benign lung tissue first, called "best match",
and the next hits "strong match" (relative scores 1.0/0.97): an image query's badges came from rank and fused-score
ratios alone, so a weak look-alike read like a sure one. Now an image query's hit found by its look alone says
"looks alike" unless most of the query's nearest candidates share its diagnosis; a verified same specimen, and a hit
found by the image's printed words, keep their badge (BENCHMARKS.md: "What an image search's badge claims")."""

from __future__ import annotations

import json

import pytest

from pathatlas.corpora.demo import draw_pattern
from pathatlas.indexer.pipeline import Indexer
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.records import Citation, Hit, Payload
from pathatlas.retrieval.search import Query, Searcher
from pathatlas.ui.hits import AGREEING, hit_records

LOOK = {"visual:image": 1, "joint:image": 2}


def case_hit(matched_by: dict[str, int], agreeing: int | None = 10, relative: float = 1.0) -> Hit:
    """A case hit of an image query, as the searcher makes it: ``agreeing`` of its 10 nearest share its diagnosis."""
    payload = Payload(kind="case", diagnosis="lung adenocarcinoma")
    citation = Citation("cases", case="C1", image="a.jpg")
    return Hit(
        str(relative),
        relative,
        "case",
        "",
        citation,
        payload=payload,
        matched_by=matched_by,
        relative=relative,
        agreeing=agreeing,
    )


def badges(*hits: Hit) -> list[str]:
    return [record["relevance"] for record in hit_records(list(hits))]


def test_a_look_alike_few_neighbours_agree_with_is_not_called_a_match():
    few = AGREEING - 1
    assert badges(case_hit(LOOK, few), case_hit(LOOK, few, 0.97)) == ["looks alike", "looks alike"]
    assert badges(case_hit({**LOOK, "majority": 1}, 0)) == ["looks alike"]  # moved up by the vote, not its look


def test_a_look_alike_most_neighbours_agree_with_keeps_its_badge():
    assert badges(case_hit(LOOK, AGREEING), case_hit(LOOK, 10, 0.97)) == ["best match", "strong match"]


@pytest.mark.parametrize(
    "matched_by",
    [
        {"specimen": 1, **LOOK},  # verified as the same specimen: the image asked about
        {"bm25:image": 1, **LOOK},  # the words printed in the image found it too
    ],
)
def test_a_hit_found_by_more_than_its_look_keeps_its_badge(matched_by):
    assert badges(case_hit(matched_by, 0)) == ["best match"]


def test_a_text_query_hit_keeps_its_badge():
    assert badges(case_hit({"text": 1, "bm25": 1}, None)) == ["best match"]


@pytest.fixture
def gallery(settings):
    """Eight tuberculosis granulomas and one LSIL (koilocytes), each its own case."""
    folder = settings.home.parent / f"badges-{settings.index.parent.name}"
    (folder / "images").mkdir(parents=True)
    rows = [("granuloma", seed, "tuberculosis") for seed in range(1, 9)] + [("koilocytes", 1, "LSIL")]
    lines = []
    for n, (pattern, seed, diagnosis) in enumerate(rows):
        draw_pattern(pattern, seed).save(folder / "images" / f"{n}.png")
        lines.append(json.dumps({"image": f"images/{n}.png", "case": f"C{n}", "diagnosis": diagnosis}) + "\n")
    (folder / "cases.jsonl").write_text("".join(lines))
    index = Index.open(settings.index_dir, settings, create=True)
    assert not Indexer(index, show_progress=False).add([folder]).failed
    return Searcher(index)


def test_an_image_query_badge_says_whether_its_neighbours_share_the_diagnosis(gallery):
    granuloma = gallery.search(Query(image=draw_pattern("granuloma", 99), k=3))
    assert [h.payload.diagnosis for h in granuloma] == ["tuberculosis"] * 3
    assert {h.agreeing for h in granuloma} == {8}
    assert badges(*granuloma)[0] == "best match"
    lsil = gallery.search(Query(image=draw_pattern("koilocytes", 99), k=3))
    assert lsil[0].payload.diagnosis == "LSIL" and lsil[0].agreeing == 1 and "specimen" not in lsil[0].matched_by
    assert badges(*lsil)[0] == "looks alike"
    assert [h.agreeing for h in gallery.search(Query(image=draw_pattern("koilocytes", 99), k=1))] == [1]  # any k
    same = gallery.search(Query(image=draw_pattern("koilocytes", 1), k=3))[0]  # the indexed slide itself
    assert "specimen" in same.matched_by and badges(same) == ["best match"]


def test_find_similar_badges_its_look_alikes_as_an_image_query_does(gallery):
    """'Find similar' on LC25000 lungaca1 called a squamous cell carcinoma tile 'best match' where an image search
    of the same picture said 'looks alike': its hits carried no neighbour count."""
    from pathatlas.retrieval.similar import similar

    lsil = next(rid for rid, p in gallery.index.store.scan({}) if p.get("diagnosis") == "LSIL")
    hits = similar(gallery, lsil, k=3)
    assert all(hit.agreeing is not None for hit in hits) and hits[0].payload.diagnosis == "tuberculosis"
    assert hits[0].agreeing == 8 and badges(*hits)[0] == "best match"  # eight look-alikes agree: a match of them
    granuloma = next(rid for rid, p in gallery.index.store.scan({}) if p.get("diagnosis") == "tuberculosis")
    near = similar(gallery, granuloma, k=8)  # the seven other granulomas and the LSIL slide
    lone = [badge for hit, badge in zip(near, badges(*near), strict=True) if hit.payload.diagnosis == "LSIL"]
    assert lone == ["looks alike"], "one of its ten nearest is LSIL: no match of the granuloma"
