"""The one JSON form of an answer, which every door shows (``pathatlas ask --json``, REST, MCP, ``Atlas.ask``,
LangChain): the agent's result with each citation placed on its page. It lives beside the agent, not in a door, since
placing a quote needs the store the agent searched."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from pathatlas.agent.evidence import QuotePlace, evidence_record, quote_place
from pathatlas.agent.writing import recited
from pathatlas.retrieval.records import Citation, Payload

if TYPE_CHECKING:
    from pathatlas.agent.graph import AgentResult
    from pathatlas.retrieval.stores.base import VectorStore


def answer_record(result: AgentResult, store: VectorStore, options_from_question: bool = False) -> dict[str, Any]:
    """The one JSON form of an answer, which every door shows (``pathatlas ask --json``, REST, MCP, ``Atlas.ask``,
    LangChain): the agent's (``graph.answer_document``) with each citation where it stands on its page, read from
    ``store``. A quote's box is the passage holding it, and a quote that is a figure's caption is placed on the figure
    and names it, on the figure's page where its caption opens the next (``quote_place``: the agent cites a caption
    read in its page's text without its figure), in the
    rationale too (``recited``); each citation's ``record`` is the record whose box it gives, and its ``thumbnail``
    that of the record it names (``thumbnail_record``: the figure's, not its page's). ``thumbnail`` is a file on this
    machine: REST shows its URL instead (``AskResponse``), MCP its resource."""
    document = result.to_dict()
    by_id = {e.id: e for e in result.evidence}
    cited = {c["evidence"] for c in document["citations"]}
    cited |= {q["citation"]["evidence"] for option in document["options"] for q in option["evidence"]}
    pages = records_on_pages(store, [by_id[i].payload for i in cited if i in by_id])

    def place_fields(citation: dict[str, Any], quote: str | None) -> dict[str, Any]:
        evidence = by_id.get(citation["evidence"])
        if evidence is None:
            return {"record": citation["evidence"]}
        on_page = pages.get((evidence.payload.source, evidence.payload.page), {})
        place = (
            quote_place(quote, evidence.id, evidence.payload, on_page)
            if quote is not None
            else QuotePlace(evidence_record(evidence.id, evidence.payload, on_page), evidence.payload.bbox)
        )
        given = Citation.from_dict(citation)
        shown = replace(on_its_figure(given, place.cited) if place.cited is not None else given, bbox=place.bbox)
        fields = {k: v for k, v in shown.to_dict().items() if k in PLACED_FIELDS}
        return {**fields, "record": place.record}

    def placed(citation: dict[str, Any], quote: str | None) -> dict[str, Any]:
        shown = {**citation, **place_fields(citation, quote)}
        return {**shown, "thumbnail": result.thumbnail_of(thumbnail_record(shown))}

    options = [
        {**option, "evidence": [{**q, "citation": placed(q["citation"], q["quote"])} for q in option["evidence"]]}
        for option in document["options"]
    ]
    moved = [
        (q["quote"], q["citation"]["label"], shown["citation"]["label"])
        for option, shown_option in zip(document["options"], options, strict=True)
        for q, shown in zip(option["evidence"], shown_option["evidence"], strict=True)
    ]
    citations = [placed(c, None) for c in document["citations"]]
    rationale = recited(document["rationale"], moved)  # a caption quoted in it names its figure, as its quote line does
    return {
        **document,
        "rationale": rationale,
        "options": options,
        "citations": citations,
        "options_from_question": options_from_question,
    }


PLACED_FIELDS = ("page", "page_label", "figure", "bbox", "label", "caption_page", "caption_bbox")
"""What placing a citation on its page (``answer_record``) may change: a caption quote is cited on its figure's page."""


def on_its_figure(citation: Citation, figure: Citation) -> Citation:
    """``citation``, of a quote of a figure's caption, cited where ``figure`` (its citation) is: its page, which is the
    page before the quote's where the caption opens the quote's page, and the caption's page and box on it. Without
    it, such a quote was cited on its page alone with no figure (Figure 6.8's caption, opening p. 172 of the A&P book)
    while a caption printed beside its figure was cited on the figure."""
    return replace(
        citation,
        page=figure.page,
        page_label=figure.page_label,
        figure=figure.figure,
        caption_page=figure.caption_page,
        caption_bbox=figure.caption_bbox,
    )


def thumbnail_record(citation: Mapping[str, Any]) -> str:
    """The record whose thumbnail a placed citation (``answer_record``) shows, in every door: the figure it names (a
    caption quoted from its page's text is placed on its figure), else the cited evidence (a passage has no thumbnail:
    its page's is shown)."""
    return citation["record"] if citation["figure"] else citation["evidence"]


def records_on_pages(store: VectorStore, cited: list[Payload]) -> dict[tuple[str, int], dict[str, Payload]]:
    """The passages of each cited page and the figures whose caption it prints, by id (what ``quote_place`` reads):
    a figure at a page's foot whose caption opens the next page (``Payload.caption_page``) is that page's, where a
    quote of its caption is read. One scan per cited source, decoding only the records of a cited page (a book's
    source holds thousands)."""
    wanted = {(p.source, p.page) for p in cited if p.page is not None}
    pages: dict[tuple[str, int], dict[str, Payload]] = {}
    for source in {source for source, _ in wanted}:
        for record_id, stored in store.scan({"kind": ["passage", "figure"], "source": source}):
            if (source, page := stored.get("caption_page") or stored.get("page")) in wanted:
                pages.setdefault((source, page), {})[record_id] = Payload.from_payload(stored)
    return pages
