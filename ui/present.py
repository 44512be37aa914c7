"""Pure presentation helpers of the web UI (kept out of the Streamlit script so they are unit-tested):
query terms and their highlighting, the citation a reader copies, one card per case."""

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
