"""Whether an answer's quotes stand on the pages they cite, and on a gold page."""

from __future__ import annotations

import pymupdf

from pathatlas.agent.bench.items import Item
from pathatlas.agent.evidence import quote_normalise
from pathatlas.agent.questions import Answer, Evidence
from pathatlas.retrieval.bench.common import on_gold_page


class PageTexts:
    """Text of cited PDF pages as a reader sees them (blocks in reading order, normalised like quotes)."""

    def __init__(self):
        self.pages: dict[tuple[str, int], str | None] = {}

    def get(self, source: str, page: int) -> str | None:
        key = (source, page)
        if key not in self.pages:
            try:
                with pymupdf.open(source) as doc:
                    blocks = doc[page - 1].get_text("blocks", sort=True)
                self.pages[key] = quote_normalise("\n".join(b[4] for b in blocks if b[6] == 0))
            except Exception:  # not a readable PDF (moved, or a case image): nothing to compare with
                self.pages[key] = None
        return self.pages[key]


def quoted_verbatim(answer: Answer, pages: PageTexts) -> bool | None:
    """Does the chosen option quote a sentence found verbatim on its cited PDF page? None if nothing to check."""
    if answer.choice is None or answer.choice >= len(answer.quotes):
        return None
    checked = [
        (q, pages.get(q.evidence.citation.source, q.evidence.citation.page))
        for q in answer.quotes[answer.choice]
        if q.evidence.citation.page is not None and q.evidence.citation.source.lower().endswith(".pdf")
    ]
    checked = [(q, text) for q, text in checked if text is not None]
    if not checked and answer.quotes[answer.choice]:
        return None
    return any(quote_normalise(q.text).replace("-", "") in text.replace("-", "") for q, text in checked)


def quotes_gold_page(item: Item, answer: Answer, evidence: list[Evidence]) -> bool | None:
    """Open questions: does the answer's first citation lie on a gold page? None without gold pages."""
    if item.kind != "open" or not item.gold.get("pdf_pages"):
        return None
    by_id = {e.id: e for e in evidence}
    cited = [by_id[i].citation for i in answer.cited if i in by_id]
    return bool(cited) and on_gold_page(item.gold, cited[0].source, cited[0].page)
