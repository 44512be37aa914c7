"""``bench qa`` / ``bench mcp`` / ``bench retrieval`` small honesty items: a question file without questions is told
in the shape ``bench retrieval --mcq`` tells it; each option's help says what it needs; numba's unsafe-cast warning
about ranx's kernels stays off the terminal (and no other warning does); the modes that search are the ones whose gold
must be indexed; evidence hit@5's chance draws pages, as its hits are; a measured 0 is drawn as one and no legend
covers the data."""

from __future__ import annotations

import importlib
import json
import math
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path
from types import SimpleNamespace

import pytest
from matplotlib.figure import Figure
from PIL import Image
from typer.main import get_command

from pathatlas.agent.answerers.base import Answerer
from pathatlas.agent.bench.gold import check_sources
from pathatlas.agent.bench.items import load_items
from pathatlas.agent.bench.plot import plot_qa
from pathatlas.agent.bench.run import QABench
from pathatlas.agent.questions import Answer
from pathatlas.errors import BadInputError
from pathatlas.retrieval import bench as retrieval_bench
from pathatlas.retrieval.index import Index
from pathatlas.ui.bench_crash import make_pdf
from pathatlas.ui.cli import app
from tests.helpers import hashing_settings, index_new, indexed_book, one_error_line, run_cli

RANX_FILE = "/site-packages/ranx/metrics/hit_rate.py"
"""Where numba places its unsafe-cast warning about ranx's hit-rate kernel."""


class WrongWithEvidence(Answerer):
    """Answers the second option (the right one here) without evidence, the first with: no-rag scores 1, a searching
    mode a measured 0."""

    name = "wrong-with-evidence"

    @classmethod
    def create(cls, settings, encoder):
        return cls()

    def answer(self, question, evidence):
        choice = 0 if evidence else 1
        return Answer(choice, question.options[choice], 0.6)


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> Path:
    """A three-page book indexed quickly at ``idx`` (home ``home``), beside a ten-page one at ``ten-index``."""
    root = indexed_book(tmp_path_factory.mktemp("s38-bench-items"))
    index_new(hashing_settings(root, index=root / "ten-index"), make_pdf(root / "ten" / "book.pdf", 10, "ten"))
    return root


def open_index(root: Path, name: str) -> Index:
    settings = hashing_settings(root, index=root / name)
    return Index.open(settings.index_dir, settings)


# 1. A file without questions is told alike ------------------------------------------------------------------------

EMPTY = re.compile(r"error: (?P<path>\S+) has no questions(?P<which> with [^(]+)? \((?P<line>.+)\)")
"""An error line of a question file without a question: its path first, what it lacks, then what a line holds."""


@pytest.mark.parametrize("text", ["", "\n  \n\n"], ids=["empty", "blank lines"])
def test_bench_qa_says_a_file_has_no_questions_as_bench_retrieval_does(book, text):
    questions = book / "none.jsonl"
    questions.write_text(text)
    index = book / "idx"
    retrieval = one_error_line(run_cli("bench", "retrieval", "--mcq", questions, "--index", index, home=book / "home"))
    qa = run_cli("bench", "qa", "--questions", questions, "--index", index, "--out", book / "qa", home=book / "home")
    said = {name: EMPTY.fullmatch(line) for name, line in (("retrieval", retrieval), ("qa", one_error_line(qa)))}
    assert all(said.values()), said
    assert said["qa"]["path"] == said["retrieval"]["path"] == str(questions)
    assert said["qa"]["line"].startswith("a line: {question, options, answer}")


# 2. Each option's help says what it needs ----------------------------------------------------------------------------


def retrieval_help() -> dict[str, str]:
    command = get_command(app).commands["bench"].commands["retrieval"]
    return {param.opts[0]: param.help or "" for param in command.params}


def test_mcq_reads_the_default_index_where_no_index_is_given_as_its_help_says(book):
    """--mcq needs an index, not the --index option: without it the default index (PATHATLAS_INDEX) is searched."""
    helps = retrieval_help()
    assert "needs --index" not in helps["--mcq"] and "else the default index" in helps["--mcq"]
    empty = write_rows(book / "no-mcq.jsonl", [])
    result = run_cli("bench", "retrieval", "--mcq", empty, home=book / "home", PATHATLAS_INDEX=book / "idx")
    one_error_line(result, f"{empty} has no questions with gold pdf_pages")


def test_encoder_must_be_the_index_s_own_for_the_tasks_that_search_it_as_its_help_says(book):
    assert "--mcq, --names and --image-words search with the index's own encoder" in retrieval_help()["--encoder"]
    empty = write_rows(book / "no-mcq.jsonl", [])
    result = run_cli("bench", "retrieval", "--mcq", empty, "--index", book / "idx", "--encoder", "minilm")
    one_error_line(result, "was built with encoder", "not 'minilm'")


def test_every_option_a_help_names_is_one_of_the_command():
    helps = retrieval_help()
    named = {option for text in helps.values() for option in re.findall(r"--[a-z][a-z-]*", text)}
    assert named <= set(helps), named - set(helps)
    shown = run_cli("bench", "retrieval", "--help", COLUMNS="400").output
    assert "(needs pip install 'pathatlas[plot]')" in shown, "the extra's name survives rich markup"


# 3. numba's unsafe-cast warning about ranx's kernels is silenced, and nothing else ----------------------------------


def numba_cast_warning(filename: str = RANX_FILE) -> None:
    """numba's warning as it reaches Python when it compiles one of ranx's kernels (``warn_explicit`` by file)."""
    from numba.core.errors import NumbaTypeSafetyWarning

    message = "unsafe cast from uint64 to int64. Precision may be lost."
    warnings.warn_explicit(message, NumbaTypeSafetyWarning, filename, 38)


def test_only_numba_s_unsafe_casts_in_ranx_are_silenced_and_only_inside():
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with retrieval_bench.quiet_numba_casts():
            numba_cast_warning()
            numba_cast_warning("/site-packages/mine/kernel.py")
            warnings.warn_explicit("another", UserWarning, RANX_FILE, 1)
        numba_cast_warning()
    said = [(w.category.__name__, Path(w.filename).name) for w in seen]
    assert said == [
        ("NumbaTypeSafetyWarning", "kernel.py"),
        ("UserWarning", "hit_rate.py"),
        ("NumbaTypeSafetyWarning", "hit_rate.py"),
    ]


def test_bench_retrieval_runs_its_tasks_with_the_casts_silenced(monkeypatch, tmp_path):
    """``run_retrieval_bench`` scores text to page (here a stand-in that warns as ranx's compile does) inside
    ``quiet_numba_casts``: the cast warning is not shown, another warning still is."""

    def text_to_page(*args, **kwargs):
        numba_cast_warning()
        warnings.warn("still shown", UserWarning, stacklevel=1)
        return {"methods": {}, "n": 0}

    monkeypatch.setattr(retrieval_bench, "text_to_page", text_to_page)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        encoder = SimpleNamespace(name="stand-in")
        result = retrieval_bench.run_retrieval_bench(encoder, None, mcq=tmp_path / "q.jsonl", index=object())
    assert list(result["tasks"]) == ["text_to_page"]
    assert [str(w.message) for w in seen] == ["still shown"]


@pytest.mark.parametrize(
    ("function", "command", "body"),
    [
        ("pages.tune_text", ["tune-text", "--out", "ranker.json"], {"written": "ranker.json"}),
        ("peers.peers_bench", ["peers"], {"peers": {"chunks": {"count": 0}, "cost": {}}}),
    ],
    ids=["tune-text", "peers"],
)
def test_tune_text_and_peers_score_with_the_casts_silenced(book, monkeypatch, tmp_path, function, command, body):
    """The other benches that score with ranx (stand-ins warning as its compile does): the cast is not shown, another
    warning still is."""
    module, name = function.split(".")

    def scored(*args, **kwargs):
        numba_cast_warning()
        warnings.warn("still shown", UserWarning, stacklevel=1)
        return {"methods": {"bm25": {}}, "n": 0, **body}

    monkeypatch.setattr(importlib.import_module(f"pathatlas.retrieval.bench.{module}"), name, scored)
    monkeypatch.setattr("pathatlas.retrieval.bench.peers.check_peers", lambda: None)  # the extra is not the point
    monkeypatch.chdir(tmp_path)
    mcq = write_rows(tmp_path / "mcq.jsonl", [])
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        result = run_cli("bench", *command, "--mcq", mcq, "--index", book / "idx", home=book / "home")
    assert result.exit_code == 0, result.output
    said = [(w.category.__name__, str(w.message)) for w in seen]
    assert ("UserWarning", "still shown") in said and not any(name == "NumbaTypeSafetyWarning" for name, _ in said)


COMPILED = """
import contextlib, json, sys, warnings
from ranx import Qrels, Run, evaluate
from pathatlas.retrieval.bench import quiet_numba_casts
quiet = quiet_numba_casts() if sys.argv[1] == "quiet" else contextlib.nullcontext()
with warnings.catch_warnings(record=True) as seen:
    warnings.simplefilter("always")
    with quiet:
        evaluate(Qrels({"q": {"d1": 1}}), Run({"q": {"d1": 0.9, "d2": 0.5}}), ["hit_rate@5"])
print(json.dumps([w.category.__name__ for w in seen]))
"""
"""ranx scoring one question, in the context (``quiet``) or not, printing the warnings it gave."""


def test_ranx_compiling_its_kernels_warns_nothing_inside_the_quiet_context(tmp_path):
    """Two fresh processes, each with an empty numba cache, so ranx compiles its kernel in each (numba says a cast
    once per process: a second kernel compiled after the first says nothing): outside the context numba says its
    unsafe cast (so the check can fail), inside nothing."""
    runs = {
        way: subprocess.Popen(
            [sys.executable, "-c", COMPILED, way],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / way)},
        )
        for way in ("plain", "quiet")
    }
    said = {}
    for way, process in runs.items():
        out, err = process.communicate()
        assert process.returncode == 0, err
        said[way] = json.loads(out.splitlines()[-1])
    assert "NumbaTypeSafetyWarning" in said["plain"] and said["quiet"] == [], said


# 4. The gold of the modes that search must be indexed ----------------------------------------------------------------


def test_gold_cases_are_checked_for_every_searching_mode_and_not_for_no_rag_alone(book):
    """``bench qa`` and ``bench mcp`` share the rule: no-rag reads no evidence; rag, agentic and mcp search."""
    image = book / "slides" / "A-0.png"
    image.parent.mkdir(exist_ok=True)
    Image.new("RGB", (48, 48), (200, 40, 90)).save(image)
    row = {"id": "atlas-0", "question": "Which diagnosis?", "options": ["angiosarcoma", "granuloma"], "answer": "A"}
    path = write_rows(book / "slides.jsonl", [row | {"image": str(image), "gold": {"case": "A"}}])
    items, _ = load_items(path, 10_000_000)
    with open_index(book, "idx") as index:
        check_sources(items, index, path, ["no-rag"])
        for modes in (["no-rag", "rag"], ["agentic", "mcp"], ["mcp"]):
            with pytest.raises(BadInputError, match="holds none of the gold cases"):
                check_sources(items, index, path, modes)


# 5. Evidence hit@5's chance draws what its hits are: pages --------------------------------------------------------


def test_the_chance_of_a_page_hit_draws_pages_as_search_gives_them(book):
    """The ten-page book holds each page as a page record and a passage, 20 records; a search gives one hit per page,
    so the chance of gold page 2 among 5 is 1 - C(9,5)/C(10,5) = 0.5, not the records' 1 - C(18,5)/C(20,5) = 0.447."""
    row = {"id": "q", "question": "Which page tells of granuloma?", "options": ["one", "two"], "answer": "B"}
    path = write_rows(book / "paged.jsonl", [row | {"gold": {"pdf_pages": [2, 2]}}])
    items, _ = load_items(path, 10_000_000)
    with open_index(book, "ten-index") as index:
        records = [payload for _, payload in index.store.scan()]
        assert len({(p["source"], p["page"]) for p in records}) == 10 and len(records) == 20
        bench = QABench(index, WrongWithEvidence())
        _, evidence, _ = bench.ask(items[0], "rag")
        pages = [(e.citation.source, e.citation.page) for e in evidence]
        assert len(pages) >= 5 and len(set(pages)) == len(pages), "the hits measured are one a page"
        assert bench.hit_chances(items) == {"q": pytest.approx(1 - math.comb(9, 5) / math.comb(10, 5))}


# 6. The plot draws a measured 0 and keeps its legends off the data ----------------------------------------------------


@pytest.fixture(scope="module")
def measured(book) -> dict:
    """no-rag (1.0) and rag (0.0) over two two-option questions, a chapter each, on the three-page book."""
    rows = [
        {"id": f"q{n}", "question": f"Which page tells of {word}?", "options": ["one", "two"], "answer": "B"}
        | {"chapter": chapter, "gold": {"pdf_pages": [n + 1, n + 1]}}
        for n, (word, chapter) in enumerate([("granuloma", "first"), ("alveolus", "second")])
    ]
    items, _ = load_items(write_rows(book / "plotted.jsonl", rows), 10_000_000)
    with open_index(book, "idx") as index:
        return QABench(index, WrongWithEvidence()).run(items, [], modes=("no-rag", "rag"))


def drawn(monkeypatch, result: dict, tmp_path: Path) -> Figure:
    """The figure ``plot_qa`` draws for ``result``, laid out as it is saved."""
    figures = []
    monkeypatch.setattr(Figure, "savefig", lambda figure, *args, **kwargs: figures.append(figure))
    plot_qa(result, tmp_path / "plot.png")
    figures[0].draw_without_rendering()  # the layout savefig makes (the closed figure's canvas draws nothing)
    return figures[0]


def zero_labels(ax) -> list[float]:
    """Where along x an axes labels a bar "0.00"."""
    return sorted(round(text.xy[0], 2) for text in ax.texts if text.get_text() == "0.00")


def test_a_measured_zero_bar_is_labelled_and_an_unmeasured_one_is_not(measured, monkeypatch, tmp_path):
    result = json.loads(json.dumps(measured))
    assert result["modes"]["rag"]["accuracy"] == 0.0 and result["modes"]["no-rag"]["accuracy"] == 1.0
    del result["modes"]["rag"]["by_group"]["second"]  # rag not measured there: no bar, no label
    left, _, right = drawn(monkeypatch, result, tmp_path).axes
    assert zero_labels(left) == [1.0], "rag's bar, the second"
    assert zero_labels(right) == [0.4], "rag's bar of the first group (each group's bars 0.4 wide)"


def test_no_legend_covers_a_panel_s_data_or_leaves_the_figure(measured, monkeypatch, tmp_path):
    figure = drawn(monkeypatch, measured, tmp_path)
    legends = [ax.get_legend() for ax in figure.axes]
    assert all(legends), "chance, calibration and modes are each named"
    for legend in legends:
        box = legend.get_window_extent()
        assert not any(box.overlaps(ax.bbox) for ax in figure.axes), legend.get_texts()[0].get_text()
        assert figure.bbox.x0 <= box.x0 and box.x1 <= figure.bbox.x1 and figure.bbox.y0 <= box.y0 <= box.y1
