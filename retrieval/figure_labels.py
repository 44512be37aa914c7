"""Figures named by their printed labels: a text query "Figure 6.3", "fig 11.1" or "Fig. 6-3 bone" names the figure a
book prints as Figure 6.3, and a search puts it first (``Searcher.named_figures``).

Words alone cannot single it out: BM25 reads each figure with its section's path in front, so every figure of section
"6.3 Bone Structure" holds "6.3" as Figure 6.3 does, and "6-3" is no term at all (the book's 718 labels looked up
with kind=figure: 20 outside the top ten). A known item is what such a query asks for, so the rule is one a reader
can predict: the figures whose label is the one typed, of those the search admits, come first (several books may each
print a Figure 6.3), and every other hit keeps its place. Pure functions: the searcher reads the labels.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

SEPARATOR = r"\s?[.\-\u2010-\u2013]\s?"
"""Between the parts of a label's number: a dot, or a hyphen or dash ("6-3", as some books print it and a word
processor types it, "6–3")."""
SEPARATORS = re.compile(SEPARATOR)
LABEL = re.compile(rf"\bfig(?:ure)?s?\.?\s*(\d+(?:{SEPARATOR}\d+)*)([a-z])?(?!\w|{SEPARATOR}\d)", re.IGNORECASE)
"""A figure's label in English ("Figure 6.3", "fig 11.1", "Fig. 6-3", "figure 12.10a"): the word, its whole number,
and a panel's letter where one is named."""


def named_labels(text: str) -> list[tuple[str, str]]:
    """The figure labels ``text`` names, each as its number (parts joined by dots: "Fig. 6-3" as "6.3") and its panel
    letter ("" where none is named), in the order named."""
    return [label_parts(named) for named in LABEL.finditer(text)]


def label_key(label: str | None) -> str | None:
    """A stored figure label ("Figure 6.3"; "Figure 12.10a" of a book labelling panels) as labels are compared:
    "6.3", "12.10a"; None for a figure named by its place, not by a printed number ("p3-img1")."""
    whole = LABEL.fullmatch(label.strip()) if label else None
    return "".join(label_parts(whole)) if whole else None


def label_parts(label: re.Match[str]) -> tuple[str, str]:
    """A ``LABEL`` match's number, its parts joined by dots, and its panel letter, lower case ("" where none)."""
    number, panel = label.groups()
    return SEPARATORS.sub(".", number), (panel or "").casefold()


def named_figures(query: str, labels: Mapping[str, str | None]) -> set[str]:
    """The ids of ``labels`` (record id to figure label) whose label ``query`` names (``named_labels``): every figure
    printed with that number ("Figure 6.3" of each book); a panel ("Figure 12.10a") is its own figure where a book
    labels panels, else part of the figure it belongs to (Figure 12.10)."""
    keys = {record_id: label_key(label) for record_id, label in labels.items()}
    found: set[str] = set()
    for number, panel in named_labels(query):
        exact = {record_id for record_id, key in keys.items() if key == number + panel}
        found |= exact or {record_id for record_id, key in keys.items() if panel and key == number}
    return found
