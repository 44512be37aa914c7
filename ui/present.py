"""Pure presentation helpers of the web UI (kept out of the Streamlit script so they are unit-tested):
query terms and their highlighting, the citation a reader copies, one card per case, how many results to ask for
next, API errors as a reader can act on them, what image results that hold no case can claim, which rankers found a
hit in plain words, the text alternatives of images and the names of buttons, where a box lies on a turned page, where
the API's media URLs are under its base URL, and an answer option's heading with what its score means."""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from PIL import Image

from pathatlas.retrieval.marks import marked_spans
from pathatlas.retrieval.records import (
    BIDI_CONTROLS,
    BBox,
    Citation,
    display_name,
    is_slide,
    repeated_in_note,
    repeated_note,
    visible,
)
from pathatlas.retrieval.text import in_words

MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>:~$&])")


def display_line(text: str) -> str:
    """Indexed text as the web UI shows it: on one line, without ``BIDI_CONTROLS``: an override left open in a case
    label or a PDF's text would turn what follows it around too ("Case C1 · amonicrac"); the browser orders
    right-to-left scripts by itself without them."""
    return " ".join(BIDI_CONTROLS.sub("", text).split())


def plain(text: str) -> str:
    """Indexed text (a quote, a caption, a case's diagnosis, a file name) for Streamlit's Markdown, shown as
    written: one line (``display_line``), every Markdown character escaped, so a PDF or case file cannot slip in an
    image that calls another server, a link, emphasis, LaTeX or a colour directive."""
    return MARKDOWN_SPECIAL.sub(r"\\\1", display_line(text))


LABEL_MARKDOWN = re.compile(
    r"""\\(?=[!-/:-@\[-`{-~])         # a backslash that escapes the character after it
    | [`*~$]                           # code, emphasis, strikethrough, LaTeX
    | (?<!_)_++(?![^\W_]) | (?<!\w)_++  # underscores not inside a word, which open or close emphasis
    | \](?=\()                         # the end of a link's or an image's text
    | <(?=[^\s<>]*>)                   # an autolink, or a tag
    | :(?=[A-Za-z])                    # a directive: :red[...], :small
    | &(?=\#?\w+;)                     # a character reference (&amp;)
    """,
    re.VERBOSE,
)
"""What Streamlit's Markdown reads in a widget's label (``label_plain``): it escapes a line's opening block markers
itself (a list's "- " or "1.", a heading's "#", a quote's ">"), and one line holds no other block. An emoji's or icon's
shortcode (":smile:", ":material/check:") it replaces whatever escapes it, in a label as in ``plain``'s text."""


def label_plain(text: str) -> str:
    """Indexed or typed text (a file name, a query) in a checkbox's label, shown as written: one line
    (``display_line``), escaped where Streamlit's label Markdown would read it (``LABEL_MARKDOWN``) and nowhere else.
    Streamlit gives a checkbox the label as written as its accessible name, and a screen reader read every escape of
    ``plain``: "demo\\-primer\\.pdf"."""
    return LABEL_MARKDOWN.sub(lambda found: "".join(f"\\{char}" for char in found[0]), display_line(text))


def highlight(text: str, terms: list[str]) -> str:
    """``text`` as safe HTML with the words ``marks.marked_spans`` finds wrapped in ``<mark>`` (the snippet opens at
    the first); one line (``display_line``), since a blank line would end the HTML block it is shown in and let Markdown
    read the rest."""
    text = display_line(text)
    out, last = [], 0
    for start, end in marked_spans(text, terms):
        out += [html.escape(text[last:start]), f"<mark>{html.escape(text[start:end])}</mark>"]
        last = end
    out.append(html.escape(text[last:]))
    return "".join(out)


def quote_about(quote: Mapping[str, Any], label: str) -> str:
    """What a quote shown under option ``label`` names when it does not name that option (its ``about`` letters, set
    for the nearest sentence to a choice no sentence names): "names B, D", "names no option"; "" otherwise, so a
    "supports" under C is not read as a sentence about C."""
    about = quote.get("about")
    if about is None or label in about:
        return ""
    return f"names {', '.join(about)}" if about else "names no option"


SCORES_NOTE = "Options, each with its score: how the answerer ranks it, not the chance it is right."
"""Said once above an answer's options, in the words ``pathatlas ask`` prints: a heading's "support 0.89" under an
alert's "confidence 0.40" read as two chances a student could not reconcile."""


def option_heading(option: Mapping[str, Any], chosen: bool) -> str:
    """An option's heading (Markdown): "**A. Adenocarcinoma** ✓ chosen · score 0.89" (a ✓ alone, a screen reader says
    "check mark"); no score where the answerer gives none per option (an LLM's reply names one), rather than a made-up
    0.00."""
    title = f"**{plain(str(option.get('label')))}. {plain(option.get('text') or '')}**"
    score = f" · score {option['score']:.2f}" if option.get("score") is not None else ""
    return f"{title}{' ✓ chosen' if chosen else ''}{score}"


def stored_title(hit: dict[str, Any]) -> str:
    """The record's own title (a case's), not the hit's ``title``, which falls back to the section or the citation."""
    return (hit.get("payload") or {}).get("title") or ""


def citation_text(hit: dict[str, Any]) -> str:
    """The reference a student pastes into notes: the citation's label, as every door and a handout word it (a book by
    its title and file, the page as printed, the figure, a case and its image), a case's diagnosis after it, and
    where the file is when the citation gives its path (REST gives the file's name alone, already said). One of its own
    would take the PDF's page index for the printed page and a PDF writer's default title for the book."""
    citation = hit["citation"]
    source = citation["source"]
    diagnosis = hit.get("diagnosis") if citation.get("case") else None
    said = ", ".join(filter(None, [citation.get("label") or display_name(source), diagnosis]))
    return said + (f". {visible(source)}" if source != source.rsplit("/", 1)[-1] else "")


def group_cases(hits: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Result cards in rank order: every image of one case joins the card of its best-ranked image."""
    cards: list[list[dict[str, Any]]] = []
    by_case: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for hit in hits:
        case = hit["citation"].get("case")
        if hit["kind"] == "case" and case is not None:
            key = (hit["citation"]["source"], case)
            if key in by_case:
                by_case[key].append(hit)
                continue
            by_case[key] = [hit]
            cards.append(by_case[key])
        else:
            cards.append([hit])
    return cards


PAGE_SIZE = 12
MAX_RESULTS = 100  # the API's largest k (SearchRequest.k)


def more_results(k: int, found: int) -> int | None:
    """The k "Show more" asks for next, or None where it has nothing to add: the API found fewer than asked, or
    ``k`` is already its largest."""
    if found < k or k >= MAX_RESULTS:
        return None
    return min(k + PAGE_SIZE, MAX_RESULTS)


FIELD_NAMES = {"text": "search text", "k": "number of results"}
FIELD_WORDS = {"search text": ("search text", "query", "text")}
"""Words a message may name a field by besides its shown name: the service words the search text "the query"."""


def error_message(detail: Any) -> str:
    """An API error's ``detail`` as a reader can act on it: the API's sentence as written, or for a validation
    error (FastAPI's 422, a list) one sentence per field, naming it; no HTTP status, which tells a student nothing."""
    if not isinstance(detail, list):
        return str(detail)
    sentences = {}  # by field: a field of a union type is reported once per branch
    for error in detail:
        field = request_field_words(error.get("loc", []))
        sentences.setdefault(field, invalid_field(field, error))
    return " ".join(sentences.values())


def request_field_words(loc: list[Any]) -> str:
    """A request field as words ("filters kind"): where in the body (its first element) and the union branch
    tried (``literal['page',...]``) mean nothing to a reader. An option is named by its letter ("option B"), as the
    answer heads it: its place in the list (``["body", "options", 1]``) was "the options"."""
    if len(loc) == 3 and loc[1] == "options" and isinstance(loc[2], int):
        return f"option {chr(ord('A') + loc[2])}"
    words = [part for part in loc[1:] if isinstance(part, str) and part.isidentifier()]
    return FIELD_NAMES.get(" ".join(words), " ".join(words) or "request")


def the(field: str) -> str:
    """A field as a sentence names it: "the question", an option by its letter alone ("option B")."""
    return field if field.startswith("option ") else f"the {field}"


def invalid_field(field: str, error: dict[str, Any]) -> str:
    """One validation error as a sentence; an empty or missing field asks to be filled in, and one too long says by
    how much (the ``actual_length`` the service counted, not its echo of the text, which is cut), as a student reads
    it: pydantic's words would be "List should have at most 10 items after validation, not 12" for twelve options. A
    message that names its field before its first colon ("the question has no word to look for", "empty question:
    give the question text, ...") is not headed by it again ("Question: empty question: ...")."""
    context = error.get("ctx") or {}
    shortest, longest = context.get("min_length"), context.get("max_length")
    named = the(field)
    if error.get("type") == "missing" or (error.get("type") == "string_too_short" and shortest == 1):
        return f"Please fill in {named}."
    if error.get("type") == "string_too_short":
        return f"{capitalised(named)} is too short: type at least {shortest} characters."
    if error.get("type") == "string_too_long" and longest is not None:
        typed = context.get("actual_length")  # none from a service older than the web UI
        has = "is" if typed is None else f"has {typed:,} characters,"
        return f"{capitalised(named)} {has} over the limit of {longest:,}: shorten it."
    if error.get("type") == "too_long" and longest is not None and "actual_length" in context:
        return f"Too many {field}: give at most {longest}, not {context['actual_length']}."
    message = str(error.get("msg", "")).removeprefix("Value error, ")
    words = "|".join(map(re.escape, FIELD_WORDS.get(field, (field,))))
    names_its_field = re.search(rf"\b({words})\b", message.split(":", 1)[0], re.IGNORECASE)
    said = capitalised(message) if names_its_field else f"{capitalised(field)}: {message}"
    return said if said.endswith(".") else f"{said}."


def capitalised(text: str) -> str:
    """``text`` with its first letter upper-case, the rest as written (``str.capitalize`` lowers "JSON", "B")."""
    return text[:1].upper() + text[1:]


def look_alike_note(hits: list[dict[str, Any]], index_has_cases: bool) -> str | None:
    """The note under image results without a case: the figures and pages found only look like the image, which
    their rank ("best match") would otherwise vouch for. None where a case was found, or nothing, or where the words
    typed beside the image found a hit (``WORDS_RANKERS``): the note would call pages the words found "look most alike",
    and the API badges those its look alone found "looks alike" itself."""
    if not hits or any(hit["kind"] == "case" or WORDS_RANKERS & set(hit.get("matched_by") or {}) for hit in hits):
        return None
    where = "No case is among these results" if index_has_cases else "This index holds no cases"
    return f"{where}: these are the figures and pages that look most alike, which need not show the same thing."


RANKER_WORDS = {
    "bm25": "words",
    "bm25:image": "printed words",
    "label": "figure label",
    "text": "meaning",
    "joint": "image-text match",
    "visual": "appearance",
    "specimen": "same specimen",
    "majority": "majority diagnosis",
}
"""What each ranker of a hit's ``matched_by`` means to a reader: BM25 matched the words (of the query, or those
printed in the query image), the text space the meaning, the joint space matched image and text to each other (a
text query to pictures, an image to pictures and captions), the visual space the look; keypoints verified the same
specimen, and a hit may come up for sharing the majority diagnosis. A space searched with the query image
(``visual:image``, ``joint:image``) is named as the space is. The one table of these words: the JSON ``why`` of every
door (``matched_why``), the CLI's table and the web UI say them alike."""
WORDS_RANKERS = frozenset({"bm25", "text", "joint"})
"""Rankers of a query's typed words (BM25, and the dense spaces searched with its text): beside an image, what the
words found rather than its look."""
LOOK_ALIKE_RANKERS = frozenset({"visual", "visual:image", "joint:image", "majority"})
"""Rankers that compare pictures alone (an image query's dense spaces, and the diagnosis vote among the hits they
found): a hit found by these only merely looks alike."""


def ranker_words(ranker: str) -> str:
    """One ranker of ``matched_by`` in plain words; a ranker this version does not know, by its name."""
    return RANKER_WORDS.get(ranker) or RANKER_WORDS.get(ranker.split(":")[0], ranker)


def matched_why(matched_by: Mapping[str, int]) -> str:
    """Which rankers found a hit and where each put it ("words #1, image-text match #3"), from its ``matched_by``
    (ranker -> 1-based rank); a ranker named twice (a text and an image ranking of one space) counts at its better
    rank."""
    best: dict[str, int] = {}
    for ranker, rank in matched_by.items():
        words = ranker_words(ranker)
        best[words] = min(rank, best.get(words, rank))
    return ", ".join(f"{words} #{rank}" for words, rank in sorted(best.items(), key=lambda item: item[1]))


def found_by(hit: dict[str, Any]) -> str:
    """``matched_why`` of a hit record; a hit without ``matched_by`` (an older server) keeps the API's ``why`` as
    written."""
    matched = hit.get("matched_by")
    return matched_why(matched) if matched else hit.get("why") or ""


def relevance_words(hit: dict[str, Any], look_alike: bool) -> str:
    """A hit's badge; in look-alike results (see ``look_alike_note``) one found by comparing pictures alone (its
    ``matched_by``) "looks alike", not the "best match" its rank earns."""
    rankers = set(hit.get("matched_by") or {})
    return "looks alike" if look_alike and rankers and rankers <= LOOK_ALIKE_RANKERS else hit["relevance"]


VALUES_NAMED = 3  # of a filter's values, the results line names this many and counts the rest


def values_said(picked: list[str], offered: list[str]) -> str:
    """A filter's values as the results line says them: "colon or lung"; by those left out where most of a menu's
    values are picked ("other than benign lung tissue": its "Select all", then one unpicked), and at most
    ``VALUES_NAMED`` of them named ("liver, lung, colon or 5 more"). Read out, a line naming every value would list 39
    diagnoses."""
    left_out = [value for value in offered if value not in picked]
    if len(picked) > VALUES_NAMED and len(left_out) < len(picked):
        return "other than " + names_in_words(left_out, "and")
    return names_in_words(picked, "or")


def names_in_words(names: list[str], conjunction: str) -> str:
    """``names`` as words ("a, b and c"), the fourth and later counted ("a, b, c and 2 more")."""
    if len(names) > VALUES_NAMED:
        names = [*names[:VALUES_NAMED], f"{len(names) - VALUES_NAMED} more"]
    return in_words(names, conjunction)


def counted(n: int, one: str, many: str = "") -> str:
    """``n`` of a noun in words: "1 result", "3 results"; ``many`` where its plural is not "-s" ("3 entries")."""
    return f"{n} {one if n == 1 else many or f'{one}s'}"


def results_status(count: int, title: str, images: str = "", worded: bool = True) -> str:
    """The line a screen reader announces when results arrive (a search, find similar, show more): "12 results for
    “koilocytes”", or what to try when none came (a note outside the live region is never read out); ``title`` says
    what was searched ("for “…”", "like slide.png"); a search without words (``worded`` False: by an image alone, or
    find similar) is told fewer filters alone. ``count`` counts result cards, as their headings do, and ``images``
    (``grouped_images``) the case images they hold: "7 results (7 cases with 12 images) for “carcinoma”"."""
    if not count:
        return f"No results {title}".strip() + f": try {'other words or ' if worded else ''}fewer filters."
    held = f" ({images})" if images else ""
    return f"{counted(count, 'result')}{held} {title}".strip()


def grouped_images(cards: list[list[dict[str, Any]]]) -> str:
    """The case images that result cards (``group_cases``) hold, where a card holds several: "7 cases with 12 images";
    "" where each card is one hit. A count of hits announced 12 results over 7 headings."""
    cases = [card for card in cards if card[0]["kind"] == "case"]
    images = sum(len(card) for card in cases)
    if images == len(cases):
        return ""
    return f"{counted(len(cases), 'case')} with {images} images"


def tab_title(view: str | None, query: str = "") -> str:
    """The browser tab's title: the query shown, the view, the app ("carcinoma – Search – PathAtlas"), so that a
    screen reader's list of tabs and the history tell searches and views apart."""
    return " – ".join(filter(None, [shorten(query, 60), view, "PathAtlas"]))


def place(hit: dict[str, Any]) -> str:
    """Where a hit is, shortly: "p. 3", "Figure 4.1, p. 3", "case DEMO-01" (its book is on its card)."""
    citation = hit["citation"]
    if citation.get("case"):
        return f"case {citation['case']}"
    where = page_place(citation) if citation.get("page") is not None else citation.get("source") or "this"
    if hit["kind"] == "figure":
        return f"{citation.get('figure') or 'figure'}, {where}"
    return where


def page_place(citation: Mapping[str, Any]) -> str:
    """A citation's page as a card names it: "p. 3" (the PDF's page, which the viewer opens), a slide of lecture notes
    by its number ("slide 3": ``slide_label``), as its citation reads."""
    return citation["page_label"] if cites_slide(citation) else f"p. {citation['page']}"


def cites_slide(citation: Mapping[str, Any]) -> bool:
    """Whether a citation (as JSON) names a slide of lecture notes, as ``Citation.slide`` says (``is_slide``)."""
    return is_slide(citation.get("page"), citation.get("page_label"))


def record_name(hit: dict[str, Any]) -> str:
    """A record as a sentence names it, in its card heading's words: a case by its id and what it shows ("case DEMO-01
    (LSIL)"), not by its citation's label, which names the collection's folder and the image's file ("cases, case
    DEMO-01, images/DEMO-01-2.jpg"); a page or a figure by its citation's label ("Bone (book.pdf), p. 2")."""
    citation = hit["citation"]
    if not citation.get("case"):
        return citation["label"]
    about = case_about(citation["case"], hit.get("diagnosis"), stored_title(hit))
    return f"case {citation['case']}" + (f" ({about})" if about else "")


def distinct_places(hits: list[dict[str, Any]]) -> list[str]:
    """``place`` of each card's hit, made distinct where two would read alike: by the book ("p. 1 of notes.pdf"), else
    by the number its card shows, its place in ``hits`` ("(#2)"). A button's label is its accessible name, and a list
    of "Open" buttons tells a screen reader nothing."""
    plain_places = [place(hit) for hit in hits]
    places = [
        f"{p} of {hit['citation'].get('source') or 'this source'}" if plain_places.count(p) > 1 else p
        for p, hit in zip(plain_places, hits, strict=True)
    ]
    return [f"{p} (#{number})" if places.count(p) > 1 else p for number, p in enumerate(places, start=1)]


def open_label(where: str) -> str:
    """The Open button of a result at ``where`` (``place``, ``distinct_places``): "Open p. 3"."""
    return f"Open {where}"


def similar_label(where: str) -> str:
    """The Find similar button of a result at ``where``: "Find similar to case DEMO-01"."""
    return f"Find similar to {where}"


ALT_CHARS = 160  # a text alternative is read in one breath: a long caption is cut


def shorten(text: str, limit: int = ALT_CHARS) -> str:
    text = display_line(text)
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def image_alt(hit: dict[str, Any], position: tuple[int, int] | None = None, caption: str | None = None) -> str:
    """The text alternative of a hit's thumbnail, from its citation and caption or diagnosis: "Page 3 of
    book.pdf", "Figure 4.1 on p. 3 of book.pdf: <caption>", "Case DEMO-01, image 2 of 3: LSIL, cervix". A figure's
    ``caption`` from its start, where its snippet is a window opening mid-sentence (``opens_mid_text``). Plain text:
    Streamlit sets it as an attribute (``html.escape`` it for HTML)."""
    citation = hit["citation"]
    source = citation.get("source") or ""
    if hit["kind"] == "case":
        which = f", image {position[0]} of {position[1]}" if position and position[1] > 1 else ""
        case = citation.get("case") or ""
        about = ", ".join(v for v in (case_about(case, hit.get("diagnosis"), stored_title(hit)), hit.get("organ")) if v)
        return shorten(f"Case {case}{which}" + (f": {about}" if about else ""))
    page = citation.get("page")
    where = f"{page_place(citation)} of {source}" if page is not None else source
    if hit["kind"] == "figure":
        caption = caption or hit.get("snippet") or ""
        return shorten(f"{citation.get('figure') or 'Figure'} on {where}" + (f": {caption}" if caption else ""))
    return shorten(f"Page {page} of {source}" if page is not None else f"Page of {source}")


def opens_mid_text(snippet: str) -> bool:
    """Whether a snippet is a window opening inside its text ("…of the lobule. Figure 3 ..."): the search's snippet
    window marks a cut start with an ellipsis (``fusion.snippet``)."""
    return snippet.startswith("…")


def card_repeats(hit: Mapping[str, Any]) -> str:
    """What a card's heading adds for the pages repeating its hit, as the hit's own label words it (``Hit.label``): a
    slide of lecture notes by its slides ("repeated on slide 9"), a page by its PDF page where the book prints other
    numbers; then its copies in other sources ("also in week2.qmd, slide 3"). A repeated slide does not read "repeated
    on PDF p. 5"."""
    citation, pages = hit["citation"], hit.get("repeated_on") or []
    if cites_slide(citation):
        repeats = repeated_note(pages, False, "slide")
    else:
        repeats = repeated_note(pages, bool(citation.get("page_label")))
    return repeats + repeated_in_note([Citation.from_dict(copy) for copy in hit.get("repeated_in") or []])


def case_about(case: str, diagnosis: str | None, title: str | None) -> str:
    """What a case shows, for its heading and text alternatives: its diagnosis, else its own title; "" where that is its
    id again (a folder without diagnoses titles each image by its name: "Case GBD3 · GBD3" would read it twice)."""
    about = diagnosis or title or ""
    return "" if about.strip().casefold() == case.strip().casefold() else about


def full_size_name(case: dict[str, Any], number: int) -> str:
    """The name of the link to a case viewer's image ``number`` as stored (it is shown shrunk to the viewer's width)."""
    return f"Open image {number} of case {case.get('case') or ''} at full size"


def case_image_text(case: dict[str, Any], number: int, total: int) -> str:
    """A case image's text alternative in the case viewer: the case, its diagnosis and organ, which of its images this
    is (never the image's file path, which tells a reader nothing). It is no caption too: a screen reader read both."""
    about = ", ".join(v for v in (case.get("diagnosis"), case.get("organ")) if v)
    which = f", image {number} of {total}" if total > 1 else ""
    return shorten(f"Case {case.get('case') or ''}{which}" + (f": {about}" if about else ""))


def img_html(image: bytes, alt: str, width: int | None = None) -> str:
    """An ``<img>`` holding ``image`` (PNG or JPEG bytes) as a data URL with its text alternative, for a Streamlit
    whose ``st.image`` takes no ``alt``; the alternative is escaped (indexed text must not become markup)."""
    size = f" width='{int(width)}'" if width else " style='max-width:100%'"
    mime = "image/jpeg" if image[:3] == b"\xff\xd8\xff" else "image/png"  # thumbnails are JPEG, pages PNG
    data = base64.b64encode(image).decode("ascii")
    return f"<img src='data:{mime};base64,{data}' alt='{html.escape(alt, quote=True)}'{size}>"


def focus_script(selector: str, count: int) -> str:
    """A script that moves keyboard focus to the first element matching ``selector`` once it is drawn (tried for two
    seconds), making it focusable if it is not (a heading); ``count`` tells one request from the last. The selector
    is a JavaScript string whose "</" is escaped: a key holding "</script>" cannot end the script early."""
    quoted = json.dumps(selector).replace("</", "<\\/")
    return (
        f"<script>/* {int(count)} */(() => {{ let tries = 40; const move = () => {{"
        f" const target = document.querySelector({quoted});"
        " if (!target) { if (--tries) setTimeout(move, 50); return; }"
        " if (target.tabIndex < 0) target.tabIndex = -1; target.focus(); }; move(); })()</script>"
    )


def unsupported_file(name: str, types: tuple[str, ...]) -> bool:
    """Whether an uploaded file's name ends in none of ``types`` (lower-case extensions without the dot)."""
    return name.rsplit(".", 1)[-1].lower() not in types if "." in name else True


def unreachable_message(url: str | None) -> str:
    """The one sentence shown when the REST API cannot be reached (``pathatlas ui --api URL``, the server stopped). No
    Markdown: the results' live region shows it as written, and would read the backticks out."""
    where = f" at {url}" if url else ""
    return f"The PathAtlas service{where} is not reachable; start it with 'pathatlas serve' or try again."


def timed_out_message(seconds: float) -> str:
    """The sentence shown when the REST API was reached but did not answer within ``seconds`` (PATHATLAS_UI_TIMEOUT_S):
    it may still be working (an LLM answerer can take minutes), so "not reachable" would send a student to restart
    it."""
    return (
        f"The PathAtlas service took longer than {seconds:g} s to answer, so the page stopped waiting: try again in a "
        "while, or with a shorter question or fewer sources; if it keeps happening, ask whoever runs it to raise "
        "PATHATLAS_UI_TIMEOUT_S."
    )


def service_failed_message(request_id: str | None) -> str:
    """What a server error without a sentence of the API's own says (a 5xx whose body is a proxy's or a server's page,
    "Internal Server Error", which tells a student nothing): what to do, and the request id (the API's X-Request-ID)
    by which whoever runs the service finds its log line."""
    said = "The PathAtlas service failed while answering; try again in a moment."
    return said + (f" If it keeps failing, tell whoever runs it the request id {request_id}." if request_id else "")


TOO_LARGE = "This is larger than the PathAtlas service, or a proxy in front of it, accepts: choose a smaller file."
REFUSED = "The PathAtlas service, or a proxy in front of it, refused this; if it keeps happening, tell whoever runs it."


def refusal_said(status: int, body: str, content_type: str, request_id: str | None) -> str:
    """What a refusal without a ``detail`` of the API's own says (its body is a proxy's or a server's): a server
    error's, what to do (``service_failed_message``); a line of plain text as written (a proxy's "Request Entity Too
    Large" names what to fix); anything else in words by its status. Shown as is, a proxy's HTML page would be the line,
    markup, status and all, and JSON of other fields would read "None"; the body as sent stays under the refusal's
    Details."""
    if status >= 500:
        return service_failed_message(request_id)
    line = body.strip()
    if content_type.startswith("text/plain") and line and "\n" not in line and len(line) <= ALT_CHARS:
        return line
    return TOO_LARGE if status == 413 else REFUSED


SERVICE_RUNS_IT = "for whoever runs the service"
LOOK_LATER = "reload the page later and look for it in the sources above"


def job_unknown_message(name: str, job_id: str) -> str:
    """What the Library says where the service no longer knows the job indexing upload ``name`` (its 404: restarted
    without the job's record): what a lecturer can do in the page, and the job's id for whoever runs the service. The
    API's own sentence sends a client to GET /jobs, an API path no page user can follow."""
    return (
        f"The PathAtlas service no longer knows the job that was indexing {name} (it may have restarted): look for "
        f"{name} in the sources above, and add it again if it is not there. Job {job_id}, {SERVICE_RUNS_IT}."
    )


def job_refused_message(name: str, said: str) -> str:
    """What the Library says where the service refused to tell how the job indexing upload ``name`` goes (a proxy's
    502 while it restarts): its refusal in its own words (``said``), then where to look; the job may yet end."""
    return f"How indexing {name} went is not known: {said.rstrip('.')}. It may yet be indexed: {LOOK_LATER}."


def job_waited_message(name: str, state: str, seconds: float, job_id: str) -> str:
    """What the Library says where the job indexing upload ``name`` is still ``state`` (queued, running) after the
    page waited ``seconds``: where to look later, and the job's id for whoever runs the service. "See GET /jobs/{id}" is
    no instruction in a web page."""
    return (
        f"{name} is still {state} after {seconds / 60:g} minutes, so the page stopped waiting; the service goes on "
        f"with it: {LOOK_LATER}. Job {job_id}, {SERVICE_RUNS_IT}."
    )


def job_unanswered_message(name: str) -> str:
    """What the Library says where the service stopped answering while it indexed upload ``name``: the job may yet end
    there ("unknown: the service stopped answering" says neither)."""
    return f"The PathAtlas service stopped answering while indexing {name}; it may yet be indexed: {LOOK_LATER}."


def job_away_message(name: str) -> str:
    """What the Library's progress bar says while the service does not answer how the job indexing upload ``name``
    goes (restarting, or a proxy's 502 for it): that the page still waits, so a lecturer does not leave or upload
    again."""
    return (
        f"The PathAtlas service is not answering just now (it may be restarting); still waiting to hear how indexing "
        f"{name} goes."
    )


def served_root(openapi: Mapping[str, Any]) -> str:
    """The path prefix the API is served under (``pathatlas serve --root-path``), as its OpenAPI document's first
    server names it; "" when served at /."""
    servers = openapi.get("servers") or [{}]
    return str(servers[0].get("url") or "").rstrip("/")


def media_path(url: str, root: str) -> str:
    """A media URL the API gave, as a path under the UI's API base URL. The API puts its ``root`` in front
    ("/atlas/media/pages/x"), right for a browser behind the proxy; the base URL already reaches that root, directly
    (``http://127.0.0.1:8733`` serves "/media/...") or through the proxy (``https://host/atlas`` + "/media/..."), so the
    root comes off."""
    if root and (url == root or url.startswith(f"{root}/")):
        return url[len(root) :]
    return url


def media_problem(refused: list[tuple[str, str]]) -> str:
    """The one line shown for the images the API refused this run (``(path, the API's detail)`` each), in place of
    blank cards: how many, and the first one's path and reason (a wrong PATHATLAS_API_URL or root path shows there),
    cut short (a proxy's own error page is its body's text)."""
    path, detail = refused[0]
    count = counted(len(refused), "image")
    return f"{count} could not be loaded from the PathAtlas service: {path}: {shorten(detail).rstrip('.')}."


OUTLINE_RGB, OUTLINE_POINTS, OUTLINE_MARGIN = (230, 26, 26), 3, 3
"""The API's outline of a hit on its page (``render_page``), drawn ``OUTLINE_MARGIN`` points outside the box
(``around``): on the box's edge the stroke covered the first letter of every line and the descenders of the last."""
HALO_RGB = (255, 255, 255)
"""The band under the outline, half its width on either side: red alone was 1.6:1 on pink and purple H&E; red is 4.6:1
on white, and white stands out on a dark picture."""


def around(bbox: list[float] | tuple[float, ...]) -> tuple[float, float, float, float]:
    """The rectangle an outline of ``bbox`` (PDF points) is drawn on: ``OUTLINE_MARGIN`` points outside it, so the
    stroke, centred on it, clears the letters inside."""
    x0, y0, x1, y1 = bbox
    return x0 - OUTLINE_MARGIN, y0 - OUTLINE_MARGIN, x1 + OUTLINE_MARGIN, y1 + OUTLINE_MARGIN


PAGE_TURN_KEY = "Rotate"
"""The PNG text field in which a page's render (``render_page``) says how far its page is turned for showing: the PDF's
/Rotate, 0, 90, 180 or 270 degrees clockwise. A box is in the page's unrotated points (``BBox``), so drawing it on the
render, or cropping the render around it, takes that turn (``shown_box``)."""


def page_turn(picture: Image.Image) -> int:
    """How far the page a render shows is turned (``PAGE_TURN_KEY``; its converted copies keep it); 0 where the render
    does not say."""
    turn = str(picture.info.get(PAGE_TURN_KEY, "0"))
    return int(turn) % 360 if turn.isdigit() else 0


def shown_box(bbox: Sequence[float], turn: int, size: tuple[int, int], dpi: float) -> BBox:
    """Where a render at ``dpi`` (``size`` pixels) of a page turned ``turn`` degrees (``page_turn``) shows ``bbox``
    (unrotated points), in its pixels: the page's ``rotation_matrix``, its unrotated size read off the render's."""
    scale = dpi / 72
    width, height = size[0] / scale, size[1] / scale  # the page as shown, in points
    x0, y0, x1, y1 = bbox
    turned = {
        90: (width - y1, x0, width - y0, x1),
        180: (width - x1, height - y1, width - x0, height - y0),
        270: (y0, height - x1, y1, height - x0),
    }.get(turn, (x0, y0, x1, y1))
    left, top, right, bottom = (c * scale for c in turned)
    return left, top, right, bottom


UNKNOWN_SHOWN = 8  # unknown words a warning names: a pasted paragraph may hold 31


def unknown_words_line(unknown: list[dict[str, Any]], meaning_alone: bool = False) -> str:
    """``unknown_words_note`` of at most ``UNKNOWN_SHOWN`` words, those with a closer spelling to offer first (a typo
    the reader can fix), and how many more: a pasted paragraph would list 31 before its one suggestion.
    ``meaning_alone`` (results shown, none found by the words: ``hits.by_meaning_alone``) of words none of which is a
    typo of an indexed word adds that they are likely unrelated: "xqzvwk" would show 11 cards under the line, as if they
    were about it (a typo's meaning may still find its subject)."""
    shown = sorted(unknown, key=lambda word: not word["closest"])[:UNKNOWN_SHOWN]
    more = len(unknown) - len(shown)
    note = unknown_words_note(shown)
    if more:
        note += f" Not listed: {counted(more, 'more such word')}."
    if note and meaning_alone and not any(word["closest"] for word in unknown):
        note += " The results below match by meaning alone and are likely unrelated."
    return note


def unknown_words_note(unknown: Sequence[Mapping[str, Any]]) -> str:
    """The web UI's line on a response's ``unknown_words``: "No indexed text has 'adipos' (option A); did you mean
    adipose?", a search's words without their field (its one text); empty when there are none."""
    if not unknown:
        return ""
    named = [f"'{u['word']}'" + ("" if u["field"] == "text" else f" ({u['field']})") for u in unknown]
    listed = named[0] if len(named) == 1 else f"{', '.join(named[:-1])} or {named[-1]}"
    meant = [u["closest"][0] for u in unknown if u["closest"]]
    return f"No indexed text has {listed}" + (f"; did you mean {', '.join(meant)}?" if meant else ".")


PAGE_GONE = {
    404: "is no longer in the library: its source was removed, or indexed again, since it was found.",
    410: "can no longer be shown: its PDF has moved or changed on disk since it was indexed.",
}
"""What the web UI's viewer says, by the API's refusal of a page's source PDF, in place of the page and its download
(its pictures and its PDF fail alike): a student read a server path ("/media/pages/...: no such record") and pressed a
download that did nothing. Another status (a restarting service's 503) leaves the page to say its own refusal. A case
removed since it was found is said in the 404's words (``case_details``)."""


def diagnosed_by_cases(answer: dict[str, Any]) -> bool:
    """Whether an answer's text is its similar cases' diagnosis, which no sentence gave: it cites cases and its
    question's image was searched (its trace says so). An open question over case folders alone quotes a case's
    sentence, as one from a book, and was headed "the similar cases' diagnosis" for citing a case."""
    searched_image = any(step.get("step") == "search" and step.get("image") for step in answer.get("trace") or [])
    return searched_image and any(c.get("case") for c in answer.get("citations") or [])


def unsettled_said(options: list[dict[str, Any]], tied: list[dict[str, Any]], shown: str, cases: bool = False) -> str:
    """What an unsettled answer's headline says after "The evidence does not settle this": the options it cannot tell
    apart (the API's ``tied``), or the option it best supports, or an open question's nearest sentence, or (``cases``:
    it cites similar cases) their diagnosis, which no sentence gave. A True/False question whose two options score alike
    would otherwise say "Best supported: A. True", as if A had won."""
    if len(tied) > 1:
        named = [plain(f"{o.get('label')}. {o.get('text') or ''}") for o in tied]
        between = f"{named[0]} from {named[1]}" if len(named) == 2 else in_words(named)
        return f"It does not tell {between} apart"
    if options:
        return f"Best supported: {shown}"
    heading = "Leaning to the similar cases' diagnosis" if cases else "Nearest sentence, which may not answer it"
    return f"{heading}: {shown}"
