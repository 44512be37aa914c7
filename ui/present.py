"""Pure presentation helpers of the web UI (kept out of the Streamlit script so they are unit-tested):
query terms and their highlighting, the citation a reader copies, one card per case, how many results to ask for
next, API errors as a reader can act on them, and what image results that hold no case can claim."""

from __future__ import annotations

import html
import re
from typing import Any

STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "has",
        "have",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "was",
        "were",
        "which",
        "with",
        "what",
        "who",
        "whom",
        "why",
        "how",
        "when",
        "where",
        "does",
        "do",
        "did",
        "not",
        "no",
        "show",
        "shows",
        "seen",
    ]
)


def query_terms(text: str | None) -> list[str]:
    """The words of a query worth highlighting (no stop words, no one- or two-letter words), in order."""
    seen: list[str] = []
    for word in re.findall(r"[A-Za-z][A-Za-z0-9-]+", text or ""):
        word = word.lower()
        if len(word) > 2 and word not in STOPWORDS and word not in seen:
            seen.append(word)
    return seen


def _stem(term: str) -> str:
    """A prefix that also matches the term's inflections (koilocytes ~ koilocyte, glands ~ glandular)."""
    return term if len(term) <= 5 else term[: max(5, len(term) - 2)]


MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>:~$&])")


def plain(text: str) -> str:
    """Indexed text (a quote, a caption, a case's diagnosis, a file name) for Streamlit's Markdown, shown as
    written: one line, every Markdown character escaped, so a PDF or case file cannot slip in an image that
    calls another server, a link, emphasis, LaTeX or a colour directive."""
    return MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def highlight(text: str, terms: list[str]) -> str:
    """``text`` as safe HTML with every word starting like a query term wrapped in ``<mark>``; one line, since
    a blank line would end the HTML block it is shown in and let Markdown read the rest."""
    text = " ".join(text.split())
    if not terms:
        return html.escape(text)
    pattern = re.compile(r"\b(?:" + "|".join(re.escape(_stem(t)) for t in terms) + r")[\w-]*", re.IGNORECASE)
    out, last = [], 0
    for match in pattern.finditer(text):
        out += [html.escape(text[last : match.start()]), f"<mark>{html.escape(match.group())}</mark>"]
        last = match.end()
    out.append(html.escape(text[last:]))
    return "".join(out)


def citation_text(hit: dict[str, Any]) -> str:
    """The reference a student pastes into notes: book (file), page, figure or case, and where the file is."""
    citation = hit["citation"]
    source = citation["source"]
    name = source.rsplit("/", 1)[-1]
    title = hit.get("book") or hit.get("title") or ""
    parts = [f"{title} ({name})" if title and title != name else name]
    if citation.get("page") is not None:
        parts.append(f"p. {citation['page']}")
    if citation.get("figure"):
        parts.append(citation["figure"])
    if citation.get("case"):
        parts.append(f"case {citation['case']}")
        if hit.get("diagnosis"):
            parts.append(hit["diagnosis"])
    return ", ".join(parts) + f". {source}"


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


def error_message(detail: Any) -> str:
    """An API error's ``detail`` as a reader can act on it: the API's sentence as written, or for a validation
    error (FastAPI's 422, a list) one sentence per field, naming it; no HTTP status, which tells a student nothing."""
    if not isinstance(detail, list):
        return str(detail)
    sentences = {}  # by field: a field of a union type is reported once per branch
    for error in detail:
        field = field_name(error.get("loc", []))
        sentences.setdefault(field, invalid_field(field, error))
    return " ".join(sentences.values())


def field_name(loc: list[Any]) -> str:
    """A request field as words ("filters kind"): where in the body (its first element) and the union branch
    tried (``literal['page',...]``) mean nothing to a reader."""
    words = [part for part in loc[1:] if isinstance(part, str) and part.isidentifier()]
    return FIELD_NAMES.get(" ".join(words), " ".join(words) or "request")


def invalid_field(field: str, error: dict[str, Any]) -> str:
    """One validation error as a sentence; an empty or missing field asks to be filled in, as a student reads it."""
    shortest = (error.get("ctx") or {}).get("min_length")
    if error.get("type") == "missing" or (error.get("type") == "string_too_short" and shortest == 1):
        return f"Please fill in the {field}."
    if error.get("type") == "string_too_short":
        return f"The {field} is too short: type at least {shortest} characters."
    message = str(error.get("msg", "")).removeprefix("Value error, ")
    return f"{field[:1].upper()}{field[1:]}: {message}{'' if message.endswith('.') else '.'}"


def look_alike_note(hits: list[dict[str, Any]], index_has_cases: bool) -> str | None:
    """The note under image results without a case: the figures and pages found only look like the image, which
    their rank ("best match") would otherwise vouch for. None where a case was found, or nothing."""
    if not hits or any(hit["kind"] == "case" for hit in hits):
        return None
    where = "No case is among these results" if index_has_cases else "This index holds no cases"
    return f"{where}: these are the figures and pages that look most alike, which need not show the same thing."


def relevance_words(hit: dict[str, Any], look_alike: bool) -> str:
    """A hit's badge; in look-alike results (see ``look_alike_note``) one found by its appearance alone "looks
    alike", not the "best match" its rank earns."""
    found_by = {part.split(" #")[0] for part in hit.get("why", "").split(", ") if part}
    return "looks alike" if look_alike and found_by == {"appearance"} else hit["relevance"]
