"""Values a caller hands back as it was given them (a tester's findings): a citation's JSON read back and written again,
a k computed with numpy, a source filter given as a ``pathlib.Path``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pathatlas.errors import BadInputError
from pathatlas.retrieval.encoders.hashing import HashingEncoder
from pathatlas.retrieval.records import Citation, Payload, source_id
from pathatlas.retrieval.search import Query
from pathatlas.ui.library import Atlas

CITED = [
    Citation.of(Payload("figure", "/srv/books/a.pdf", page=3, page_label="13", figure="Figure 4.2", bbox=(1, 2, 3, 4))),
    Citation.of(Payload("page", "/srv/year2/notes.pdf", page=1), name="year2/notes.pdf"),
    Citation.of(Payload("case", "/srv/Fälle Winter", case="C-05", image="images/IMG_2049.jpg")),
]


@pytest.fixture(scope="module")
def atlas(tmp_path_factory, demo_corpus):
    """The demo primer and cases indexed with the hashing encoder (no model to load); tests must not modify it."""
    root = tmp_path_factory.mktemp("roundtrip")
    with Atlas(root / "index", home=root / "home", encoder=HashingEncoder.name, case_keypoints=False) as atlas:
        assert [r["status"] for r in atlas.add(demo_corpus / "primer", demo_corpus / "cases")] == ["indexed"] * 2
        yield atlas


@pytest.mark.parametrize("citation", CITED, ids=lambda c: c.label())
def test_a_citation_read_back_from_its_json_writes_the_same_json(citation):
    """Read back, a citation's source is its name, not its server path: its JSON named another source_id."""
    data = citation.to_dict()
    again = Citation.from_dict(data)
    assert again.to_dict() == data and Citation.from_dict(again.to_dict()).to_dict() == data
    assert again.to_dict()["source_id"] == source_id(citation.source)


def test_a_searched_citation_round_trips_with_the_id_its_source_is_removed_by(atlas):
    cited = atlas.search("carcinoma", k=1)[0]["citation"]
    assert Citation.from_dict(cited).to_dict() == cited
    assert cited["source_id"] in {source_id(key) for key in atlas.index.manifest}


@pytest.mark.parametrize("k", [np.int64(2), np.int32(2), np.uint8(2)])
def test_a_numpy_integer_k_is_taken_as_the_int_it_is(atlas, k):
    query = Query(text="carcinoma", k=k)
    query.validate()
    assert query.k == 2 and type(query.k) is int
    hits = atlas.search("carcinoma", k=k)
    assert len(hits) == 2 and json.loads(json.dumps(hits)) == atlas.search("carcinoma", k=2)


@pytest.mark.parametrize("k", [True, np.bool_(True), 2.0, np.float64(2), "2"])
def test_a_k_that_is_no_whole_number_is_still_refused(k):
    with pytest.raises(BadInputError, match=r"^k must be a whole number, not "):
        Query(text="carcinoma", k=k).validate()


def test_a_source_filter_takes_a_path_as_its_text(atlas, demo_corpus):
    primer = next((demo_corpus / "primer").glob("*.pdf"))
    by_text = atlas.search("cells", k=5, filters={"source": str(primer)})
    assert by_text and {h["citation"]["source"] for h in by_text} == {primer.name}
    assert atlas.search("cells", k=5, filters={"source": primer}) == by_text
    both = atlas.search("cells", k=5, filters={"source": [primer, demo_corpus / "cases"]})
    assert both == atlas.search("cells", k=5, filters={"source": [str(primer), str(demo_corpus / "cases")]})
    with pytest.raises(BadInputError, match=r"^filter 'source' takes text or a list of texts, not 5$"):
        atlas.search("cells", filters={"source": 5})
    with pytest.raises(BadInputError, match=r"^filter 'organ' takes text"):
        atlas.search("cells", filters={"organ": Path("lung")})


@pytest.mark.parametrize("kind", ["page", "figure", "case"])
def test_a_hit_read_back_from_a_doors_record_writes_the_same_json(atlas, kind):
    """``Hit`` had no ``from_dict``: a client keeping hits (a saved ``search --json``) could not have them back."""
    from pathatlas.retrieval.records import Hit

    records = json.loads(json.dumps(atlas.search("carcinoma granuloma cells", k=5, filters={"kind": kind})))
    assert records
    for record in records:
        again = Hit.from_dict(record)
        shared = again.to_dict().keys() & record.keys()  # a door's record rounds ``relative`` as its relative_score
        assert {name: again.to_dict()[name] for name in shared} == {name: record[name] for name in shared}
        assert len(shared) == len(again.to_dict()) - 1 and again.relative == record["relative_score"]
        assert Hit.from_dict(again.to_dict()).to_dict() == again.to_dict()
        assert again.label() == record["citation"]["label"] or again.repeated_on or again.repeated_in
