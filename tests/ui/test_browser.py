"""The web UI in a real browser: Debian's chromium driven by Playwright, against `pathatlas serve` and
`pathatlas ui` started on loopback over a copy of the demo index. Screenshots go to test-artifacts/.

Every step waits for what the user would see (an element, a text); nothing sleeps as an assertion."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import numpy as np
import pymupdf
import pytest
from PIL import Image

from pathatlas.corpora.demo import draw_pattern

sync_api = pytest.importorskip("playwright.sync_api", reason="needs Playwright (the dev extra)")
expect = sync_api.expect
expect.set_options(timeout=20_000)
"""Playwright's assertions wait 5 s by default: on a 2-core machine busy with a benchmark, Streamlit's rerun after an
upload took longer once (an alert not visible in 5 s). Every browser module's assertions share this setting."""
CHROMIUM = "/usr/bin/chromium"
TRACKER = "http://127.0.0.1:9/pixel.png"
PLANTED = f"Squamous metaplasia of the bronchial lining ![pixel]({TRACKER}) follows years of smoking."
"""A PDF sentence carrying Markdown: shown as text, it must never make the browser fetch the image."""
CHAPTERS = {"10 Muscle Tissue": "Sarcomeres shorten in contraction.", "2 Bone Tissue": "Osteoblasts lay osteoid."}
"""Bookmarked chapters of a second PDF, in the file out of their numbers' order."""
TALL = {
    (72, 72, 540, 400): "Tendons join muscle to bone; their collagen fibres run in parallel bundles. " * 8,
    (72, 1900, 540, 2150): "Reticulin fibres outline the hepatic sinusoids of the liver lobule, a fine silver-stained "
    "mesh that holds the plates of hepatocytes in place. " * 4,
}
"""The passages of a tall page (a poster, a long scan) by their boxes: the one searched for is far below the fold."""
COUNT = r"( \(\d+ cases? with \d+ images\))?"
"""What a results line says after its count where cards group a case's images ("7 results (5 cases with 12 images)")."""
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="needs Debian's chromium (apt-get install chromium)"
)
"""The mark of a test that drives the web UI in a browser: other modules' browser tests take it too."""
pytestmark = needs_chromium


def launch(playwright) -> Any:
    """Debian's chromium, headless, asking nothing of the network."""
    return playwright.chromium.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=[
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    )


@pytest.fixture(scope="module")
def ui_sources(tmp_path_factory) -> list[Path]:
    """Added to the demo index this module's web UI serves (``ui_url``): a PDF with Markdown planted in its text, one
    whose bookmarked chapters stand out of their numbers' order, and one tall page."""
    planted = tmp_path_factory.mktemp("planted") / "planted-notes.pdf"
    with pymupdf.open() as doc:
        doc.new_page().insert_textbox(pymupdf.Rect(72, 72, 540, 300), PLANTED, fontsize=10)
        doc.save(planted)
    chapters = planted.with_name("chapters.pdf")
    with pymupdf.open() as doc:
        for title, text in CHAPTERS.items():
            doc.new_page().insert_text((72, 72), f"{title}. {text}")
        doc.set_toc([[1, title, number] for number, title in enumerate(CHAPTERS, start=1)])
        doc.save(chapters)
    tall = planted.with_name("tall-page.pdf")
    with pymupdf.open() as doc:
        long_page = doc.new_page(width=612, height=2400)
        for box, text in TALL.items():
            long_page.insert_textbox(pymupdf.Rect(box), text, fontsize=11)
        doc.save(tall)
    return [planted, chapters, tall]


def start_over(page) -> None:
    """The app as first opened: its address without the search and tab its URL keeps (a reload searches again)."""
    page.goto(page.url.split("?", 1)[0])


def search(page, text: str) -> None:
    page.get_by_label("Search text").fill(text)
    page.get_by_role("button", name="Search", exact=True).click()


def test_search_highlights_the_passage_and_the_viewer_outlines_it(page):
    search(page, "koilocytes perinuclear halo")
    first = page.locator(".st-key-card-0")
    first.locator("mark", has_text=re.compile("koilocyte", re.IGNORECASE)).first.wait_for()
    assert re.search(r"best match", first.inner_text())
    first.get_by_role("button", name=re.compile(r"^Open ")).first.click()  # the page's, not a figure's on it
    viewer = page.locator(".st-key-selected-viewer")
    viewer.get_by_text(re.compile(r"page 1 \((matched passage|figure) outlined in red\)")).wait_for()
    viewer.locator("[data-testid=stImage] img").first.wait_for()
    assert "p. 1" in viewer.locator("[data-testid=stCode]").inner_text()  # the citation to copy
    page.screenshot(path=str(ARTIFACTS / "1-search-viewer.png"), full_page=True)
    viewer.get_by_role("button", name="Next page").click()
    title = "PathAtlas Demo Primer of Pathology (demo-primer.pdf), p. 2"  # the heading, as the citation to copy
    viewer.get_by_role("heading", name=title, exact=True).wait_for()


def test_filter_by_organ_then_find_similar_from_a_case(page):
    start_over(page)
    page.get_by_label("Search text").wait_for()
    open_menu(page, "organ", r"^lung \(\d+\)").click()
    page.keyboard.press("Escape")
    search(page, "cells")
    page.get_by_text(re.compile(rf"^\d+ results{COUNT} for “cells” in organ lung$")).wait_for()
    # Streamlit redraws cards in place (drawn empty, then filled; old ones replaced): assertions on the whole list
    # retry until it settles, where reading card n once can meet a card that is empty or gone
    cards = page.locator("[class*=st-key-card-]")
    expect(cards.first).to_contain_text("Case")
    expect(cards.filter(has_not_text="Case")).to_have_count(0)
    expect(cards.filter(has_not_text="lung")).to_have_count(0)
    case_label = case_of(cards.first)
    cards.first.get_by_role("button", name="Find similar").click()
    page.get_by_text(re.compile(rf"results{COUNT} that look like .*case {case_label}")).wait_for()
    similar = page.locator("[class*=st-key-card-]")
    expect(similar.first).to_contain_text("Case")
    expect(similar.filter(has_text=f"case {case_label}")).to_have_count(0)
    page.screenshot(path=str(ARTIFACTS / "2-find-similar.png"), full_page=True)


CASE_LABEL = re.compile(r"case (DEMO-\d+)")


def case_of(card) -> str:
    """The case a case card cites. Streamlit redraws cards in place (drawn empty, then filled), so the card is read
    once it shows one, and again where it was redrawn between that wait and the read (a CI run met one empty)."""
    for _ in range(10):
        expect(card).to_contain_text(CASE_LABEL)
        if found := CASE_LABEL.search(card.inner_text()):
            return found.group(1)
    raise AssertionError(f"no case cited in {card.inner_text()!r}")


def finished(page) -> None:
    """Wait until the app's script run ends: then what it drew is all that run draws."""
    page.locator("[data-testid=stApp][data-test-script-state=notRunning]").wait_for()


def open_menu(page, name: str, option: str):
    """The options matching ``option`` of a filter menu, opened. A menu clicked while a script run still draws can be
    redrawn shut (seen on a loaded machine): then it is opened again once the run ends."""
    options = page.get_by_role("option", name=re.compile(option))
    for _ in range(3):
        finished(page)
        page.locator(f".st-key-filter-{name}").click()
        try:
            options.first.wait_for(timeout=15_000)
            return options
        except sync_api.TimeoutError:
            page.keyboard.press("Escape")
    options.first.wait_for()
    return options


def menu(page, name: str) -> list[str]:
    """The values a filter menu offers, without their counts (nor the menu's own "Select all")."""
    options = open_menu(page, name, r" \(\d+\)$")
    values = [re.sub(r" \(\d+\)$", "", option) for option in options.all_inner_texts()]
    page.keyboard.press("Escape")
    return values


def test_filter_menus_offer_each_kind_once_and_chapters_in_book_order(page):
    start_over(page)
    page.get_by_label("Search text").wait_for()
    assert sorted(menu(page, "kind")) == ["case", "figure", "page"]  # passages are found as their pages
    chapters = menu(page, "chapter")
    assert chapters[:2] == ["2 Bone Tissue", "10 Muscle Tissue"] and chapters[2:] == sorted(chapters[2:]), chapters


def test_image_upload_searches_by_image(page, tmp_path):
    start_over(page)
    page.get_by_text("Search by image").click()
    uploader = page.locator("[data-testid=stFileUploader]").filter(has_text="like this image")  # not the Library's
    fake = tmp_path / "notes.png"
    fake.write_text("plain text, not an image")
    uploader.locator("input[type=file]").set_input_files(str(fake))
    refusal = page.locator(".results-status.refused", has_text="not a readable image")  # said once, in the line
    expect(refusal).to_have_text(re.compile(r"^\D"))  # the API's sentence, not "400: ..."
    expect(page.locator("[data-testid=stAlert]", has_text="not a readable image")).to_have_count(0)
    finished(page)
    expect(page.get_by_text("No results")).to_have_count(0)  # the error says why; "no results" would blame the query
    image = tmp_path / "slide.png"
    draw_pattern("granuloma", 99).save(image)
    uploader.locator("input[type=file]").set_input_files(str(image))
    page.get_by_text(re.compile(rf"^\d+ results{COUNT} like slide.png")).wait_for(timeout=120_000)
    thumbnails = page.locator("[class*=st-key-card-] [data-testid=stImage] img")
    thumbnails.nth(3).wait_for()  # four result cards rendered their thumbnails
    expect(page.get_by_text(re.compile(r"^No case is among these results"))).to_have_count(0)  # cases were found
    open_menu(page, "kind", r"^figure \(\d+\)").click()
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Search", exact=True).click()  # the same image, among figures only
    page.get_by_text(re.compile(r"^No case is among these results: .* look most alike")).wait_for()
    expect(page.locator(".st-key-card-0")).to_contain_text("looks alike")
    expect(page.locator("[class*=st-key-card-]", has_text="best match")).to_have_count(0)


def test_an_image_dropped_after_words_is_searched_alone_and_back_and_forward_show_it_again(page, tmp_path):
    """An image dropped after a text search was searched with the words left in the box, and Forward to it showed a
    blank page, the image still in its uploader. The words are matched too only where the student ticks them."""
    start_over(page)
    status = page.locator(".results-status[role=status]")
    words = re.compile(rf"^\d+ results{COUNT} for “granuloma”$")
    alone, both = (re.compile(rf"^\d+ results{COUNT} like slide.png{more}$") for more in ("", " and “granuloma”"))
    search(page, "granuloma")
    expect(status).to_have_text(words)
    page.get_by_text("Search by image").click()
    image = tmp_path / "slide.png"
    draw_pattern("granuloma", 99).save(image)
    uploader = page.locator("[data-testid=stFileUploader]").filter(has_text="like this image")
    uploader.locator("input[type=file]").set_input_files(str(image))
    expect(status).to_have_text(alone, timeout=120_000)
    page.get_by_text("Also match the words “granuloma”").click()  # its label: the box itself is drawn under it
    expect(status).to_have_text(both)
    for step, said in ((page.go_back, alone), (page.go_back, words), (page.go_forward, alone), (page.go_forward, both)):
        step()
        expect(status).to_have_text(said)
        expect(page.locator(".st-key-card-0")).to_be_visible()


def test_show_more_adds_twelve_results_until_a_new_query(page):
    """The line counts cards, as their headings do (a card holds a case's images): twelve hits, then more."""
    start_over(page)
    search(page, "cells")
    cards = page.locator("[class*=st-key-card-]")
    page.get_by_text(re.compile(rf"^\d+ results{COUNT} for “cells”$")).wait_for()
    finished(page)
    first = cards.count()
    page.get_by_role("button", name="Show more").click()
    expect(cards).not_to_have_count(first)
    finished(page)
    assert first < cards.count() <= 24, cards.count()  # the demo holds 23 or so
    search(page, "epithelium")  # a new query starts again from the first twelve
    page.get_by_text(re.compile(rf"^\d+ results{COUNT} for “epithelium”$")).wait_for()
    finished(page)
    assert cards.count() <= 12


def test_the_url_keeps_the_search_and_the_tab_for_reload_back_and_links(page):
    """Back, Forward and Reload lost everything: the URL stayed "/", a reload cleared the query, its results and the
    tab, and Back left the app. The URL names the search shown (its text and filters) and the tab chosen."""
    start_over(page)
    status, box = page.locator(".results-status[role=status]"), page.get_by_label("Search text")
    for text in ("koilocytes", "granuloma giant cells"):
        search(page, text)
        expect(status).to_have_text(re.compile(rf"^\d+ results{COUNT} for “{text}”$"))
    expect(page).to_have_url(re.compile(r"/\?q=granuloma\+giant\+cells$"))
    page.reload()
    expect(status).to_have_text(re.compile(rf"^\d+ results{COUNT} for “granuloma giant cells”$"))
    expect(box).to_have_value("granuloma giant cells")
    page.go_back()  # the search before, not the page before the app
    expect(status).to_have_text(re.compile(rf"^\d+ results{COUNT} for “koilocytes”$"))
    expect(box).to_have_value("koilocytes")
    page.go_forward()
    expect(status).to_have_text(re.compile(rf"^\d+ results{COUNT} for “granuloma giant cells”$"))
    finished(page)
    page.get_by_role("tab", name="Library").click()
    expect(page).to_have_url(re.compile(r"/\?q=granuloma\+giant\+cells&tab=Library$"))
    page.reload()
    expect(page.get_by_role("tab", name="Library")).to_have_attribute("aria-selected", "true")
    page.goto(page.url.split("?", 1)[0] + "?q=cells&organ=lung")  # a link shared: its filter chosen too
    expect(status).to_have_text(re.compile(rf"^\d+ results{COUNT} for “cells” in organ lung$"))
    expect(page.locator(".st-key-filter-organ")).to_contain_text("lung")
    cards = page.locator("[class*=st-key-card-]")
    expect(cards.first).to_contain_text("lung")
    expect(cards.filter(has_not_text="lung")).to_have_count(0)


KOILOCYTES = "Which cells show a clear perinuclear halo in HPV infection of the cervix?"


def ask(page, question: str, options: str, source: str | None = None) -> None:
    """Ask in the Ask tab, from one source when ``source`` names it in the "Answer from" picker."""
    start_over(page)
    page.get_by_role("tab", name="Ask").click()
    page.get_by_label("Question").fill(question)
    page.get_by_label("Options, one per line").fill(options)
    if source:
        page.locator(".st-key-ask-sources").click()
        page.get_by_role("option", name=source).click()
        page.keyboard.press("Escape")
    page.get_by_role("button", name="Ask", exact=True).click()


def red_pixels(image) -> int:
    """Pixels of the outline's red in an image element as the browser shows it, once it is decoded (a screenshot taken
    while Streamlit's new image still loads is blank: 0 under a loaded CI machine)."""
    image.evaluate("img => img.decode()")
    red, green, blue = np.asarray(Image.open(io.BytesIO(image.screenshot())).convert("RGB")).transpose(2, 0, 1)
    return int(((red > 200) & (green < 70) & (blue < 70)).sum())


def test_ask_shows_the_answer_with_quoted_evidence_and_opens_a_quote_outlined(page):
    ask(page, KOILOCYTES, "Langhans giant cells\nKoilocytes\nGoblet cells")
    page.get_by_text(re.compile(r"(Answer|Best supported): B\. Koilocytes")).wait_for()
    quotes = page.locator("[data-testid=stMarkdownContainer] blockquote")
    expect(quotes.filter(has_text=re.compile("koilocyt|halo", re.I)).first).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "3-ask-quotes.png"), full_page=True)
    chosen = page.locator(".st-key-option-B")
    quote = chosen.locator("blockquote").first.inner_text()
    chosen.get_by_role("button", name="Open quote 1 for B", exact=True).click()  # named apart from the others
    viewer = chosen.locator(".st-key-cited-viewer")  # below the quote clicked, not below every option
    viewer.get_by_text("page 1 (cited passage outlined in red)").wait_for()
    expect(viewer.locator("blockquote.passage")).to_have_text(quote)  # the quote, not the page's first line
    assert red_pixels(viewer.locator("[data-testid=stImage] img").first) > 200
    assert 3 in heading_levels(page) and skipped_heading(page) is None, heading_levels(page)  # the viewer's, under B's
    assert min(contrast(page.locator("[role=tabpanel]:not([hidden]) blockquote"))) >= 4.5  # quotes were at 3.9:1
    assert viewer.locator("[data-testid=stImage] img").first.get_attribute("alt").startswith("Page 1 of ")
    page.screenshot(path=str(ARTIFACTS / "3-ask-quote-opened.png"), full_page=True)


def test_open_question_lists_its_cited_evidence_to_open(page):
    ask(page, KOILOCYTES, "")  # an open answer quotes the nearest sentence; the offline answerer settles none
    page.get_by_text(
        re.compile(r"(Answer|Best supported|Nearest sentence, which may not answer it): ")
    ).first.wait_for()
    cited = page.locator(".st-key-citation-0")
    expect(cited).to_contain_text("PathAtlas Demo Primer of Pathology (demo-primer.pdf), p. 1")
    cited.get_by_role("button", name="Open citation 1", exact=True).click()
    viewer = cited.locator(".st-key-cited-viewer")
    viewer.get_by_text("page 1 (cited passage outlined in red)").wait_for()
    assert red_pixels(viewer.locator("[data-testid=stImage] img").first) > 200
    expect(page.get_by_text("No evidence cited.")).to_have_count(0)


def test_ask_with_one_option_says_to_give_two_or_none(page):
    """The API's refusal, as one sentence naming the field (FastAPI's 422 body is a list of errors); the status and
    body as sent are kept under Details."""
    ask(page, KOILOCYTES, "Koilocytes")
    refusal = "Options: one option is no choice: give two or more, or none for an open question."
    expect(page.locator("[data-testid=stAlert]")).to_have_text(refusal)
    page.get_by_text("Details").click()
    page.get_by_text(re.compile(r"POST /ask: 422")).wait_for()
    expect(page.get_by_text(re.compile(r"(Answer|Best supported): "))).to_have_count(0)


def test_ask_answers_from_the_sources_picked(page):
    ask(page, KOILOCYTES, "Langhans giant cells\nKoilocytes\nGoblet cells", source="cases")
    page.get_by_text(re.compile(r"(Answer|Best supported): ")).first.wait_for()
    options = page.locator("[class*=st-key-option-]")
    options.first.wait_for()
    expect(options.filter(has_text="demo-primer.pdf")).to_have_count(0)  # the primer holds the best evidence
    page.screenshot(path=str(ARTIFACTS / "3-ask-scoped.png"), full_page=True)


def test_markdown_planted_in_a_pdf_is_shown_as_text(page):
    question = "What change does years of smoking cause in the bronchial lining?"
    ask(page, question, "Squamous metaplasia\nGoblet cell loss", source="planted-notes.pdf")
    quote = page.locator("[data-testid=stMarkdownContainer] blockquote", has_text="Squamous metaplasia")
    quote.first.wait_for()
    assert f"![pixel]({TRACKER})" in quote.first.inner_text(), "the sentence is quoted as written"
    assert page.locator(f"img[src='{TRACKER}']").count() == 0, "no image from another server"


def test_library_adds_a_pdf_with_progress_counts_it_and_removes_it(page, tmp_path):
    pdf = tmp_path / "tiny-notes.pdf"
    with pymupdf.open() as doc:
        for n in range(2):
            doc.new_page().insert_text((72, 72), f"Tiny notes page {n + 1}: squamous metaplasia of the bronchus.")
        doc.save(pdf)
    start_over(page)
    page.get_by_role("tab", name="Library").click()
    uploader = page.locator("[data-testid=stFileUploader]").filter(has_text="Add a PDF")
    uploader.locator("input[type=file]").set_input_files(str(pdf))
    page.get_by_role("button", name="Index it").click(timeout=180_000)  # the upload reruns the app: slow under load
    outcome = page.locator("[data-testid=stAlert]", has_text=re.compile(r"^(done|failed|cancelled): "))
    outcome.wait_for(timeout=240_000)  # the job encodes and commits
    page.screenshot(path=str(ARTIFACTS / "4-library-added.png"), full_page=True)
    assert "done: tiny-notes.pdf (2/2 indexed)" in outcome.inner_text()
    row = page.locator("[data-testid=stTable] tr", has_text="tiny-notes.pdf")
    row.wait_for()
    assert re.search(r"tiny-notes\.pdf\s+pdf\s+2\b", row.inner_text())  # source, type, pages
    page.screenshot(path=str(ARTIFACTS / "4-library.png"), full_page=True)
    page.get_by_label("Remove a source").click()
    page.get_by_role("option", name="tiny-notes.pdf").click()
    finished(page)
    # One click must not delete a source: Remove waits for the box naming it to be ticked
    expect(page.get_by_role("button", name="Remove", exact=True)).to_be_disabled()
    page.get_by_text(re.compile(r"^Yes, remove tiny-notes\.pdf and its \d+ entries$")).click()
    # The tick reruns the app, and while it runs the old button may be shown beside the new one; both are the same
    # widget, so either click removes the chosen source (waiting for one button raced with a rerun starting late).
    expect(page.get_by_role("button", name="Remove", exact=True).last).to_be_enabled()
    page.get_by_role("button", name="Remove", exact=True).last.click()
    page.get_by_text(re.compile(r"removed tiny-notes.pdf: \d+ entries")).wait_for()
    assert page.locator("[data-testid=stTable] tr", has_text="tiny-notes.pdf").count() == 0


CONTRAST = """(elements) => elements.map((e) => {
    const channels = (colour) => colour.match(/[\\d.]+/g).map(Number);
    const [r, g, b, a = 1] = channels(getComputedStyle(e).color);
    let opacity = a;
    for (let n = e; n; n = n.parentElement) opacity *= parseFloat(getComputedStyle(n).opacity);
    const shown = (c) => c * opacity + 255 * (1 - opacity);  // over the page's white
    const linear = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); };
    const luminance = 0.2126 * linear(shown(r)) + 0.7152 * linear(shown(g)) + 0.0722 * linear(shown(b));
    return 1.05 / (luminance + 0.05);
})"""
"""WCAG's contrast ratio of each element's text against white, as the browser draws it: its colour's alpha and every
ancestor's opacity blended in (Streamlit greys captions and quotes with opacity)."""


OPACITY = "e => { let o = 1; for (; e; e = e.parentElement) o *= getComputedStyle(e).opacity; return o }"
"""An element's opacity as drawn: its own times every ancestor's."""


def contrast(elements) -> list[float]:
    assert elements.page.evaluate("getComputedStyle(document.querySelector('.stApp')).backgroundColor") == (
        "rgb(255, 255, 255)"
    ), "the light theme: CONTRAST blends over white"
    ratios = elements.evaluate_all(CONTRAST)
    assert ratios, "nothing to measure"
    return ratios


def heading_levels(page) -> list[int]:
    """The levels of the headings shown (not those of hidden tabs), in document order."""
    return page.evaluate(
        "Array.from(document.querySelectorAll('h1,h2,h3,h4,h5,h6')).filter(e => e.offsetParent !== null)"
        ".map(e => Number(e.tagName[1]))"
    )


def skipped_heading(page) -> tuple[int, int] | None:
    """The first pair of headings where the outline skips a level (h1 then h3), or None."""
    levels = heading_levels(page)
    return next(((a, b) for a, b in zip(levels, levels[1:], strict=False) if b > a + 1), None)


def test_results_are_announced_in_place_and_every_thumbnail_is_named(page):
    """A screen reader heard nothing when results came, and "image" for each thumbnail. The count is a polite live
    region, one element updated in place (a region inserted with its text is not read out), and every thumbnail
    has a text alternative from its citation and caption or diagnosis."""
    start_over(page)
    box = page.get_by_label("Search text")
    assert box.get_attribute("placeholder").startswith("e.g. ")  # an example, not what looks like a typed query
    search(page, "cells")
    counted = page.locator(".results-status[role=status][aria-live=polite]")
    expect(counted).to_have_text(re.compile(rf"^\d+ results{COUNT} for “cells”$"))
    counted.evaluate("e => { e.dataset.seen = 'yes' }")
    thumbnails = page.locator("[class*=st-key-card-] [data-testid=stImage] img")
    thumbnails.nth(3).wait_for()
    finished(page)
    alts = [image.get_attribute("alt") or "" for image in thumbnails.all()]
    assert all(alt.strip() for alt in alts), alts
    assert any(re.match(r"Case DEMO-\d+", alt) for alt in alts), alts
    first = counted.inner_text()
    page.get_by_role("button", name="Show more").click()
    more = page.locator(".results-status[data-seen=yes]")  # the same element, new text: read out
    expect(more).to_have_text(re.compile(rf"^\d+ results{COUNT} for “cells”$"))
    expect(more).not_to_have_text(first)


def searched(page, text: str = "koilocytes in cervical epithelium"):
    """The result cards of a search, once the app has drawn them all."""
    start_over(page)
    search(page, text)
    page.locator(".st-key-card-0 mark").first.wait_for()
    finished(page)
    return page.locator("[class*=st-key-card-]")


def opened(page, card) -> Any:
    """The viewer of ``card``'s hit, once drawn."""
    card.get_by_role("button", name=re.compile(r"^Open\b")).first.click()  # its hit's, before the figures found on it
    viewer = page.locator(".st-key-selected-viewer")
    viewer.locator("[data-testid=stImage] img").first.wait_for()
    finished(page)
    return viewer


def test_buttons_say_what_they_open(page):
    """Every card's buttons were named "Open" and "Find similar": a screen reader's list of buttons said nothing."""
    cards = searched(page)
    for awaited in (r"^Open p\. 1", r"^Find similar to case DEMO-"):  # read at once, cards drawn again named none
        cards.get_by_role("button", name=re.compile(awaited)).first.wait_for()
    names = cards.get_by_role("button", name=re.compile(r"^(Open|Find similar)")).all_inner_texts()
    assert len(names) == len(set(names)) and "Open" not in names and "Find similar" not in names, names
    assert any(n.startswith("Open p. 1") for n in names), names
    assert any(re.fullmatch(r"Find similar to case DEMO-\d+", n) for n in names), names
    opened(page, cards.first)  # the viewer narrows the cards: their names wrap, never cut to "Open p. 1 of d…"
    cut = page.locator("[class*=st-key-card-] [data-testid=stButton] button [data-testid=stMarkdownContainer]")
    assert not any(cut.evaluate_all("es => es.map(e => e.scrollWidth > e.clientWidth + 1)")), "a name cut by …"


def test_headings_do_not_skip_a_level(page):
    """The viewer's title was an h3 under the app's h1, and results had no headings to jump by."""
    cards = searched(page)
    assert heading_levels(page)[:2] == [1, 2] and heading_levels(page).count(2) >= cards.count(), heading_levels(page)
    opened(page, cards.first)
    assert skipped_heading(page) is None, heading_levels(page)


def test_the_case_viewer_names_its_images_by_the_case_not_the_file(page):
    """The case viewer's images had no text alternative and were captioned with their file paths (then with their
    text alternatives, read twice)."""
    cards = searched(page)
    case = cards.filter(has_text="Case").first
    label = case_of(case)
    images = opened(page, case).locator("[data-testid=stImage] img")
    alts = [image.get_attribute("alt") or "" for image in images.all()]
    file_name = re.compile(r"/|\.(png|jpe?g|tiff?)\b", re.IGNORECASE)
    assert alts and all(re.match(rf"Case {label}\b", alt) and not file_name.search(alt) for alt in alts), alts
    expect(page.locator(".st-key-selected-viewer [data-testid=stImageCaption]")).to_have_count(0)


def test_the_viewer_shows_the_outlined_passage_of_a_tall_page_in_sight(page):
    """On a tall page the outlined passage lay below the fold: the viewer showed the page's top. It shows the strip of
    the page around the box first, the whole page one click away."""
    cards = searched(page, "reticulin fibres hepatic sinusoids")
    viewer = opened(page, cards.filter(has_text="tall-page.pdf").first)
    strip = viewer.locator("[data-testid=stImage] img").first
    assert red_pixels(strip) > 200
    assert strip.get_attribute("alt") == "Page 1 of tall-page.pdf, around the matched passage outlined in red"
    shown = strip.bounding_box()
    assert shown["y"] >= 0 and shown["y"] + shown["height"] <= page.viewport_size["height"], shown  # no scrolling
    viewer.get_by_text("Whole page 1").click()
    whole = viewer.locator("[data-testid=stImage] img").nth(1)
    expect(whole).to_be_visible()
    assert whole.get_attribute("alt").startswith("Page 1 of tall-page.pdf, the whole page")
    assert whole.evaluate("img => img.naturalHeight") > 3 * strip.evaluate("img => img.naturalHeight")


def test_the_citation_can_be_copied_without_hovering(page):
    """The citation's copy button showed on hover only, and its caption said "the button on the right"; the page
    image had no text alternative."""
    viewer = opened(page, searched(page).first)
    copy = viewer.locator("[data-testid=stCode]").get_by_role("button", name="Copy to clipboard")
    expect(copy).to_be_visible()  # without hovering: a keyboard or touch user sees it
    assert copy.evaluate(OPACITY) == 1
    expect(viewer.get_by_text(re.compile("on the right"))).to_have_count(0)  # no instruction by position only
    assert viewer.locator("[data-testid=stImage] img").first.get_attribute("alt").startswith("Page 1 of demo-primer")


def test_captions_and_quotes_have_enough_contrast(page):
    """Captions were #828180 on white (3.9:1) and quotes drawn at opacity 0.6: WCAG AA asks 4.5:1."""
    viewer = opened(page, searched(page).first)
    assert min(contrast(page.locator("[data-testid=stCaptionContainer]"))) >= 4.5
    assert min(contrast(viewer.locator("blockquote"))) >= 4.5


def test_a_file_of_the_wrong_type_is_refused_in_words(page, tmp_path):
    """Streamlit refused a file of another type in a tooltip on hover only; the app now says so where the reader
    looks."""
    gif = tmp_path / "slide.svg"
    gif.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"/>')
    start_over(page)
    page.get_by_text("Search by image").click()
    uploader = page.locator("[data-testid=stFileUploader]").filter(has_text="like this image")
    uploader.locator("input[type=file]").set_input_files(str(gif))
    refused = "slide.svg is not a JPEG, PNG, TIFF, WebP, BMP or GIF image"
    expect(page.locator(".results-status.refused", has_text=refused)).to_be_visible()  # Search says it in its line
    page.get_by_role("tab", name="Library").click()
    library = page.locator("[data-testid=stFileUploader]").filter(has_text="Add a PDF")
    library.locator("input[type=file]").set_input_files(str(gif))
    expect(page.locator("[data-testid=stAlert]", has_text="slide.svg is not a PDF, lecture notes")).to_be_visible()
    expect(page.get_by_role("button", name="Index it")).to_have_count(0)


UNNAMED_BUTTONS = """els => els.filter(e => e.checkVisibility()).filter(e => {
    const text = e.cloneNode(true);
    text.querySelectorAll('[aria-hidden=true]').forEach(n => n.remove());
    return !(text.textContent.trim() || (e.getAttribute('aria-label') || '').trim() || (e.title || '').trim());
}).map(e => e.outerHTML.slice(0, 300))"""
"""The visible buttons with no accessible name: no text but an aria-hidden icon, no aria-label, no title."""


def test_every_visible_button_in_the_search_tab_has_a_name(page):
    """A verifier read the first secondary button's innerText as empty: the image uploader's, in the closed "Search by
    image" expander (innerText of what is not drawn is empty). Every button shown has a name, closed or open, and
    after a search."""
    start_over(page)
    page.get_by_label("Search text").wait_for()
    finished(page)
    buttons = page.locator("button")
    assert buttons.evaluate_all(UNNAMED_BUTTONS) == []
    page.get_by_text("Search by image").click()
    upload = page.locator("[data-testid=stFileUploader]").filter(has_text="like this image").locator("button")
    expect(upload).to_be_visible()
    assert buttons.evaluate_all(UNNAMED_BUTTONS) == []
    page.get_by_text("Search by image").click()
    cards = searched(page)
    opened(page, cards.first)
    assert buttons.evaluate_all(UNNAMED_BUTTONS) == []


def ratio(colour: str, background: str = "rgb(255, 255, 255)") -> float:
    """WCAG's contrast ratio of two opaque CSS colours as ``getComputedStyle`` writes them ("rgb(28, 131, 225)")."""

    def luminance(css: str) -> float:
        linear = [
            c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
            for c in (int(v) / 255 for v in re.findall(r"\d+", css)[:3])
        ]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    lighter, darker = sorted((luminance(colour), luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


RING = "e => { const s = getComputedStyle(e); return [s.outlineStyle, parseFloat(s.outlineWidth), s.outlineColor] }"


def test_keyboard_focus_is_a_solid_ring_of_three_to_one(page):
    """Keyboard focus was Streamlit's ring at half opacity (2.2:1 on white), and an image's Fullscreen button took focus
    unseen: its toolbar stayed at opacity 0 (a page's, in the viewer: thumbnails have none)."""
    card = searched(page).first
    fullscreen = opened(page, card).get_by_role("button", name=re.compile(r"^Fullscreen")).first
    for control in (
        card.get_by_role("button", name=re.compile(r"^Open ")).first,
        fullscreen,
        page.get_by_role("tab", name="Ask"),
    ):
        control.focus()
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Tab")  # focus from the keyboard: what :focus-visible draws
        expect(control).to_be_focused()
        style, width, colour = control.evaluate(RING)
        assert style == "solid" and width >= 2 and ratio(colour) >= 3, (style, width, colour)
        if control == fullscreen:
            assert control.evaluate(OPACITY) == 1


SQUEEZED = """els => els.filter(e => e.checkVisibility() && e.innerText.trim()).filter(e => {
    const text = e.querySelector('p') || e;
    const lines = Math.round(text.getBoundingClientRect().height / parseFloat(getComputedStyle(text).lineHeight));
    return text.scrollWidth > text.clientWidth + 1 || lines > text.innerText.trim().split(/\\s+/).length;
}).map(e => e.innerText)"""
"""The buttons and links whose name is cut short or drawn on more lines than it has words (a word broken)."""


def test_buttons_keep_their_words_whole_at_twice_the_text_size(page):
    """At 200% text (WCAG 1.4.4) the buttons in fixed-width columns broke their words a letter a line ("N e xt p a g
    e", "Open case DEMO-01") and the Search button read "Sea…"; button rows now wrap instead."""
    opened(page, searched(page).first)
    larger = page.add_style_tag(content="html{font-size:200%!important}")
    try:
        expect(page.get_by_role("button", name="Next page")).to_be_visible()
        assert page.locator("main button, main a").evaluate_all(SQUEEZED) == []
    finally:
        larger.evaluate("e => e.remove()")


def test_a_search_with_nothing_to_search_is_said_in_the_live_region(page):
    """The words "Type a query or upload an image." were a warning beside the live region: a screen reader heard
    nothing."""
    start_over(page)
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.locator(".results-status[role=status]")).to_have_text("Type a query or upload an image.")


def test_next_page_is_off_on_the_last_page(page):
    """Next page on the primer's last page answered "page 5 is not in the index" (a toast kept until closed, WCAG
    2.2.1: test_web_viewer_ask_walkthrough checks it where a page is missing): it is off there, as Previous is on the
    first page."""
    cards = searched(page, "small round blue cells in a lymph node")
    viewer = opened(page, cards.filter(has_text="p. 4").first)  # the primer's last page
    expect(viewer.get_by_role("button", name="Next page")).to_be_disabled()
    viewer.get_by_role("button", name="Previous page").click()
    viewer.get_by_role("heading", name=re.compile(r", p\. 3$")).wait_for()
    expect(viewer.get_by_role("button", name="Next page")).to_be_enabled()


def test_opening_a_result_takes_focus_to_the_viewer_and_closing_brings_it_back(page):
    """Opening a result redrew the results beside the viewer and dropped keyboard focus to the page's top, and the
    viewer came after every card in the tab order (below them all on a narrow screen); closing it dropped focus too."""
    opener = searched(page).first.get_by_role("button", name=re.compile(r"^Open ")).first
    opener.focus()
    page.keyboard.press("Enter")
    viewer = page.locator(".st-key-selected-viewer")
    expect(viewer.locator("h2")).to_be_focused()  # a screen reader reads the page's citation
    page.keyboard.press("Tab")
    expect(viewer.get_by_role("button", name="Next page")).to_be_focused()  # Previous is disabled on page 1
    viewer.get_by_role("button", name="Close").focus()
    page.keyboard.press("Enter")
    expect(opener).to_be_focused()
