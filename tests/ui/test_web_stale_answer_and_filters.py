"""The Ask and Search tabs as a student walked them in Chromium (session 49): an answer stayed under a question edited
without Ask ("Answer: A. Koilocytes" under "Which stain detects fungi?"), with its note on the old option B's word;
Find similar under Kind = figure listed cases while the Kind menu and the URL still said figure; and Search pressed
with the box emptied said what to type above the cleared words' results, which a filter picked then searched again.
The tabs drawn in Streamlit's AppTest over a fake API (``fetch``), as in test_web_search_walkthrough_fixes."""

from __future__ import annotations

import httpx
import pytest
from streamlit.testing.v1 import AppTest

from pathatlas.ui import present, web_client
from tests.ui.test_web_search_image_words_and_history import hit, opened, ran, searched, status, stepped_to
from tests.ui.test_web_ui_library_and_search_lines import unescaped

pytestmark = pytest.mark.usefixtures("fresh_cache")  # conftest.py

FIGURE, CASE = "f1" * 12, "c2" * 12  # record ids, as a link names them
FACETS = {
    "fields": {
        "kind": [{"value": "page", "count": 2}, {"value": "figure", "count": 10}, {"value": "case", "count": 3}],
        "source": [{"value": "b00c", "label": "primer.pdf", "count": 12}],
    },
    "by_source": {"b00c": {"page": 2, "figure": 10}},
}
FIGURE_HIT = {**hit(FIGURE, 1), "kind": "figure", "has_image": True}
FIGURE_HIT["citation"] = {**FIGURE_HIT["citation"], "figure": "Figure 2.1", "label": "Bone (book.pdf), Figure 2.1"}
CASE_HIT = {**hit(CASE, 2), "kind": "case", "has_image": True, "diagnosis": "tuberculosis", "organ": "lung"}
CASE_HIT["citation"] = {**CASE_HIT["citation"], "case": "DEMO-02", "label": "cases, case DEMO-02, images/a.jpg"}

ASKED = ("Which cells are the hallmark of productive HPV infection?", "A. Koilocytes\nB. Goblet cells")
EDITED = ("Which stain detects fungi?", "A. Ziehl-Neelsen\nB. Grocott")
GOBLET = "No indexed text has 'Goblet' (option B)."
ANSWER = {
    "choice": 0,
    "answer": "Koilocytes",
    "confidence": 0.9,
    "settled": True,
    "tied": [],
    "options": [
        {"label": "A", "text": "Koilocytes", "score": 0.8, "evidence": []},
        {"label": "B", "text": "Goblet cells", "score": 0.1, "evidence": []},
    ],
    "trace": [],
    "unknown_words": [{"field": "option B", "word": "Goblet", "closest": []}],
}


@pytest.fixture
def sent(monkeypatch) -> list[tuple[str, dict]]:
    """The searches and questions the tabs sent to a fake API, as (path, body): a search finds Figure 2.1, Find
    similar the figure and case DEMO-02, a question is answered by ``ANSWER``; GET /records gives the figure."""
    asked = []

    def fetch(method: str, path: str, **kwargs) -> httpx.Response:
        if (method, path) == ("GET", "/facets"):
            return httpx.Response(200, json=FACETS)
        if (method, path) == ("GET", "/health"):
            return httpx.Response(200, json={"limits": {}})
        if path == f"/records/{FIGURE}":
            return httpx.Response(200, json={**FIGURE_HIT, "rank": None})
        asked.append((path, kwargs.get("json") or kwargs["data"]))
        if path.startswith("/ask"):
            return httpx.Response(200, json=ANSWER)
        hits = [FIGURE_HIT, CASE_HIT] if path == "/search/similar" else [FIGURE_HIT]
        return httpx.Response(200, json={"hits": hits, "unknown_words": []})

    monkeypatch.setattr(web_client, "fetch", fetch)
    return asked


# -- an answer under a question edited without Ask -------------------------------------------------------------------
def ask_tab() -> None:
    """The app's script for AppTest, which runs this function's source alone: it imports what it draws."""
    from pathatlas.ui.web_ask import ask_tab

    ask_tab()


def typed(app: AppTest, question: str, options: str) -> AppTest:
    app.text_area[0].input(question)
    app.text_area[1].input(options)
    return ran(app)


def asked(app: AppTest) -> AppTest:
    next(button for button in app.button if button.label == "Ask").click()
    return ran(app)


def boxes(app: AppTest) -> list[tuple[str, str]]:
    """The page's alert boxes in page order, as (kind, text read)."""
    kinds = ("info", "success", "warning", "error")
    return [(node.type, unescaped(node.value)) for node in app.main if getattr(node, "type", None) in kinds]


def test_an_answer_under_a_question_edited_without_ask_says_it_answers_the_question_as_asked(sent):
    app = asked(typed(ran(AppTest.from_function(ask_tab, default_timeout=60)), *ASKED))
    assert boxes(app) == [("warning", GOBLET), ("success", "Answer: A. Koilocytes  (confidence 0.90)")]
    typed(app, *EDITED)
    as_asked = (
        "Below: the answer to the question as asked before your edits, “Which cells are the hallmark of productive"
        " HPV infection?” Options: A. Koilocytes; B. Goblet cells. Press Ask to answer the one above."
    )
    assert boxes(app)[0] == ("info", as_asked), "said first: the word note and the answer below are the old question's"
    assert [kind for kind, _ in boxes(app)] == ["info", "warning", "success"]
    assert len(sent) == 1, "nothing asked before Ask is pressed"


def test_the_note_goes_once_the_edited_question_is_asked_or_the_asked_one_typed_back(sent):
    app = asked(typed(ran(AppTest.from_function(ask_tab, default_timeout=60)), *ASKED))
    typed(app, *EDITED)
    assert boxes(app)[0][0] == "info"
    typed(app, ASKED[0] + " ", ASKED[1] + "\n")
    assert boxes(app)[0][0] == "warning", "the question as asked, but for blanks around it: no note"
    asked(typed(app, *EDITED))
    assert sent[-1] == ("/ask", {"question": EDITED[0], "options": EDITED[1].split("\n"), "filters": {}})
    assert "info" not in [kind for kind, _ in boxes(app)]


def test_an_image_or_sources_changed_since_ask_are_said_as_asked(sent):
    app = asked(typed(ran(AppTest.from_function(ask_tab, default_timeout=60)), *ASKED))
    app.multiselect(key="ask-sources").select("b00c")
    ran(app)
    assert boxes(app)[0][0] == "info", "the sources to answer from changed"
    asked(app)
    assert boxes(app)[0][0] == "warning"
    app.file_uploader(key="ask-image").set_value(("slide.jpg", b"\xff\xd8\xff\xe0 not decoded", "image/jpeg"))
    asked(ran(app))
    assert sent[-1][0] == "/ask/image"
    app.file_uploader(key="ask-image").set_value(None)
    ran(app)
    (kind, note), *_ = boxes(app)
    assert kind == "info" and note.endswith("Image: slide.jpg. From: primer.pdf. Press Ask to answer the one above.")


# -- Find similar and the Kind filter --------------------------------------------------------------------------------
FIGURES_URL = {"q": "granuloma", "kind": "figure"}
LOOK_ALIKES = "2 results that look like Bone (book.pdf), Figure 2.1"


def looked_alike() -> AppTest:
    """?q=granuloma&kind=figure opened, then Find similar pressed on Figure 2.1's card."""
    app = opened(FIGURES_URL)
    assert status(app) == "1 result for “granuloma” in kind figure"
    app.button(key=f"similar-{FIGURE}").click()
    return ran(app)


def test_find_similar_under_a_kind_looks_for_any_kind_and_empties_the_kind_menu_and_url(sent):
    """The menu said "figure (10)" and the URL kind=figure over cases: the kind was not sent, on purpose."""
    app = looked_alike()
    assert sent[-1] == ("/search/similar", {"id": FIGURE, "filters": {}, "k": present.PAGE_SIZE})
    assert app.multiselect(key="filter-kind").value == []
    assert app.query_params == {"similar": FIGURE}
    assert status(app) == LOOK_ALIKES


def test_a_kind_picked_among_the_look_alikes_narrows_them_as_shown(sent):
    app = looked_alike()
    app.multiselect(key="filter-kind").select("case")
    ran(app)
    assert sent[-1] == ("/search/similar", {"id": FIGURE, "filters": {"kind": ["case"]}, "k": present.PAGE_SIZE})
    assert app.query_params == {"similar": FIGURE, "kind": "case"}
    assert status(app) == f"{LOOK_ALIKES} in kind case"


def test_a_look_alike_link_naming_a_kind_applies_it_and_back_gives_the_searchs_kind_again(sent):
    app = opened({"similar": FIGURE, "kind": "case"})
    assert sent[-1] == ("/search/similar", {"id": FIGURE, "filters": {"kind": ["case"]}, "k": present.PAGE_SIZE})
    assert app.multiselect(key="filter-kind").value == ["case"]
    stepped_to(app, FIGURES_URL)
    assert app.multiselect(key="filter-kind").value == ["figure"]
    assert sent[-1] == ("/search", {"text": "granuloma", "filters": {"kind": ["figure"]}, "k": present.PAGE_SIZE})


# -- Search pressed with the box emptied -----------------------------------------------------------------------------
def test_search_pressed_with_the_box_emptied_clears_the_results_and_the_urls_words(sent):
    app = searched(opened({"q": "granuloma", "kind": "page"}), "")
    assert status(app) == "Type a query or upload an image."
    assert app.header.len == 0, "no result cards below it"
    assert app.query_params == {"kind": "page"}, "no q: the URL and the tab's title name no search"
    assert len(sent) == 1


def test_a_filter_picked_after_the_box_was_emptied_searches_nothing(sent):
    app = searched(searched(opened(), "granuloma"), "")
    app.multiselect(key="filter-kind").select("page")
    ran(app)
    assert [path for path, _ in sent] == ["/search"], "the cleared words not searched again"
    assert app.header.len == 0 and "granuloma" not in status(app)
