"""The QA bench itself: every question asked in every mode, its outcomes summed up into a result."""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections import Counter
from typing import Any

from pathatlas.agent.answerers.base import Answerer
from pathatlas.agent.answerers.offline import OfflineAnswerer
from pathatlas.agent.bench.baselines import chance_by_group, chance_level, mark_losses, unfound_note
from pathatlas.agent.bench.folds import (
    check_refit,
    fitted_questions,
    fold_chapters,
    held_out_figures,
    in_sample_note,
    plan_refit,
)
from pathatlas.agent.bench.gold import (
    evidence_hit,
    evidence_units,
    gold_test,
    gold_units,
    hit_chance,
    own_case_evidence,
)
from pathatlas.agent.bench.items import MODES, Item
from pathatlas.agent.bench.outcomes import (
    LATENCY,
    OFFLINE_YES_NO,
    Outcome,
    mode_summary,
    nothing_answered,
    versus_baselines,
)
from pathatlas.agent.bench.quotes import PageTexts, quoted_verbatim, quotes_gold_page
from pathatlas.agent.bench.scores import is_correct, score_label
from pathatlas.agent.bench.withheld import case_record_ids, caseless_images, near_copies, query_image_ids
from pathatlas.agent.evidence import read_with_evidence
from pathatlas.agent.graph import Agent, evidence_from_hits
from pathatlas.agent.plan import Reading, with_options
from pathatlas.agent.questions import Answer, Evidence, letter_index
from pathatlas.agent.scoring import OptionSupport
from pathatlas.agent.tune import OpenRow, Row
from pathatlas.agent.writing import annotate
from pathatlas.errors import PathAtlasError
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.progress import progress
from pathatlas.retrieval.search import Query, Searcher


@dataclasses.dataclass
class Asked:
    """One mode's questions asked (``QABench.ask_all``): the outcomes of those answered, and a record of each question
    in order, those it failed among them."""

    outcomes: list[Outcome] = dataclasses.field(default_factory=list)
    records: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    failed: int = 0
    parse_failures: int | None = None
    """The answerer's unusable replies in this mode; None for an answerer that does not count them."""
    interrupted: str | None = None
    """Where Ctrl-C stopped the mode, in words; None where it ran to the end."""


class QABench:
    """The QA bench over one index and answerer: a question asked in a mode (``ask``), every one in every mode
    summed up (``run``)."""

    def __init__(
        self,
        index: Index,
        answerer: Answerer,
        rounds: int = 2,
        k: int = 8,
        searcher: Searcher | None = None,
        exclude_case: bool = False,
    ):
        """``exclude_case``: besides the question's own image, keep every image of its gold case out of the
        evidence (another photograph of the same slide gives the diagnosis away), and for a question without a case
        its image's near-duplicates among the indexed images without one (``near_copies``: a turned copy of the very
        tile is no other evidence)."""
        self.index = index
        self.searcher = searcher or Searcher(index)
        self.answerer = answerer
        self.agent = Agent(self.searcher, answerer, max_rounds=rounds, k=k)
        self.k = k
        self.own_images = query_image_ids(index)
        self.case_records = case_record_ids(index) if exclude_case else {}
        self.caseless = caseless_images(index) if exclude_case else {}
        self.copies: dict[str, set[str]] = {}
        self.exclude_case = exclude_case
        self.pages = PageTexts()

    def excluded(self, item: Item) -> set[str]:
        """Record ids the question may not see: its own image, and with ``exclude_case`` its gold case's images, or
        without a gold case its image's near-duplicates (``keep_out_copies``)."""
        image = str(item.image_path.resolve()) if item.image_path else ""
        own = self.own_images.get(image)
        case = self.case_records.get(str(item.gold.get("case") or ""), set())
        return case | self.copies.get(image, set()) | ({own} if own else set())

    def keep_out_copies(self, items: list[Item]) -> str | None:
        """With ``exclude_case``, find the near-duplicates of each image question without a gold case
        (``near_copies``) for ``excluded``; a note saying how many were kept out, None where there were none."""
        if not self.exclude_case:
            return None
        caseless = [str(i.image_path.resolve()) for i in items if i.image_path and not i.gold.get("case")]
        self.copies = near_copies(list(dict.fromkeys(caseless)), self.caseless)
        others = [len(self.copies[image] - {self.own_images.get(image)}) for image in caseless]
        if not any(others):
            return None
        return (
            f"--exclude-case: {sum(n > 0 for n in others)} of the {len(caseless)} image questions without a case "
            f"(tiles such as LC25000's) had near-duplicates of their image indexed ({sum(others)} in all: the same "
            "tissue turned, mirrored or zoomed, found by pixels), kept out of their evidence as a gold case's other "
            "images are"
        )

    def hit_chances(self, items: list[Item]) -> dict[str, float]:
        """Question id -> the chance of its evidence hit@5 (``hit_chance``), for the questions with gold evidence:
        ``EVIDENCE_K`` evidence items (pages, and records without a page: ``evidence_units``) drawn from the index's
        less those it may not see (``excluded``: case images, each an item of its own), its gold ones (``gold_test``)
        among them. Exact, from one pass over the index's payloads (none without gold)."""
        golds = [(item, is_gold) for item in items if (is_gold := gold_test(item.gold, self.exclude_case))]
        if not golds:
            return {}
        units = evidence_units(self.index.store.scan())
        chances = {}
        for item, is_gold in golds:
            hidden = evidence_units(self.index.store.payloads(list(self.excluded(item))).items())
            gold = gold_units(is_gold, units) - gold_units(is_gold, hidden)
            chances[item.id] = hit_chance(units.total() - hidden.total(), gold)
        return chances

    def ask(self, item: Item, mode: str) -> tuple[Answer, list[Evidence], OptionSupport | None]:
        exclude = self.excluded(item)
        if mode == "no-rag":
            return self.answerer.answer(item.question, []), [], None
        if mode == "rag":
            q = item.question
            text = with_options(q) or None
            query = Query(  # as the agent; its words list the options, which the image must choose among
                text=text, image=q.image, k=self.k + len(exclude), pages_per_section=0, words_weight=1.0
            )
            hits = self.searcher.search(query)
            found: dict[str, Evidence] = {}
            evidence_from_hits(found, [h for h in hits if h.id not in exclude][: self.k], "rag")
            evidence = sorted(found.values(), key=lambda e: e.rank)
            answer = self.answerer.answer(q, evidence)
            answer.cited = [i for i in answer.cited if i in found]
            annotate(answer, q, evidence)  # as the agent does: every answerer's answer quotes and settles alike
            return answer, evidence, None
        result = self.agent.ask(item.question, exclude_ids=exclude)
        return result.answer, result.evidence, result.support

    def run(self, items: list[Item], failures: list[dict], modes=MODES, folds: int = 0) -> dict[str, Any]:
        """Every mode over every item; with ``folds`` (offline answerer only: ``check_refit``) also the held-out
        accuracy of its weights and the held-out ECE of its open-answer confidence map, each refit per group of
        chapters (``plan_refit``: a note instead where a kind's questions, or those answered, span fewer than two).

        Ctrl-C while a question is asked ends the run there, not the program: the result holds what was answered
        (the interrupted mode over its answered questions, no held-out refit of it, later modes not run) and says
        so in ``interrupted``, so an hour of LLM answers is not lost."""
        check_refit(type(self.answerer), folds)
        per_item: list[dict[str, Any]] = [{"row": f["row"], "id": f["id"], "failed": f["error"]} for f in failures]
        summary: dict[str, Any] = {}
        refit, notes = plan_refit(items, folds)
        if copies := self.keep_out_copies(items):
            notes.append(copies)
        hit_chances = self.hit_chances(items) if any(mode != "no-rag" for mode in modes) else {}
        if unfound := unfound_note(hit_chances):
            notes.append(unfound)
        interrupted = None
        for mode in modes:
            asked = self.ask_all(items, mode, refit)
            per_item += asked.records
            interrupted = asked.interrupted
            if interrupted and not asked.outcomes:
                break
            if not asked.outcomes:
                notes.append(nothing_answered(mode, per_item))
            summary[mode] = mode_summary(mode, asked.outcomes, len(failures) + asked.failed, asked.parse_failures)
            if interrupted:
                break
            rows = [o.row for o in asked.outcomes if o.row is not None]
            open_rows = [o.open_row for o in asked.outcomes if o.open_row is not None]
            held_out, unfit = held_out_figures(mode, rows, open_rows, items, folds)
            summary[mode] |= held_out
            notes += unfit
        summary = versus_baselines(summary)
        mark_losses(summary, items)
        answered_ids = {r["id"] for r in per_item if "score" in r}
        answered = [item for item in items if item.id in answered_ids]
        if seen := fitted_questions(answered, self.answerer):  # the figures are of the questions answered
            held = {key for m in summary.values() for key in ("held_out", "held_out_open") if key in m}
            notes.insert(0, in_sample_note(seen, len(answered), len(items), held, fold_chapters(items)))
        kinds = dict(Counter(item.kind for item in items))
        searched = {r["id"] for r in per_item if "score" in r and r["mode"] != "no-rag"}
        retrieved = {i: chance for i, chance in hit_chances.items() if i in searched}
        offline_yes_no = kinds.get("yesno") and isinstance(self.answerer, OfflineAnswerer)
        return {
            "n": len(items) + len(failures),
            "answerer": self.answerer.name,
            "kinds": kinds,
            "metric": score_label(kinds),
            "fitted_on": seen,
            "chance": chance_level(items, answered_ids, retrieved),
            "chance_by_group": chance_by_group(items, answered_ids, retrieved),
            "notes": ([OFFLINE_YES_NO] if offline_yes_no else []) + notes,
            "latency": LATENCY,
            "modes": summary,
            "items": per_item,
            **({"interrupted": interrupted} if interrupted else {}),
        }

    def ask_all(self, items: list[Item], mode: str, refit: set[str]) -> Asked:
        """Every item asked in ``mode``, each timed, after one untimed question (``warm_up``). Ctrl-C stops it there,
        saying so in ``interrupted``."""
        asked = Asked()
        try:
            if items:
                self.warm_up(items[0], mode)
        except KeyboardInterrupt:
            asked.interrupted = f"Ctrl-C before the first question of {mode}"
            return asked
        unusable_before = getattr(self.answerer, "parse_failures", None)
        for item in progress(items, desc=f"qa {mode}", leave=False):
            started = time.perf_counter()
            try:
                reply = self.ask(item, mode)
            except PathAtlasError as exc:
                asked.failed += 1
                asked.records.append({"row": item.row, "id": item.id, "mode": mode, "failed": str(exc)})
                continue
            except KeyboardInterrupt:
                asked.interrupted = f"Ctrl-C in {mode} after {len(asked.outcomes)} of {len(items)} questions"
                break
            seconds = time.perf_counter() - started
            outcome = self.outcome(item, mode, reply, seconds, refit)
            asked.outcomes.append(outcome)
            asked.records.append(outcome.record())
        unusable = getattr(self.answerer, "parse_failures", None)
        asked.parse_failures = None if unusable is None else unusable - unusable_before
        return asked

    def outcome(
        self,
        item: Item,
        mode: str,
        reply: tuple[Answer, list[Evidence], OptionSupport | None],
        seconds: float,
        refit: set[str],
    ) -> Outcome:
        """What ``mode``'s reply to the item (``ask``'s) scores and what its evidence and quotes hold, with the
        question's row for refitting per fold where its kind is refit (``refit``: ``plan_refit``; text questions
        alone: image questions carry no chapter)."""
        answer, evidence, support = reply
        reading = read_with_evidence(item.question, evidence)  # as answered: "least common" may be a rank
        searched = mode != "no-rag"
        text_question = item.question.image is None
        refit_kind = item.kind if text_question and item.kind in refit else None
        score = is_correct(item, answer)
        return Outcome(
            item,
            mode,
            answer,
            seconds,
            score,
            reading.negated,
            hit=evidence_hit(item, evidence, case_excluded=self.exclude_case) if searched else None,
            verbatim=quoted_verbatim(answer, self.pages) if searched and text_question and item.kind == "mcq" else None,
            on_gold=quotes_gold_page(item, answer, evidence) if searched else None,
            own_case=own_case_evidence(item, evidence) if searched else None,
            row=self.option_row(item, reading, evidence, support) if refit_kind == "mcq" else None,
            open_row=self.open_answer_row(item, reading, evidence, score) if refit_kind == "open" else None,
        )

    def option_row(self, item: Item, reading: Reading, evidence: list[Evidence], support: OptionSupport | None) -> Row:
        """The question's row for refitting the option weights: the features the answerer chose its option by."""
        features, _ = self.answerer.features(item.question, reading, evidence, support)
        gold = letter_index(item.gold_answer, len(item.question.options))
        return Row(item.id, item.group, features, gold, reading.negated, reading.statements)

    def open_answer_row(self, item: Item, reading: Reading, evidence: list[Evidence], score: float) -> OpenRow | None:
        """The question's row for refitting the open-answer confidence map: the sentence the answerer quotes (as it
        quotes it) with the answer's score; None where it quotes none."""
        quoted = self.answerer.open_quote(item.question, reading, evidence)
        return None if quoted is None else OpenRow(item.id, item.group, quoted[1], score)

    def warm_up(self, item: Item, mode: str) -> None:
        """Ask one question untimed, then drop the offline answerer's sentence vectors: every mode is timed warm
        (models loaded) and from the same cold cache. Without it a mode reused the vectors of the mode before and
        its latency depended on the order (agentic after rag 0.02 s a question, alone 0.5 s)."""
        with contextlib.suppress(PathAtlasError):
            self.ask(item, mode)
        if isinstance(self.answerer, OfflineAnswerer):
            self.answerer.clear_cache()
