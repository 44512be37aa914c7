"""One answer document through every door: ``pathatlas ask --json``, REST ``/ask`` and the MCP ``ask`` tool give each
quote's citation its place (``answer_record``): a quote that is a figure's caption names the figure and is boxed by
it (``record``), not by the passage holding it. And a question pasted whole with its option lines is split by every
door, which says so (``options_from_question``). Hashing encoder and a one-page PDF: no model to load."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import anyio
import pymupdf
import pytest
from fastapi.testclient import TestClient
from mcp.server.mcpserver.exceptions import ToolError

from pathatlas.agent.questions import with_pasted_options
from pathatlas.corpora.demo import draw_pattern
from pathatlas.errors import BadInputError
from pathatlas.retrieval.records import Payload
from pathatlas.ui.api.app import create_app
from pathatlas.ui.mcp_server import build_server
from pathatlas.ui.tools import Toolbox
from tests.helpers import hashing_settings, png_bytes, run_cli

PROSE = [
    "Chapter 1. Cervical Epithelium and HPV",
    "The ectocervix is covered by non-keratinising stratified squamous epithelium. Persistent infection with "
    "high-risk human papillomavirus (HPV) causes squamous intraepithelial lesions.",
    "Koilocytes are the hallmark of productive HPV infection: superficial squamous cells with an enlarged, "
    "hyperchromatic, wrinkled (raisinoid) nucleus surrounded by a sharply outlined clear perinuclear halo.",
    "Low-grade squamous intraepithelial lesion (LSIL, CIN 1) shows koilocytic change in the upper layers.",
]
CAPTION = (
    "Figure 1.1. Koilocytes: Koilocytes in cervical squamous epithelium: "
    "clear perinuclear halos around raisinoid nuclei."
)
MIN_WORDS = {"PATHATLAS_PASSAGE_MIN_WORDS": "10"}  # each paragraph and the caption a passage of its own
ASKED = {
    "question": "What surrounds the raisinoid nuclei of koilocytes in cervical squamous epithelium?",
    "options": ["clear perinuclear halos", "keratin pearls"],
}
QUESTION = "Which cells are the hallmark of productive HPV infection?"
OPTIONS = ["Koilocytes", "Goblet cells", "Langhans giant cells"]
PASTED = "\n".join([QUESTION, *(f"{letter}. {option}" for letter, option in zip("ABC", OPTIONS, strict=False))])


@pytest.fixture(scope="module")
def lecture(tmp_path_factory) -> Path:
    """A home (``home``) and index (``idx``) holding one page of prose, a figure and its caption below it."""
    root = tmp_path_factory.mktemp("lecture")
    doc = pymupdf.open()
    page = doc.new_page(width=612, height=792)
    page.insert_htmlbox(pymupdf.Rect(60, 50, 552, 400), "".join(f"<p>{text}</p>" for text in PROSE))
    buffer = png_bytes(draw_pattern("koilocytes", 10))
    page.insert_image(pymupdf.Rect(60, 410, 300, 590), stream=buffer)
    page.insert_htmlbox(pymupdf.Rect(60, 595, 300, 740), f"<p style='font-size:9px'>{CAPTION}</p>")
    doc.save(root / "lecture.pdf")
    indexed = run_cli("index", root / "lecture.pdf", "--index", root / "idx", home=root / "home", **MIN_WORDS)
    assert indexed.exit_code == 0, indexed.output
    return root


@pytest.fixture(scope="module")
def service(lecture):
    """REST on the lecture's index, and the tools on its engine (as ``pathatlas mcp`` builds them)."""
    settings = hashing_settings(lecture, index=lecture / "idx", passage_min_words=10)
    with TestClient(create_app(settings)) as client:
        yield client, Toolbox(client.app.state.engine)


def ask_cli(lecture: Path, question: str, options: list[str], *flags: str):
    arguments = [part for option in options for part in ("--option", option)]
    home, index = lecture / "home", lecture / "idx"
    return run_cli("ask", question, *arguments, *flags, "--index", index, home=home, **MIN_WORDS)


def ask_mcp(toolbox: Toolbox, arguments: dict) -> dict:
    called = anyio.run(build_server(toolbox).call_tool, "ask", arguments)
    assert not called.is_error, called.content[0].text
    return json.loads(called.content[0].text)


def quotes(answer: dict) -> list[dict]:
    return [quote for option in answer["options"] for quote in option["evidence"]]


def test_every_door_cites_a_caption_quote_with_its_figure_and_the_figure_s_box(lecture, service):
    """A caption quote was boxed by the passage holding it, so "Open" outlined the caption's text (in a longer passage
    the prose around it too), not the figure it names."""
    client, toolbox = service
    cli = ask_cli(lecture, ASKED["question"], ASKED["options"], "--json")
    assert cli.exit_code == 0, cli.output
    rest = client.post("/ask", json=ASKED)
    assert rest.status_code == 200, rest.text
    doors = {"cli": json.loads(cli.stdout), "rest": rest.json(), "mcp": ask_mcp(toolbox, ASKED)}
    figures = {
        record_id: Payload.from_payload(stored)
        for record_id, stored in client.app.state.engine.index.store.scan({"kind": "figure"})
    }
    (figure,) = figures
    for door, answer in doors.items():
        caption = next(q["citation"] for q in quotes(answer) if q["quote"].startswith("Koilocytes: Koilocytes in"))
        assert (caption["figure"], caption["label"]) == ("Figure 1.1", "lecture.pdf, p. 1, Figure 1.1"), door
        assert (caption["record"], tuple(caption["bbox"])) == (figure, figures[figure].captioned_bbox), door
        assert figures[figure].captioned_bbox != figures[figure].bbox, "the caption's box holds more than the image"
        assert answer["options_from_question"] is False, door
    cited = [*(q["citation"] for q in quotes(doors["rest"])), *doors["rest"]["citations"]]
    caption_url = f"/media/pages/{figure}?captioned=true"  # the caption quote's page: its figure with its caption
    assert caption_url in [c["page_url"] for c in cited]
    others = [c for c in cited if c["page_url"] != caption_url]
    paths = [urlsplit(c["page_url"]).path for c in others]  # a page's link carries its key as its query
    assert others and paths == [f"/media/pages/{c['record']}" for c in others], "a record's own box"
    assert all(c["media"].startswith("pathatlas://thumbnails/") for c in doors["mcp"]["citations"]), doors["mcp"]
    assert all(Path(c["thumbnail"]).is_file() for c in doors["cli"]["citations"]), "the CLI's own machine's file"
    assert all(Path(q["citation"]["thumbnail"]).is_file() for q in quotes(doors["cli"])), "a quote's, as the answer's"
    assert all(q["citation"]["media"].startswith("pathatlas://") for q in quotes(doors["mcp"])), doors["mcp"]
    everywhere = {door: [*(q["citation"] for q in quotes(a)), *a["citations"]] for door, a in doors.items()}
    assert not any("page_url" in c for c in everywhere["cli"]), "no server: no URLs"
    assert not any("thumbnail" in c for c in everywhere["mcp"]), "no server file"
    shown = ask_cli(lecture, ASKED["question"], ASKED["options"])
    assert shown.exit_code == 0, shown.output
    assert "lecture.pdf, p. 1, Figure 1.1, bbox" in " ".join(shown.stdout.split()), shown.stdout


def test_a_question_pasted_with_its_options_is_split_by_rest_and_mcp_saying_so(service, monkeypatch):
    client, toolbox = service
    rest = client.post("/ask", json={"question": PASTED})
    assert rest.status_code == 200, rest.text
    image = ask_image_without_its_image(client, monkeypatch, PASTED)
    for door, answer in {
        "rest": rest.json(),
        "rest image": image,
        "mcp": ask_mcp(toolbox, {"question": PASTED}),
    }.items():
        assert [option["text"] for option in answer["options"]] == OPTIONS, door
        assert (answer["question"], answer["options_from_question"]) == (QUESTION, True), door
    given = client.post("/ask", json={"question": PASTED, "options": OPTIONS[1:]}).json()
    assert [option["text"] for option in given["options"]] == OPTIONS[1:], "options given win"
    assert (given["question"], given["options_from_question"]) == (PASTED, False)


def ask_image_without_its_image(client: TestClient, monkeypatch, question: str) -> dict:
    """``/ask/image``'s answer, its question asked with the image (checked) but answered without it: the hashing
    encoder cannot search by image."""
    engine, asked = client.app.state.engine, []
    ask = engine.ask

    def without_image(question):
        asked.append(question)
        return ask(replace(question, image=None))

    monkeypatch.setattr(engine, "ask", without_image)
    files = {"image": ("slide.png", png_bytes(draw_pattern("koilocytes", 3)))}
    answered = client.post("/ask/image", files=files, data={"question": question})
    assert answered.status_code == 200, answered.text
    assert [(q.options, q.image is not None) for q in asked] == [(OPTIONS, True)]
    return answered.json()


def test_options_given_win_over_the_question_s_lines():
    assert with_pasted_options(PASTED, []) == (QUESTION, OPTIONS, True)
    assert with_pasted_options(PASTED, ["Koilocytes", "Goblet cells"]) == (
        PASTED,
        ["Koilocytes", "Goblet cells"],
        False,
    )
    assert with_pasted_options(QUESTION, []) == (QUESTION, [], False), "an open question stays open"


@pytest.mark.parametrize(
    ("lines", "reason"),
    [
        ("\n".join(f"{letter}. option {n}" for n, letter in enumerate("ABCDEFGHIJK")), "11 of them; at most 10"),
        ("A. goblet\nB. squamous\nC. basal\nAnswer: C", "the line 'Answer: C' after them is no option"),
        ("A. goblet\nB. squamous\nD. basal", "they are lettered A, B, D, not A, B, C... in order"),
        ("A. goblet\nB) squamous", "their labels are of mixed forms (A., A))"),
    ],
)
def test_option_lines_that_cannot_be_read_are_refused_saying_why(service, lines, reason):
    """Such a question was answered as an open one, its options dropped without a word (11 options given as options
    are refused); every door now refuses it in one line naming the reason."""
    client, toolbox = service
    pasted = f"Which cell secretes mucus?\n{lines}"
    with pytest.raises(BadInputError, match=re.escape(reason)):
        with_pasted_options(pasted, [])
    rest = client.post("/ask", json={"question": pasted})
    assert rest.status_code == 400 and reason in rest.json()["detail"], rest.text
    with pytest.raises(ToolError, match=re.escape(reason)):
        anyio.run(build_server(toolbox).call_tool, "ask", {"question": pasted})
    assert with_pasted_options(pasted, ["goblet", "squamous"])[1] == ["goblet", "squamous"], "options given win"


def test_a_sentence_opening_with_a_genus_initial_is_no_option_line():
    for question in ("A. fumigatus was cultured.\nWhat is it?", "Which toxin does C. difficile make?"):
        assert with_pasted_options(question, []) == (question, [], False)
