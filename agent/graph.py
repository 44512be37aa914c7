"""The agentic loop as a LangGraph state graph: plan, search, weigh (and search again), answer.

::

    plan -> search -> weigh --(top two options close, rounds left)--> search (follow-up, contrast)
                         \\--> answer -> END

The first round also runs the passage support of a text multiple-choice question: one batched BM25 call over
the whole index for the question's own words and for each option's distinctive words, so each option is weighed
by the passages that tie it to what is asked (``scoring.passage_support``), evidence one search does not bring.
After each round the offline scorer weighs the options; when the top two are not yet far apart, the next
round searches for what the best evidence introduced and for what separates the two leading options.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TYPE_CHECKING, Any, TypedDict

from langgraph.graph import END, START, StateGraph

from pathatlas.agent.answerers.base import Answerer, AnswerError
from pathatlas.agent.answerers.offline import OfflineAnswerer
from pathatlas.agent.evidence import shown_stances
from pathatlas.agent.plan import SubQuery, follow_ups, plan, read_question
from pathatlas.agent.questions import LETTERS, Answer, Evidence, Question, Quote
from pathatlas.agent.scoring import SUPPORT_POOL, OptionSupport, support_queries
from pathatlas.agent.writing import annotate, tied_options
from pathatlas.errors import IndexMissingError
from pathatlas.retrieval.fusion import reciprocal_rank_fusion
from pathatlas.retrieval.records import Citation, Hit
from pathatlas.retrieval.search import SPECIMEN, Query, Searcher, resolve_filters
from pathatlas.retrieval.terms import has_words

if TYPE_CHECKING:
    from pathatlas.retrieval.index import Index
    from pathatlas.settings import Settings

STOP_MARGIN = 0.3
"""The loop stops searching once the leading option's probability exceeds the runner-up's by this much."""


class AgentState(TypedDict):
    question: Question
    pending: list[SubQuery]
    purposes: dict[str, str]
    """Sub-query id to its purpose, for every sub-query run so far."""
    exclude: set[str]
    evidence: dict[str, Evidence]
    round: int
    trace: list[dict[str, Any]]
    answer: Answer | None
    support: OptionSupport | None
    """The passage searches per option (text multiple choice), run once in the first round."""


def citation_dict(evidence: Evidence) -> dict[str, Any]:
    """The evidence's citation in its one JSON form, with the evidence id to open it by and its thumbnail (a file on
    this machine, or None), a quote's as the answer's own citations'. Placing it (``document.answer_record``) may show
    another record's thumbnail: a caption quoted from a page's text shows its figure's."""
    return {"evidence": evidence.id, **evidence.citation.to_dict(), "thumbnail": evidence.thumbnail}


def quote_dict(quote: Quote, stance: str) -> dict[str, Any]:
    """One quoted sentence in its JSON form, with the stance it is shown with (``shown_stances``: related where it
    says nothing of what is asked); ``about`` (option letters) where the sentence was quoted for an option it does not
    name by being the nearest (``Quote.about``): what it names, so "supports" under C is not read as a sentence about C
    when it names A and B; null elsewhere (every door gives the key, REST's model included)."""
    about = None if quote.about is None else [LETTERS[j] for j in quote.about]
    return {"quote": quote.text, "citation": citation_dict(quote.evidence), "stance": stance, "about": about}


def answer_document(question: Question, answer: Answer, evidence: list[Evidence], trace: list[dict]) -> dict:
    """An answer as the agent found it, the step before its one JSON form (``document.answer_record``, which every door
    shows and which places each citation on its page, from the store): options in label order, each with its quoted
    evidence, and the cited evidence, their citations as the evidence holds them; ``choice`` is the chosen option's
    0-based index."""
    by_id = {e.id: e for e in evidence}
    quotes = [answer.quotes[j] if j < len(answer.quotes) else [] for j in range(len(question.options))]
    stances = shown_stances(quotes, answer.choice)
    options = [
        {
            "label": LETTERS[j],
            "text": text,
            "score": answer.scores[j] if j < len(answer.scores) else None,  # an LLM's reply names one option
            "evidence": [quote_dict(q, stance) for q, stance in zip(quotes[j], stances[j], strict=True)],
        }
        for j, text in enumerate(question.options)
    ]
    return {
        "question": question.text,
        "choice": answer.choice,
        "answer": answer.text,
        "confidence": round(float(answer.confidence), 4),
        "settled": bool(answer.settled),
        "tied": tied_labels(answer),
        "rationale": answer.rationale,
        "options": options,
        "citations": [citation_dict(by_id[i]) for i in answer.cited if i in by_id],
        "trace": trace,
    }


def tied_labels(answer: Answer) -> list[str]:
    """The labels of the options an unsettled answer's evidence scores alike at the top, its choice among them
    (``tied_options``): its choice is then no lean but the first by its words, and every door says the tie ("tie of
    A. True and B. False"), not "Best supported: A. True". Empty where the choice leads alone, the evidence settles
    the question, or it is open."""
    if answer.choice is None or answer.settled:
        return []
    return [LETTERS[j] for j in tied_options(answer.scores, answer.choice)]


def offline_scorer(answerer: Answerer) -> OfflineAnswerer | None:
    """The offline scorer an answerer weighs the options with: itself, or the LLM answerer's ``judge`` (what its
    confidence may reach). Such an answerer takes the agent's passage support too (``answer(q, evidence, support)``),
    so its scores are the ones the offline answerer gives for the same searches."""
    if isinstance(answerer, OfflineAnswerer):
        return answerer
    judge = getattr(answerer, "judge", None)
    return judge if isinstance(judge, OfflineAnswerer) else None


@dataclass
class AgentResult:
    question: Question
    answer: Answer
    evidence: list[Evidence]
    trace: list[dict[str, Any]]
    thumbnail_of: Callable[[str], str | None]
    """A record's thumbnail in the index asked (``thumbnail_file``): the answer shows that of each record it cites,
    which may be no evidence (a figure whose caption was quoted from its page's text)."""
    seconds: float = 0.0
    support: OptionSupport | None = None

    @property
    def citations(self) -> list[Citation]:
        by_id = {e.id: e for e in self.evidence}
        return [by_id[i].citation for i in self.answer.cited if i in by_id]

    def to_dict(self) -> dict[str, Any]:
        """``answer_document`` of this result: its citations not yet placed (``document.answer_record`` places them)."""
        return answer_document(self.question, self.answer, self.evidence, self.trace)


QUERY_WEIGHTS = {"question": 2.0, "image": 2.0, "option": 1.0, "finding": 1.0, "contrast": 1.0, "follow-up": 0.5}
"""How much each kind of sub-query's ranking counts when evidence from all of them is fused."""
EVIDENCE_RRF_K = 2
"""Each sub-query keeps only a few hits, so a small constant lets a top rank outweigh many low ones
(with the usual 60, an item seen at rank 6 by six sub-queries beat one ranked first by four)."""


def evidence_from_hits(found: dict[str, Evidence], hits: list[Hit], query_id: str) -> None:
    """Add one sub-query's hits; ``rank`` is provisional until ``fuse_ranks`` runs."""
    for rank, hit in enumerate(hits, start=1):
        known = found.get(hit.id)
        if known is None:
            found[hit.id] = known = Evidence(
                hit.id, hit.kind, hit.payload.body, hit.citation, rank, {query_id: rank}, hit.payload, hit.thumbnail
            )
        else:
            known.ranks[query_id] = rank
            known.rank = min(known.rank, rank)
        known.same_specimen = known.same_specimen or SPECIMEN in hit.matched_by


def fuse_ranks(found: dict[str, Evidence], weights: dict[str, float]) -> None:
    """Re-rank evidence by weighted RRF over the sub-queries that found it: agreement counts."""
    rankings: dict[str, list[tuple[str, float]]] = {}
    for evidence in found.values():
        for query_id, rank in evidence.ranks.items():
            rankings.setdefault(query_id, []).append((evidence.id, rank))
    ordered = {q: sorted(items, key=lambda item: item[1]) for q, items in rankings.items()}
    fused = reciprocal_rank_fusion(ordered, weights, k=EVIDENCE_RRF_K)
    for position, (evidence_id, _, _) in enumerate(fused, start=1):
        found[evidence_id].rank = position


def thumbnail_file(index: Index, record_id: str) -> str | None:
    """The record's thumbnail as its search hit shows it (``Searcher.make_hit``): a file on this machine; None for a
    record without one (a passage)."""
    path = index.thumbnail_path(record_id)
    return str(path) if path.is_file() else None


def refuse_an_empty_index(index: Index) -> None:
    """Refuse to ask an index that holds nothing (never indexed, or every source removed) in the web UI's words: the
    answerer would otherwise lean to an option ("osteoclast", confidence 0.55) on no evidence at all.
    ``IndexMissingError``: no usable index, as where there is none (REST's 404)."""
    if not index.manifest:
        raise IndexMissingError(f"nothing is indexed at {index.path} yet: add sources to it, then ask")


@dataclass
class Agent:
    searcher: Searcher
    answerer: Answerer
    max_rounds: int = 1
    k: int = 8
    exclude_ids: set[str] = field(default_factory=set)
    """Records never used as evidence (a benchmark excludes the query's own image)."""

    @classmethod
    def from_settings(cls, searcher: Searcher, settings: Settings) -> Agent:
        """The agent the settings describe (``answerer``, ``agent_rounds``, ``agent_k``): what the CLI, the service
        and the library ask with."""
        from pathatlas.agent.answerers import create_answerer

        answerer = create_answerer(settings.answerer, settings, searcher.index.encoder)
        return cls(searcher, answerer, settings.agent_rounds, settings.agent_k)

    def __post_init__(self):
        self.judge = offline_scorer(self.answerer) or OfflineAnswerer(self.searcher.index.encoder)
        """Weighs options between rounds (the offline scorer: cheap and deterministic, whatever answers); the
        answerer's own where it has one (the LLM answerer weighs what its confidence may reach), so the evidence is
        encoded once."""
        graph = StateGraph(AgentState)
        graph.add_node("plan", self._plan)
        graph.add_node("search", self._search)
        graph.add_node("weigh", self._weigh)
        graph.add_node("answer", self._answer)
        graph.add_edge(START, "plan")
        graph.add_edge("plan", "search")
        graph.add_edge("search", "weigh")
        graph.add_conditional_edges("weigh", lambda s: "search" if s["pending"] else "answer")
        graph.add_edge("answer", END)
        self.graph = graph.compile()

    def ask(self, question: Question, exclude_ids: set[str] | None = None) -> AgentResult:
        """The question answered from the index's evidence; refused where the index holds none
        (``refuse_an_empty_index``): every door (CLI, library, REST, MCP) asks through here, so none answers from no
        evidence."""
        question.validate()
        refuse_an_empty_index(self.searcher.index)
        question = replace(question, filters=resolve_filters(question.filters, self.searcher.index))  # as searched
        started = time.perf_counter()
        state = self.graph.invoke(
            {
                "question": question,
                "pending": [],
                "purposes": {},
                "exclude": self.exclude_ids | (exclude_ids or set()),
                "evidence": {},
                "round": 0,
                "trace": [],
                "answer": None,
                "support": None,
            }
        )
        evidence = sorted(state["evidence"].values(), key=lambda e: e.rank)
        seconds = time.perf_counter() - started
        thumbnail_of = partial(thumbnail_file, self.searcher.index)
        return AgentResult(question, state["answer"], evidence, state["trace"], thumbnail_of, seconds, state["support"])

    # -- nodes -------------------------------------------------------------------------------
    def _plan(self, state: AgentState) -> dict:
        queries = plan(state["question"])
        step = {"step": "plan", "queries": [{"id": q.id, "purpose": q.purpose, "text": q.text} for q in queries]}
        return {"pending": queries, "trace": [*state["trace"], step]}

    def _search(self, state: AgentState) -> dict:
        question, evidence, trace = state["question"], dict(state["evidence"]), list(state["trace"])
        exclude, purposes = state["exclude"], dict(state["purposes"])
        # an option "It is" or "B" with a wordless question has nothing to search for
        pending = [q for q in state["pending"] if q.use_image or has_words(q.text or "")]
        queries = [
            Query(
                text=q.text,
                image=question.image if q.use_image else None,
                k=self.k + len(exclude),
                filters=dict(question.filters),
                pages_per_section=0,  # depth in the best section, not one page of each (BENCHMARKS.md)
            )
            for q in pending
        ]
        for sub, hits in zip(pending, self.searcher.search_many(queries), strict=True):
            hits = [h for h in hits if h.id not in exclude][: self.k]
            evidence_from_hits(evidence, hits, sub.id)
            purposes[sub.id] = sub.purpose
            trace.append(
                {
                    "step": "search",
                    "round": state["round"] + 1,
                    "query": sub.id,
                    "purpose": sub.purpose,
                    "text": sub.text,
                    "image": sub.use_image,
                    "hits": [{"id": h.id, "kind": h.kind, "citation": h.citation.label()} for h in hits],
                }
            )
        fuse_ranks(evidence, {q: QUERY_WEIGHTS[p] for q, p in purposes.items()})
        support = state["support"]
        if support is None and question.is_multiple_choice and question.image is None:
            support = self._support(question, trace)
        return {
            "evidence": evidence,
            "purposes": purposes,
            "trace": trace,
            "round": state["round"] + 1,
            "pending": [],
            "support": support,
        }

    def _support(self, question: Question, trace: list[dict[str, Any]]) -> OptionSupport:
        """One batched BM25 call over the whole index (within the question's filters): the question's words and
        each option's own words, so each option is weighed by the passages that tie it to what is asked (not
        only the top pages)."""
        texts = support_queries(read_question(question).focus, question.options)
        found = self.searcher.index.lexical.search(texts, SUPPORT_POOL, question.filters)
        support = OptionSupport(found[0], found[1:])
        trace.append({"step": "support", "queries": texts, "passages": [len(hits) for hits in found]})
        return support

    def _weigh(self, state: AgentState) -> dict:
        question = state["question"]
        if not question.is_multiple_choice or state["round"] >= self.max_rounds:
            return {"pending": []}
        judged = self.judge.answer(question, sorted(state["evidence"].values(), key=lambda e: e.rank), state["support"])
        ranked = sorted(judged.scores, reverse=True)
        margin = ranked[0] - ranked[1] if len(ranked) > 1 else 1.0
        again = follow_ups(question, judged, state["round"]) if margin < STOP_MARGIN else []
        step = {
            "step": "weigh",
            "round": state["round"],
            "scores": judged.scores,
            "leading": LETTERS[judged.choice] if judged.choice is not None else None,
            "margin": round(float(margin), 3),
            "stop": "separated" if not again else None,
            "queries": [q.text for q in again],
        }
        return {"pending": again, "trace": [*state["trace"], step]}

    def _answer(self, state: AgentState) -> dict:
        evidence = sorted(state["evidence"].values(), key=lambda e: e.rank)
        if offline_scorer(self.answerer) is not None:  # the passage support weighs in its scores
            answer = self.answerer.answer(state["question"], evidence, state["support"])
        else:
            answer = self.answerer.answer(state["question"], evidence)
        options = state["question"].options
        if answer.choice is not None and not 0 <= answer.choice < len(options):  # a plug-in's broken contract
            raise AnswerError(f"answerer {self.answerer.name!r} chose option {answer.choice} of {len(options)}")
        annotate(answer, state["question"], evidence)
        step = {
            "step": "answer",
            "answerer": self.answerer.name,
            "answer": answer.letter or answer.text,
            "confidence": round(answer.confidence, 4),
            "cited": answer.cited,
            "rationale": answer.rationale,
        }
        return {"answer": answer, "trace": [*state["trace"], step]}
