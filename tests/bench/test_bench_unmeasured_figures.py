"""Benchmarks report what they measured, and only that.

``bench qa`` and ``bench mcp`` gave a mode whose every question failed accuracy 0.000 and latency 0.00 s, a measured
zero to any reader; it now has no figure (null, "-", no bar) and a note saying why. The words-alone (BM25) row of
``--image-words`` ranked LC25000's tiles, which share one text a class, by record id: a tie straddling the cut gave a
P@5 of 1.0 or 0.0 by id order; each tie now counts at its expected value over its orders. ``PathAtlasTyper`` passed
``cls=`` itself, so a command naming its own class failed."""

from __future__ import annotations

import json

import click
import pytest
import typer
from typer.testing import CliRunner

from pathatlas.agent.answerers.base import Answerer, AnswerError
from pathatlas.agent.bench.items import load_items
from pathatlas.agent.bench.plot import plot_qa
from pathatlas.agent.bench.report import markdown_report
from pathatlas.agent.bench.run import QABench
from pathatlas.indexer.pipeline import Indexer
from pathatlas.retrieval.bench.common import summarise_chances
from pathatlas.retrieval.bench.words import figures
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.metrics import expected_precision, first_rank_chances, tied_runs
from pathatlas.ui.cli_common import PathAtlasTyper
from tests.helpers import hashing_settings


class Down(Answerer):
    """An answerer whose model server is down: every question fails."""

    name = "down"

    def answer(self, question, evidence):
        raise AnswerError("the model server at 127.0.0.1:9 refused the connection")


@pytest.fixture(scope="module")
def failed_run(tmp_path_factory, demo_corpus):
    """A no-rag and rag run of two questions in which every answer failed, on a quick index of the demo corpus."""
    settings = hashing_settings(tmp_path_factory.mktemp("s38-qa"))
    index = Index.open(settings.index_dir, settings, create=True)
    assert not Indexer(index, show_progress=False).add([demo_corpus]).failed
    questions = index.path.parent / "q.jsonl"
    rows = [{"id": f"q{n}", "question": f"Which cell {n}?", "options": ["a", "b"], "answer": "A"} for n in range(2)]
    questions.write_text("".join(json.dumps(row) + "\n" for row in rows))
    items, failures = load_items(questions, settings.max_image_pixels)
    yield QABench(index, Down()).run(items, failures, ["no-rag", "rag"])
    index.close()


def test_a_mode_that_answered_nothing_has_no_figures_and_says_why(failed_run):
    for mode, m in failed_run["modes"].items():
        assert (m["answered"], m["failed"]) == (0, 2)
        assert [m[key] for key in ("accuracy", "ci95", "ece", "p50_s", "p95_s")] == [None] * 5, mode
    assert [note.split(":")[0] for note in failed_run["notes"]] == ["no-rag", "rag"]
    assert "2 failed" in failed_run["notes"][0] and "refused the connection" in failed_run["notes"][0]
    json.dumps(failed_run, allow_nan=False)  # null, not NaN: the JSON stays JSON


def test_the_report_shows_dashes_not_zeros_and_the_plot_draws_no_bar(failed_run, tmp_path):
    report = markdown_report(failed_run, "down")
    row = next(line for line in report.splitlines() if line.startswith("| rag |"))
    assert row == "| rag | - | - | - | - | - | - | - | - | - | - | - | - |  | 2 |"
    assert "0.000" not in row and "none of its questions was answered" in report
    plot_qa(failed_run, tmp_path / "plot.png")
    assert (tmp_path / "plot.png").stat().st_size > 0


def test_a_tie_straddling_the_cut_counts_at_its_expected_value_whatever_the_id_order():
    """Ten records tied, five of them relevant: ids ordered the relevant first gave P@5 1.0, the others first 0.0."""
    gold = {f"r{n}" for n in range(5)}
    relevant_first = [f"r{n}" for n in range(5)] + [f"x{n}" for n in range(5)]
    for order in (relevant_first, relevant_first[::-1]):
        assert figures([order], [gold], [0], ties=[[10]])["precision@5"] == pytest.approx(0.5)
        assert figures([order], [gold], [0], ties=[[10]])["recall@1"] == pytest.approx(0.5)
    assert figures([relevant_first], [gold], [0])["precision@5"] == 1.0  # untied: the order is the ranking's own


def test_expected_figures_of_runs_before_and_across_the_cut():
    runs = tied_runs(["a", "b", "c", "d", "e", "f"], [1, 3, 2], {"b", "e"})
    assert runs == [(1, 0), (3, 1), (2, 1)]
    assert expected_precision([runs], 2) == pytest.approx((1 / 3) / 2)  # one place of three left to the run of b
    assert expected_precision([runs], 5) == pytest.approx((1 + 0.5) / 5)  # b surely, e in one of the two places
    chances = first_rank_chances(runs, 20)
    assert chances == pytest.approx({2: 1 / 3, 3: 1 / 3, 4: 1 / 3})
    assert summarise_chances([chances], 10)["mrr"] == pytest.approx((1 / 2 + 1 / 3 + 1 / 4) / 3)
    assert summarise_chances([chances], 10)["recall@1"] == 0.0
    assert summarise_chances([chances])["recall@5"] == pytest.approx(1.0)
    assert first_rank_chances([(300, 300)], 20) == {1: 1.0}  # a tied class all relevant: its first surely is


def test_a_command_may_name_its_own_class():
    class Loud(typer.core.TyperCommand):
        def invoke(self, ctx: click.Context):
            click.echo("loud")
            return super().invoke(ctx)

    app = PathAtlasTyper()

    @app.command("shout", cls=Loud)
    def shout():
        """Shout."""

    @app.command("whisper")
    def whisper():
        """Whisper."""

    assert CliRunner().invoke(app, ["shout"]).output == "loud\n"
    assert CliRunner().invoke(app, ["whisper"]).exit_code == 0
