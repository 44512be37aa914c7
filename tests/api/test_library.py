"""The Python door (``pathatlas.ui.library.Atlas``): what the CLI prints, as values, from one object."""

from __future__ import annotations

import json

import pytest

from pathatlas.errors import IndexMissingError, PathAtlasError, UnknownSourceError
from pathatlas.retrieval.encoders.hashing import HashingEncoder
from pathatlas.ui.library import Atlas
from tests.helpers import run_cli


@pytest.fixture
def atlas(tmp_path, demo_corpus):
    with Atlas(str(tmp_path / "index"), home=tmp_path / "home", encoder=HashingEncoder.name) as opened:
        reports = opened.add(demo_corpus / "primer" / "demo-primer.pdf", str(demo_corpus / "cases"))
        assert [r["status"] for r in reports] == ["indexed", "indexed"], reports
        yield opened


def test_search_and_ask_give_what_the_cli_prints(atlas, tmp_path):
    hits = atlas.search("koilocytes perinuclear halo", k=3, filters={"source": "demo-primer.pdf"})
    assert hits and all(h["citation"]["source"] == "demo-primer.pdf" for h in hits)
    home, index = tmp_path / "home", tmp_path / "index"
    printed = run_cli(
        "search",
        "koilocytes perinuclear halo",
        "--k",
        3,
        "--filter",
        "source=demo-primer.pdf",
        "--index",
        index,
        "--json",
        home=home,
    )
    assert json.loads(printed.stdout) == hits
    question, options = "Which cells show a perinuclear halo?", ["Koilocytes", "Goblet cells"]
    asked = run_cli(
        "ask",
        question,
        "--option",
        f"A={options[0]}",
        "--option",
        f"B={options[1]}",
        "--index",
        index,
        "--json",
        home=home,
    )
    assert json.loads(asked.stdout) == atlas.ask(question, options) == atlas.ask(question, options)
    assert len(atlas._agents) == 1, "one agent (and its sentence-vector cache) for every question"
    assert [h.id for h in atlas.hits("koilocytes perinuclear halo", k=3)] == [
        h["id"] for h in atlas.search("koilocytes perinuclear halo", k=3)
    ]


def test_an_image_query_takes_a_path_and_finds_its_own_case(demo_index, demo_corpus, session_home):
    image = sorted((demo_corpus / "cases" / "images").glob("*.jpg"))[0]
    with Atlas(demo_index.path, home=session_home) as atlas:  # the default encoder: the hashing one sees no images
        hits = atlas.search(image=str(image), k=3, filters={"kind": "case"})
    assert hits[0]["citation"]["image"] == f"images/{image.name}"


def test_a_question_pasted_with_its_option_lines_is_asked_with_those_options(atlas):
    """As the CLI, REST and MCP split it: it was answered as an open question with the options inside its text."""
    pasted = atlas.ask("Which cells show a perinuclear halo?\nA. Koilocytes\nB. Goblet cells")
    given = atlas.ask("Which cells show a perinuclear halo?", ["Koilocytes", "Goblet cells"])
    assert pasted["options_from_question"] and not given["options_from_question"]
    assert {**pasted, "options_from_question": False} == given


def test_ask_answers_with_cited_evidence_and_remove_takes_a_source_by_name(atlas):
    answer = atlas.ask("Which cells show a perinuclear halo?", ["Koilocytes", "Goblet cells"])
    assert answer["answer"] in ("Koilocytes", "Goblet cells") and answer["citations"]
    assert atlas.remove("demo-primer.pdf") > 0
    with pytest.raises(UnknownSourceError):
        atlas.search("koilocytes", filters={"source": "demo-primer.pdf"})


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda a: a.search(""), "empty query"),
        (lambda a: a.search("x" * 5000), "over the limit of 4,000 .PATHATLAS_MAX_QUERY_CHARS."),
        (lambda a: a.search("carcinoma", filters="kind=figure"), "filters must be a mapping"),
        (lambda a: a.search("carcinoma", filters={"organ": []}), "filter 'organ' is empty"),
        (lambda a: a.ask("Which cells?", "AB"), "options must be a list of texts"),
        (lambda a: a.ask("Which cells?", ["Koilocytes", None]), "an option must be text"),
        (lambda a: a.search(image=b"not an image"), "not a"),
    ],
)
def test_mistakes_are_one_line_errors(atlas, call, message):
    with pytest.raises(PathAtlasError, match=message) as raised:
        call(atlas)
    assert "\n" not in str(raised.value)


def test_a_padded_filter_value_is_the_value(atlas):
    """The CLI strips ``--filter "organ= lung "``; every other door matched nothing."""
    assert atlas.search("lung", filters={"kind": " case "}) == atlas.search("lung", filters={"kind": "case"}) != []


def test_an_index_folder_that_holds_none_is_refused_until_add_creates_it(tmp_path, demo_corpus):
    atlas = Atlas(tmp_path / "typo", home=tmp_path / "home", encoder=HashingEncoder.name)
    with pytest.raises(IndexMissingError, match="no PathAtlas index"):
        atlas.search("koilocytes")
    with pytest.raises(IndexMissingError):
        atlas.ask("Which cells show a halo?", ["Koilocytes", "Goblet cells"])
    assert atlas.add(demo_corpus / "primer")[0]["status"] == "indexed"
    assert atlas.search("koilocytes")
