"""The ``pathatlas`` command: everything a user does, as subcommands."""

from __future__ import annotations

import inspect
import json
import os
import re
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.padding import Padding
from rich.table import Column, Table
from rich.text import Text

from pathatlas import tesseract
from pathatlas.errors import BadInputError, EncoderMismatchError
from pathatlas.ui.bench_cli import bench_app
from pathatlas.ui.cli_common import (
    DEMO_INDEX,
    ERROR,
    IndexOpt,
    JsonOpt,
    PathAtlasTyper,
    ProgressLines,
    console,
    err_console,
    for_this_index,
    friendly_errors,
    hint,
    named_index,
    print_json,
    progress_shown,
    quiet_mupdf,
    refuse_file_index,
    settings_for,
    terminal_text,
    tolerant_streams,
    user_text,
)
from pathatlas.ui.export_cli import export

if TYPE_CHECKING:  # the records module loads numpy: not for --help
    from rich.status import Status

    from pathatlas.retrieval.index import Index
    from pathatlas.retrieval.records import Hit
    from pathatlas.retrieval.search import Searcher
    from pathatlas.settings import Settings

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def print_version(asked: bool) -> None:
    """``--version``: this PathAtlas, and the index formats it writes and reads (an index written by a newer one is
    refused; one it writes is refused by older ones)."""
    if not asked:
        return
    from pathatlas import __version__
    from pathatlas.retrieval.upgrade import FORMAT_VERSION, READ_FORMATS

    readable = ", ".join(map(str, READ_FORMATS))
    typer.echo(f"pathatlas {__version__} (writes index format {FORMAT_VERSION}, reads formats {readable})")
    raise typer.Exit()


def app_options(
    version: Annotated[
        bool,
        typer.Option("--version", callback=print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    quiet_mupdf()
    tolerant_streams()


app = PathAtlasTyper(
    help="PathAtlas: cross-modal search and agentic RAG for pathology.",
    epilog="New here? 'pathatlas demo' builds a small index and searches it; then 'pathatlas index YOUR.pdf' and "
    "'pathatlas search \"your words\"'. Each command's --help shows examples.",
    no_args_is_help=True,
    callback=app_options,
)
app.add_typer(bench_app, name="bench")


def parse_filters(items: list[str] | None) -> dict[str, object]:
    """``--filter FIELD=VALUE`` pairs. A value is taken whole, commas included ("adenocarcinoma, lung"); the same field
    given again adds an alternative (any may match), and different fields must all match. The fields and kinds are
    those REST takes, checked before any model loads."""
    from pathatlas.ui.filters import parse_filters_form

    values: dict[str, list[str]] = {}
    for item in items or []:
        field, sep, value = item.partition("=")
        if not sep or not field.strip():  # an empty value is refused below in the words every door uses
            raise BadInputError(f"--filter {item!r}: use FIELD=VALUE, e.g. kind=figure or organ=lung")
        values.setdefault(field.strip(), []).append(value.strip())
    try:
        return parse_filters_form(json.dumps({f: v if len(v) > 1 else v[0] for f, v in values.items()}))
    except ValueError as exc:
        raise BadInputError(str(exc)) from exc


FilterOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--filter",
        metavar="FIELD=VALUE",
        help="FIELD=VALUE (kind, source, organ, diagnosis, case, section, chapter); a source by file name or id. "
        "The value is taken whole, commas included; repeat a field for alternatives (organ=lung, then organ=liver).",
    ),
]


INTERRUPTED = (
    "interrupted: the sources committed before it stay indexed, the one in progress is not (the index reads as of its "
    "last commit); run the same command again to go on"
)


class Terminated(KeyboardInterrupt):
    """SIGTERM (systemd, ``docker stop``) raised where the run is, as Ctrl-C raises ``KeyboardInterrupt``: the same
    unwinding keeps the index at its last commit, and the same line says so (the signal ended it without a word)."""


def raise_terminated(_signum: int, _frame: object) -> None:
    raise Terminated


@contextmanager
def terminated_as_interrupted() -> Iterator[None]:
    """SIGTERM raises ``Terminated`` meanwhile."""
    import signal

    previous = signal.signal(signal.SIGTERM, raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@app.command()
@friendly_errors
def index(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="PATH",
            help="PDFs, lecture notes (.md, .qmd, .markdown), folders of them, or case folders (cases.jsonl / "
            "labels.csv). None: every source the index holds, from where it was indexed.",
            show_default=False,
        ),
    ] = None,
    index: IndexOpt = None,
    store: Annotated[
        str | None, typer.Option(help="Vector store for a new index: faiss, qdrant or py:package.module.Class.")
    ] = None,
    encoder: Annotated[
        str | None,
        typer.Option(
            help="Encoder for a new index: default, hf-hub:..., local-dir:..., st:..., py:package.module.Class."
        ),
    ] = None,
    force: Annotated[bool, typer.Option(help="Re-index sources even if unchanged.")] = False,
    as_json: JsonOpt = False,
):
    """Add sources to an index (unchanged files are skipped); without paths, index again its sources that changed.

    A case folder holds images and a cases.jsonl or labels.csv naming each image's case, diagnosis and organ (README,
    "Case folders"). Without --index the index is <PATHATLAS_HOME>/index (~/.pathatlas/index).

    Examples:
        pathatlas index textbook.pdf
        pathatlas index textbook.pdf lectures/ my-cases/ --index ~/atlas
        pathatlas index textbook.pdf --force     # read again, unchanged
        pathatlas index --index ~/atlas          # its sources, where changed
    """
    from pathatlas.indexer.pipeline import Indexer, refuse_case_folder_index
    from pathatlas.retrieval.index import Index
    from pathatlas.retrieval.stores import store_class

    settings = settings_for(index, encoder=encoder)
    store_class(store or settings.store)  # a mistyped name before a path with nothing to index
    refuse_case_folder_index(settings.index_dir)
    if not paths:
        refuse_no_index(settings)
    idx = Index.open(settings.index_dir, settings, create=True, store=store, defer=True)  # kept if a source commits
    told = None if paths or as_json else partial(tell_source, held=len(idx.manifest))  # named as the run reaches it
    lines = None if as_json or progress_shown() else ProgressLines()  # a bar where stderr is a terminal, else lines
    indexer = Indexer(
        idx,
        show_progress=progress_shown(as_json),
        on_source=told,
        on_progress=lines,
        hint_index=named_index(settings),
        skip_copies=True,
    )
    try:
        with terminated_as_interrupted():
            report = indexer.add(paths, force=force) if paths else indexer.add_held(force=force)
    except KeyboardInterrupt as stop:  # typer ends the process with status 130 and says nothing
        err_console.print(INTERRUPTED, highlight=False, soft_wrap=True, markup=False)
        raise typer.Exit(143 if isinstance(stop, Terminated) else 130) from None  # the shell's 128 + the signal
    if as_json:
        print_json([s.to_dict() for s in report.sources])
    elif len(report.sources) > len(report.unfound):  # else nothing was found to index: the error lines say why
        # Paths fold, never cut with "…": a problem names the file the user must find (the copy already indexed).
        table = Table(
            Column("source", overflow="fold"), "status", "entries", "seconds", Column("problems", overflow="fold")
        )
        every_problem = hint(settings, "info", "--problems")
        for s in report.sources:
            colour = {"failed": "red", "unchanged": "dim", "skipped": "dim"}.get(s.status, "green")
            table.add_row(
                terminal_text(s.source),
                f"[{colour}]{s.status}[/{colour}]",
                str(s.entries),
                f"{s.seconds:.1f}",
                terminal_text(
                    "\n".join(s.problems[:3])
                    + (f"\n(+{len(s.problems) - 3} more: {every_problem})" if len(s.problems) > 3 else "")
                ),
            )
        console.print(table)
    for problem in dict.fromkeys(failed.problems[0] for failed in report.failed):  # a full disk fails all alike
        err_console.print(ERROR, terminal_text(problem), soft_wrap=True)
    for note in report.notes:
        err_console.print(note, highlight=False, soft_wrap=True, markup=False)
    if report.failed:
        raise typer.Exit(1)


def refuse_no_index(settings: Settings) -> None:
    """``index`` without paths reads again the sources of an index: where there is none, one line says so (and none
    is made)."""
    from pathatlas.errors import IndexMissingError
    from pathatlas.retrieval.index import META_FILE

    refuse_file_index(settings)
    if not (settings.index_dir / META_FILE).is_file():
        raise IndexMissingError(
            f"no PathAtlas index at {settings.index_dir} to index again: name the PDFs or folders to index "
            f"('{hint(settings, 'index', 'PATH')}')"
        )


def tell_source(key: str, number: int, total: int, held: int) -> None:
    """The progress line of ``index`` without paths as it reaches each source (on stderr, stdout keeping the table).
    Where fewer than the index's ``held`` sources are read (one not found on disk: ``not_reindexable``), the first line
    says so: "(1/5)" alone read as if the index held five sources, not six."""
    if number == 1 and total < held:
        unread = held - total
        err_console.print(
            f"reading {total} of the index's {held} sources; {unread} cannot be read again (listed below)",
            highlight=False,
            soft_wrap=True,
        )
    err_console.print(Text.assemble(f"({number}/{total}) ", terminal_text(key)), highlight=False, soft_wrap=True)


@app.command()
@friendly_errors
def search(
    text: Annotated[str | None, typer.Argument(metavar="TEXT", help="What to look for (quote several words).")] = None,
    image: Annotated[Path | None, typer.Option(help="Find pages, figures and cases like this image.")] = None,
    index: IndexOpt = None,
    k: Annotated[int, typer.Option("--k", "-k", help="Number of hits.")] = 10,
    filter: FilterOpt = None,
    as_json: JsonOpt = False,
):
    """Search by text, by image, or both.

    Examples:
        pathatlas search "koilocytes in cervical epithelium"
        pathatlas search "granuloma with giant cells" --filter kind=figure -k 5
        pathatlas search --image slide.jpg --filter organ=lung
        pathatlas search "osteoclast" --json | jq -r '.[].citation.label'
    """
    from pathatlas.retrieval.index import Index
    from pathatlas.retrieval.search import Query, Searcher
    from pathatlas.ui.hits import check_k
    from pathatlas.ui.library import image_file_named, image_of

    if image is None and image_file_named(text):
        raise BadInputError(f"{text.strip()!r} is an image file, not words to look for: give it with --image {text}")
    settings = settings_for(index)
    query = Query(text=user_text(text, settings), k=check_k(k), filters=parse_filters(filter))  # every door's limit
    if image is not None:
        query.image = image_of(image, settings.max_image_pixels)
    query.validate()
    idx = Index.open(settings.index_dir, settings)
    found = Searcher(idx).find(query)  # which resolves the filters: a source's name, a chapter
    print_warnings(word_warnings([(named("query", query.text), query.text)] if query.text else [], idx))
    if not idx.manifest:  # "no hits" blamed the query
        print_warnings([f"nothing is indexed at {idx.path} yet: run '{hint(settings, 'index', 'PATH')}' first"])
    hits = found.hits
    if found.image_words:  # what the image's own words added (stderr: --json keeps stdout JSON alone)
        err_console.print(f"words read in the image: {found.image_words}", highlight=False, markup=False)
    if as_json:
        from pathatlas.ui.hits import hit_records

        print_json(hit_records(hits, found.marked_words(query.text)))  # one JSON form, as REST and MCP give it
        return
    console.print(hits_table(hits, found.marked_words(query.text)) if hits else "no hits")


STACKED_BELOW = 100
"""Terminals narrower than this many columns get the hits table in three columns, kind and relevance under the
citation: five columns in 80 left the snippet 22 characters, and in 60 cut its words ("undifferent…")."""


def hits_table(hits: list[Hit], query: str | None = None) -> Table:
    """Ranked hits for a reader, relevance worded as ``--json`` and REST word it for the words ``query`` searched.
    Book text is ``terminal_text``: Rich would take "[see below]" for markup and drop it. A citation folds rather than
    ending in "…" ("images/DEMO-01-2.j…"): it is what the reader looks up."""
    from pathatlas.ui.hits import hit_records

    stacked = console.width < STACKED_BELOW
    citation = Column("citation", overflow="fold", max_width=console.width // 3 if stacked else None)
    table = Table("#", *([] if stacked else ["relevance", "kind"]), citation, "snippet", show_lines=True)
    for hit, shown in zip(hits, hit_records(hits, query), strict=True):
        relevance = Text.assemble(shown["relevance"], "\n", (shown["why"], "dim"))
        printed = terminal_text(f"\nprinted: {hit.payload.ocr}", "dim") if hit.payload.ocr else ""  # a figure's labels
        snippet = Text.assemble(terminal_text(hit.snippet), printed)
        cited = terminal_text(hit.label())
        about = (
            [Text.assemble(cited, "\n", (hit.kind, "italic"), ": ", relevance)]
            if stacked
            else [relevance, hit.kind, cited]
        )
        table.add_row(str(shown["rank"]), *about, snippet)
    return table


EXAM_LABEL = re.compile(
    r"""^(\()?([A-Za-z]|[1-9][0-9]?)
    (?(1)\)                   # "(A) Melanoma", "(3) Smooth"
    |(?:\)|\.(?!\s+[a-z])))  # "A) Melanoma", "A. Melanoma"; not "C. difficile", whose letter is a genus's initial
    \s+(?=\S)""",
    re.VERBOSE,
)
"""An option's label pasted with it from an exam: "A) Melanoma", "(A) Melanoma", "(1) Melanoma", or "A. Melanoma"
where no lower-case word follows the dot ("E. coli O157" as option E is its whole text)."""


def parse_options(items: list[str] | None) -> list[str]:
    """``--option A=text`` in any order (letters must run A, B, C...), or plain ``--option text`` in order, where a
    pasted label of its own place ("B) Eczema" as the second) is dropped, as every option's is when all are labelled
    in order. A letter given twice, as ``A=`` or pasted ("A) bone", "A) cartilage"), is refused: the later text
    silently replaced the earlier, or was asked with the label as its text."""
    from pathatlas.agent.questions import LETTERS, labelled_in_order, unlabelled

    if labelled_in_order(texts := [item.strip() for item in items or []]):
        return unlabelled(texts)
    options: dict[int, str] = {}
    pasted: dict[str, str] = {}  # each pasted label's letter: the text it labels
    for n, item in enumerate(texts):
        letter, sep, text = item.partition("=")
        if sep and len(letter.strip()) == 1 and letter.strip().upper() in LETTERS:
            place, text = LETTERS.index(letter.strip().upper()), text.strip()
        else:
            if label := EXAM_LABEL.match(item):
                said, labelled = label[2].upper(), item[label.end() :]
                if said in pasted:
                    raise given_twice(said, pasted[said], labelled)
                pasted[said] = labelled
            place, text = n, without_own_label(item, n)
        if place in options:
            raise given_twice(LETTERS[place], options[place], text)
        options[place] = text
    if sorted(options) != list(range(len(options))):
        raise BadInputError(
            f"--option letters must run A, B, C... without gaps; got {', '.join(LETTERS[i] for i in sorted(options))}"
        )
    return [options[i] for i in range(len(options))]


def given_twice(letter: str, first: str, second: str) -> BadInputError:
    """The one line refusing a letter given twice, naming both texts."""
    return BadInputError(f"--option {letter} is given twice ({first!r} and {second!r}): give each letter once")


def without_own_label(option: str, place: int) -> str:
    """``option`` without a pasted exam label naming its ``place`` ("A) Melanoma" or "(1) Melanoma" as option A is
    "Melanoma"); a label naming another place is kept, as it may be the option's own text."""
    from pathatlas.agent.questions import label_place

    label = EXAM_LABEL.match(option)
    return option[label.end() :] if label and label_place(label) == place else option


NAMED_CHARS = 40
"""How much of a text a warning about one of its words quotes: each line quoted a pasted 4,000-character vignette
whole."""


def named(kind: str, text: str) -> str:
    """How a warning names the text its word is in: ``kind`` and the text, its first ``NAMED_CHARS`` characters and an
    ellipsis where it is longer ("query 'A 54-year-old man presents with painless…'")."""
    shown = text if len(text) <= NAMED_CHARS else text[:NAMED_CHARS].rstrip() + "…"
    return f"{kind} {shown!r}"


def word_warnings(texts: list[tuple[str, str]], idx: Index) -> list[str]:
    """One line per word of each named text (``(name, text)``) no indexed text holds (``words.unknown_words``), naming
    the indexed words it may have meant as REST, MCP and the web UI name them (a --filter value's looser refusal
    offered "blue" for "goblet", and listed any indexed words where none was close)."""
    from pathatlas.ui.words import unknown_words

    def warning(unknown) -> str:
        closest = f"; closest: {', '.join(map(repr, unknown.closest))}" if unknown.closest else ""
        return f"{unknown.field}: no indexed word {unknown.word!r} in index {idx.path}{closest}"

    return [warning(unknown) for unknown in unknown_words(texts, idx)]


def print_warnings(warnings: list[str]) -> None:
    """Warnings on stderr, one line each: --json's stdout stays JSON."""
    for warning in warnings:
        err_console.print(Text.assemble(("warning:", "yellow"), " ", terminal_text(warning)), soft_wrap=True)


@app.command()
@friendly_errors
def ask(
    question: Annotated[
        str,
        typer.Argument(
            metavar="QUESTION",
            help="The question (a vignette, 'Which ...?'), in quotes; none with --image asks what the image shows.",
        ),
    ] = "",
    option: Annotated[
        list[str] | None, typer.Option("--option", metavar="A=TEXT", help="An option, as A=text (repeat).")
    ] = None,
    image: Annotated[Path | None, typer.Option(help="An image the question is about.")] = None,
    index: IndexOpt = None,
    answerer: Annotated[
        str | None, typer.Option(help="offline (default), llm (PATHATLAS_LLM_* settings) or py:package.module.Class.")
    ] = None,
    rounds: Annotated[
        int | None, typer.Option(min=1, help="Search rounds the agent may take (default: 1, PATHATLAS_AGENT_ROUNDS).")
    ] = None,
    trace: Annotated[bool, typer.Option(help="Show the agent's steps.")] = False,
    filter: FilterOpt = None,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print the answer, its evidence and the agent's steps as JSON instead of text."),
    ] = False,
):
    """Answer a question with cited evidence: plan, search in several turns, weigh, answer.

    With --filter the evidence comes from those records only (e.g. source=book.pdf).

    Examples:
        pathatlas ask "What resorbs bone?" --option A=neuron --option B=osteoclast
        pathatlas ask "What do koilocytes show?" --filter source=book.pdf --trace
        pathatlas ask --image slide.png --option A=granuloma --option B=fibrosis
    """
    with err_console.status("loading PathAtlas") as status:  # on stderr, erased when done: --json's stdout stays JSON
        from pathatlas.agent.document import answer_record  # seconds of imports: within the status
        from pathatlas.agent.graph import Agent
        from pathatlas.agent.questions import LETTERS, Question, with_pasted_options
        from pathatlas.retrieval.index import Index
        from pathatlas.ui.library import image_of

        settings = settings_for(index, answerer=answerer, agent_rounds=rounds)
        pasted = question
        question, texts, from_question = with_pasted_options(question, parse_options(option))
        options = [user_text(o, settings, f"option {LETTERS[j]}") for j, o in enumerate(texts)]
        if options and not question.strip() and image is None:  # with an image: which option it shows (validate)
            raise BadInputError("the question is empty: give its text before its options, or an --image")
        if from_question:  # said once the question is taken: not above the refusal of a blank one
            err_console.print(pasted_note(pasted, len(texts)), highlight=False)
        picture = image_of(image, settings.max_image_pixels) if image else None
        q = Question(user_text(question, settings, "the question"), options, picture, filters=parse_filters(filter))
        q.validate()
        status.update("opening the index")
        idx = Index.open(settings.index_dir, settings)
        print_warnings(word_warnings([(named(f"option {LETTERS[j]}", o), o) for j, o in enumerate(options)], idx))
        answered = Agent.from_settings(searcher_telling(idx, status), settings).ask(q)
        result = answer_record(answered, idx.store, from_question)
    if as_json:
        from pathatlas.ui.words import asked_texts, unknown_words_json

        print_json({**result, "unknown_words": unknown_words_json(asked_texts(q.text, options), idx)})  # as REST's
        return
    print_answer(result, trace)


def pasted_note(pasted: str, n: int) -> str:
    """The stderr line saying that the options were read from a pasted question's lines, and that they were numbered
    where they were ("(1) Skeletal" is A)."""
    from pathatlas.agent.questions import ANY_LABEL, LETTERS, unfolded

    last = ANY_LABEL.match(unfolded(pasted).strip().splitlines()[-1].strip())
    numbered = f" (numbered 1-{n})" if last and last[2].isdigit() else ""
    return f"options A-{LETTERS[n - 1]} read from the question's lines{numbered}"


def searcher_telling(index: Index, status: Status) -> Searcher:
    """A ``Searcher`` saying on ``status`` what an ask is doing (it takes seconds): which round of searches runs, then
    that the evidence is weighed."""
    from pathatlas.retrieval.search import Searcher

    class Telling(Searcher):
        rounds = 0

        def search_many(self, queries):
            self.rounds += 1
            searches = f"{len(queries)} search" + ("es" if len(queries) > 1 else "")
            status.update(f"searching the index: round {self.rounds}, {searches}")
            hits = super().search_many(queries)
            status.update("weighing the evidence")
            return hits

    return Telling(index)


STANCE_COLOURS = {"supports": "green", "contradicts": "red", "related": "dim"}


def print_answer(result: dict, trace: bool = False) -> None:
    """The answer, whether the evidence settles it, then each option (the chosen first) with its quotes. A choice the
    evidence does not settle is only leant to, with no confidence beside it (an unsettled 0.91 read as a sure answer);
    a choice among options scored alike is no lean but a tie, and the first line names them all (True/False printed
    "leaning to B. False", only the first by its words). An open answer left unsettled is the nearest sentence to the
    question, or the similar cases' diagnosis (``diagnosed_by_cases``), leant to as a choice is (it was headed "nearest
    sentence"). The options' scores say they rank the options, not how sure the answer is. What the model and the
    books wrote is ``terminal_text``."""
    from pathatlas.agent.writing import tied_named
    from pathatlas.ui.present import diagnosed_by_cases, quote_about

    chosen = result["choice"]
    label = f"{result['options'][chosen]['label']}. " if chosen is not None else ""
    shown = terminal_text(label + result["answer"]) or Text("none", "dim")  # an open question left unanswered
    unanswered = result["answer"] and not (result["settled"] or result["options"])  # an open question's
    diagnosed = unanswered and diagnosed_by_cases(result)  # the similar cases' diagnosis, no sentence
    heading = "nearest sentence" if unanswered else "answer"
    tie = [j for j, option in enumerate(result["options"]) if option["label"] in result["tied"]]
    if tie:
        named = terminal_text(tied_named([o["text"] for o in result["options"]], tie))
        console.print(Text.assemble(("tie of", "bold"), " ", named, ("  (no lean)", "dim")))
    elif diagnosed or (chosen is not None and not result["settled"]):
        console.print(Text.assemble(("leaning to", "bold"), " ", shown))
    else:
        console.print(Text.assemble((heading, "bold"), " ", shown, f"  (confidence {result['confidence']:.2f})"))
    if not result["settled"]:
        console.print("[yellow]the evidence does not settle this[/yellow]")
    console.print(terminal_text(result["rationale"], "dim"))
    if any(option["score"] is not None for option in result["options"]):
        console.print("[dim]options, each with its score: how the answerer ranks it, not the chance it is right[/dim]")
    order = sorted(result["options"], key=lambda o: o["label"] != (label[:1] or None))
    for option in order:
        mark = (">", "bold green") if label and option["label"] == label[:1] else " "
        score = (f"  (score {option['score']:.2f})", "dim") if option["score"] is not None else ""
        console.print(Text.assemble(mark, f" {option['label']}. ", terminal_text(option["text"]), score))
        for quote in option["evidence"]:
            colour = STANCE_COLOURS.get(quote["stance"], "red")
            box = f", bbox {quote['citation']['bbox']}" if quote["citation"]["bbox"] else ""
            about = (f" ({about})", "dim") if (about := quote_about(quote, option["label"])) else ""
            cited = terminal_text(f"({quote['citation']['label']}{box})", "dim")
            stance = terminal_text(quote["stance"], colour)
            quoted = Text.assemble(stance, about, ' "', terminal_text(quote["quote"]), '" ', cited)
            console.print(Padding(quoted, (0, 0, 0, 4), expand=False))  # wrapped lines stay under their option
        if not option["evidence"]:
            console.print("    [dim](no sentence in the evidence names it)[/dim]")
    if not result["options"]:
        for n, c in enumerate(result["citations"], start=1):
            console.print(Text.assemble(f"  [{n}] ", terminal_text(c["label"])))
    if trace:
        for step in result["trace"]:
            said = Text.assemble(terminal_text(str(step["step"]), "cyan"), " ", terminal_text(trace_line(step)))
            console.print(said, soft_wrap=True)  # a step a line, its JSON unbroken where it is copied


TRACE_FIELD_CHARS = 400
"""About the most characters ``--trace`` shows of one field of an agent's step (``shortened``); ``--json`` keeps it
whole."""


def trace_line(step: dict) -> str:
    """An agent's step as ``--trace`` prints it after its name: each other field as ``field=JSON``, ``shortened``. The
    step cut at 400 characters ended mid-JSON, and a search's hits, its longest field, came last: none showed."""
    return " ".join(
        f"{name}={json.dumps(shortened(value, TRACE_FIELD_CHARS), ensure_ascii=False)}"
        for name, value in step.items()
        if name != "step"
    )


def shortened(value: object, room: int) -> object:
    """``value`` shown in about ``room`` characters of JSON, still JSON: a text cut with "…", a list's first items that
    fit then "+N more" (at least one kept), a mapping's values shortened alike."""
    if isinstance(value, str):
        return value if len(value) <= room else value[: room - 1] + "…"
    if isinstance(value, dict):
        return {name: shortened(item, room) for name, item in value.items()}
    if not isinstance(value, list):
        return value
    kept: list[object] = []
    used = 0
    for item in value:
        item = shortened(item, room)
        used += len(json.dumps(item, ensure_ascii=False)) + 2
        if kept and used > room:
            return [*kept, f"+{len(value) - len(kept)} more"]
        kept.append(item)
    return kept


ROOT_PATH_VARIABLE = "PATHATLAS_ROOT_PATH"


def root_path_given(root_path: str) -> str:
    """``serve``'s root path as it was given, for its refusal: ``PATHATLAS_ROOT_PATH='atlas'`` where the environment
    holds it (a unit file's, a container's), as a setting's refusal names its variable; else ``--root-path 'atlas'``,
    which named an option the admin never passed."""
    if os.environ.get(ROOT_PATH_VARIABLE) == root_path:
        return f"{ROOT_PATH_VARIABLE}={root_path!r}"
    return f"--root-path {root_path!r}"


@app.command()
@friendly_errors
def serve(
    index: IndexOpt = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    insecure: Annotated[
        bool, typer.Option(help="Allow listening beyond loopback without PATHATLAS_API_TOKEN (writes open to all).")
    ] = False,
    root_path: Annotated[
        str,
        typer.Option(
            envvar=ROOT_PATH_VARIABLE,
            help="The path prefix a reverse proxy serves the API under, e.g. /atlas: media URLs in answers carry it.",
        ),
    ] = "",
    proxy_headers: Annotated[
        bool,
        typer.Option(help="Take the client's address and scheme from X-Forwarded-For and -Proto of trusted proxies."),
    ] = True,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(help="Proxies whose X-Forwarded headers are trusted: addresses, comma-separated, or '*'."),
    ] = None,
    header_timeout: Annotated[
        float,
        typer.Option(help="Seconds a connection may take to send a request's line and headers before it is closed."),
    ] = 10.0,
    body_timeout: Annotated[
        float,
        typer.Option(help="Seconds a request body may pause between chunks before it is answered 408."),
    ] = 30.0,
    limit_concurrency: Annotated[
        int,
        typer.Option(help="Open connections beyond which a request is answered 503 at once (no fd runs out)."),
    ] = 1000,
):
    """Run the REST API (OpenAPI docs at /docs).

    Examples:
        pathatlas serve --index ~/atlas     # then open http://127.0.0.1:8000/docs
        pathatlas serve --root-path /atlas  # behind a proxy at your.host/atlas
        PATHATLAS_API_TOKEN=long-secret pathatlas serve --host 0.0.0.0 --port 8080
    """
    import uvicorn

    from pathatlas.indexer.pipeline import refuse_case_folder_index
    from pathatlas.ui.api.app import create_app
    from pathatlas.ui.api.engine import Engine
    from pathatlas.ui.listening import ensure_listenable
    from pathatlas.ui.serving import HeaderDeadline, raise_open_file_limit

    settings = settings_for(index)
    if not settings.api_token and not insecure and not is_loopback(host):
        raise BadInputError(f"--host {host} listens beyond this machine: set PATHATLAS_API_TOKEN (or pass --insecure)")
    if root_path and not root_path.startswith("/"):
        raise BadInputError(f"{root_path_given(root_path)}: give the prefix from its first slash, e.g. /atlas")
    if not 0 < port < 1 << 16:  # uvicorn's OverflowError was a traceback, once the index had opened
        raise BadInputError(f"--port {port}: give a port of 1-65535, e.g. 8000")
    # Checked here, not as ranges in --help (each squeezed every option's text); "not > 0" refuses nan too.
    limits = {
        "--header-timeout": header_timeout,
        "--body-timeout": body_timeout,
        "--limit-concurrency": limit_concurrency,
    }
    if not all(value > 0 for value in limits.values()):
        given = " ".join(f"{option} {value:g}" for option, value in limits.items())
        example = "--header-timeout 10 --body-timeout 30 --limit-concurrency 1000"
        raise BadInputError(f"{given}: give numbers above 0, e.g. {example}")
    refuse_case_folder_index(settings.index_dir)  # its uploads' index, before one is written there
    ensure_listenable(host, port)  # uvicorn said "address already in use" among INFO lines, once the index opened
    if notice := new_index_notice(settings.index_dir):
        err_console.print(notice, highlight=False, markup=False, soft_wrap=True)
    engine = Engine(settings)  # before listening: an index that cannot be opened is one error line, not uvicorn's
    served = create_app(settings, engine, body_timeout)
    raise_open_file_limit()  # logged through the ``pathatlas`` logger that create_app set up
    uvicorn.run(
        served,
        host=host,
        port=port,
        root_path=root_path.rstrip("/"),
        proxy_headers=proxy_headers,
        forwarded_allow_ips=forwarded_allow_ips,  # None: uvicorn's default (FORWARDED_ALLOW_IPS, else 127.0.0.1)
        log_config=uvicorn_logging(settings),
        limit_concurrency=limit_concurrency,  # counts idle connections too, each until its header deadline
        http=partial(HeaderDeadline, header_timeout=header_timeout),  # h11 whether or not httptools is installed
    )


def uvicorn_logging(settings: Settings) -> dict:
    """The service's logging, written as ``PATHATLAS_LOG_FORMAT`` says (text, or JSON lines a collector reads): errors
    on stderr, uvicorn's and the ``pathatlas`` logger's alike; on stdout one access line per request, ``RequestIds``'s
    (uvicorn's, which held the query string and no request id, is off). Each line logged while a request runs carries
    its id (``RequestIdLogs``), so a failure's error line is tied to its access line. asyncio's errors are written as
    the rest (they were bare lines); a flood of connections' repeated lines, asyncio's failures to accept one and
    uvicorn's 503s over the concurrency limit, once a minute (``RepeatsThrottled``)."""
    from pathatlas.settings import TEXT_LOG
    from pathatlas.ui.serving import ACCEPT_FAILED, OVER_CONCURRENCY

    json_lines = {"()": "pathatlas.settings.JsonLines"}
    text = settings.log_format == "text"
    stream = {"class": "logging.StreamHandler", "filters": ["request_id"]}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {"()": "pathatlas.ui.api.deps.RequestIdLogs"},
            "accept_failures": {"()": "pathatlas.ui.serving.RepeatsThrottled", "prefix": ACCEPT_FAILED},
            "over_concurrency": {"()": "pathatlas.ui.serving.RepeatsThrottled", "prefix": OVER_CONCURRENCY},
        },
        "formatters": {
            "lines": {"()": "pathatlas.ui.api.deps.RequestTagged", "fmt": TEXT_LOG} if text else json_lines,
            "access": {"format": TEXT_LOG} if text else json_lines,  # its message names its request
        },
        "handlers": {
            "default": {**stream, "formatter": "lines", "stream": "ext://sys.stderr"},
            "access": {**stream, "formatter": "access", "stream": "ext://sys.stdout"},
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO", "filters": ["over_concurrency"]},
            "uvicorn.access": {"handlers": [], "propagate": False},  # no handler: uvicorn skips its access lines
            "pathatlas": {"handlers": ["default"], "level": settings.log_level},
            "pathatlas.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
            "asyncio": {
                "handlers": ["default"],
                "level": "WARNING",
                "propagate": False,
                "filters": ["accept_failures"],
            },
        },
    }


def new_index_notice(index_dir: Path) -> str | None:
    """What ``serve`` says when it starts on no index: a mistyped --index serves an empty library, which its
    searches alone would not explain. None where there is an index, or a file in its place, which opening the index
    refuses in its own line: "serving an empty one" just before that refusal said the opposite."""
    from pathatlas.retrieval.index import META_FILE

    if (index_dir / META_FILE).is_file() or (index_dir.exists() and not index_dir.is_dir()):
        return None
    return (
        f"no index at {index_dir} yet: serving an empty one (add sources with POST /jobs, the web UI's Library, or "
        "'pathatlas index'; is --index what you meant?)"
    )


def is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@app.command()
@friendly_errors
def mcp(
    index: IndexOpt = None,
    http: Annotated[
        str | None, typer.Option(help="Serve Streamable HTTP at HOST:PORT (path /mcp) instead of stdio.")
    ] = None,
    allow_dir: Annotated[
        list[Path] | None,
        typer.Option(
            "--allow-dir",
            metavar="FOLDER",
            help="A folder whose images search_image and ask may read by path (repeat).",
        ),
    ] = None,
    insecure: Annotated[
        bool, typer.Option(help="Allow --http beyond loopback, where every client may search and ask unchecked.")
    ] = False,
):
    """Serve the index to other agents over the Model Context Protocol (stdio by default).

    Tools: search, search_image, ask, get_page; thumbnails as resources pathatlas://thumbnails/{id}.
    Nothing is written to the index.

    Examples:
        pathatlas mcp --index ~/atlas        # on stdio (a client starts it)
        pathatlas mcp --http 127.0.0.1:8765  # Streamable HTTP, at path /mcp
        pathatlas mcp --allow-dir ~/slides   # tools read images there by path

    Add it to an MCP client's configuration (Claude Desktop, Cursor...):

    \b
        {"mcpServers": {"pathatlas": {
            "command": "pathatlas",
            "args": ["mcp", "--index", "/path/to/index"]}}}

    From LangChain, without MCP:

    \b
        from pathatlas.ui.langchain import PathAtlasRetriever
        retriever = PathAtlasRetriever.from_index("/path/to/index", k=4)
        docs = retriever.invoke("koilocytes")
        print(docs[0].page_content, docs[0].metadata["citation"]["label"])
        search, ask = retriever.as_tools()
    """
    from pathatlas.ui.mcp_server import parse_http, serve

    if http and not insecure and not is_loopback(parse_http(http)[0]):
        raise BadInputError(
            f"--http {http} listens beyond this machine and MCP asks no token (PATHATLAS_API_TOKEN guards only "
            "'pathatlas serve'): use 127.0.0.1:PORT (or pass --insecure)"
        )
    serve(settings_for(index), http, allow_dir)


READ_ONLY_ENV = "PATHATLAS_UI_READ_ONLY"
"""Set to 1 by ``pathatlas ui`` beyond loopback: the web UI's Library shows its sources without add or remove."""


STREAMLIT_OPTIONS = {
    "server.headless": "true",
    "browser.gatherUsageStats": "false",
    "client.toolbarMode": "minimal",  # students see the app, not Streamlit's developer menu and Deploy button
    # No watching the app's files: a change under a running UI (pip install -U) showed students Streamlit's "File
    # change. Rerun / Always rerun" banner, and a rerun would mix the old modules with new ones. Restart to update.
    "server.fileWatcherType": "none",
    "server.runOnSave": "false",
    # A failure the app did not catch: its type and Streamlit's generic sentence, not a traceback naming this
    # server's paths, nor links to search the web for it (the traceback goes to this command's terminal)
    "client.showErrorDetails": "type",
    "client.showErrorLinks": "false",
}
"""The Streamlit settings of a deployment for students (``streamlit_command``), as ``streamlit run`` takes them."""


def streamlit_command(port: int, host: str = "127.0.0.1") -> list[str]:
    """The command that serves the web UI on ``host``:``port`` (``pathatlas ui``, and the browser tests run the same)
    with ``STREAMLIT_OPTIONS``: Streamlit itself listens on every interface unless told, and takes uploads up to its
    own 200 MB, which its uploaders said whatever the API refused: here up to ``PATHATLAS_MAX_UPLOAD_MB``, as the API
    takes them."""
    from pathatlas.settings import load_settings

    options = {
        **STREAMLIT_OPTIONS,
        "server.port": str(port),
        "server.address": host,
        "server.maxUploadSize": str(load_settings().max_upload_mb),
    }
    flags = [part for name, value in options.items() for part in (f"--{name}", value)]
    return [sys.executable, "-m", "streamlit", "run", str(Path(__file__).with_name("streamlit_app.py")), *flags]


@app.command()
@friendly_errors
def ui(
    index: IndexOpt = None,
    api: Annotated[str | None, typer.Option(help="URL of a running 'pathatlas serve' (default: in process).")] = None,
    port: Annotated[int, typer.Option(help="Port of the web UI.")] = 8501,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    insecure: Annotated[
        bool, typer.Option(help="Offer the Library's add and remove beyond loopback (visitors write as this UI).")
    ] = False,
):
    """Open the web UI (Streamlit): search, ask, library.

    Beyond loopback (--host 0.0.0.0: a class shares it) the Library is read-only unless --insecure: every visitor's
    write would reach the API as this UI, with its PATHATLAS_API_TOKEN.

    Examples:
        pathatlas ui --index ~/atlas              # open http://localhost:8501
        pathatlas ui --api http://127.0.0.1:8000  # on a running 'pathatlas serve'
        pathatlas ui --host 0.0.0.0 --port 8600   # for a class: Library read-only
    """
    import signal
    import subprocess

    from pathatlas.settings import load_settings
    from pathatlas.ui.listening import ensure_listenable

    load_settings(**({"api_url": api} if api else {}))  # a bad value in one line here, not on the page Streamlit shows
    env = dict(os.environ)
    if not is_loopback(host) and not insecure:
        env[READ_ONLY_ENV] = "1"
        err_console.print(
            f"--host {host}: the Library is read-only to visitors (no add or remove); pass --insecure to offer them",
            highlight=False,
            soft_wrap=True,
        )
    if index is not None:
        env["PATHATLAS_INDEX"] = str(index)
    if api:
        env["PATHATLAS_API_URL"] = api
    ensure_listenable(host, port)  # Streamlit said "Port 8501 is not available" in a timestamped line of its own
    child = subprocess.Popen(streamlit_command(port, host), env=env)
    # SIGTERM (kill, a service manager) or SIGHUP (the terminal closed) stops Streamlit too: it is not ours to orphan
    forwarded = [s for s in (signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s is not None]
    previous = {s: signal.signal(s, lambda signum, _frame: child.send_signal(signum)) for s in forwarded}
    try:
        code = child.wait()
    finally:
        for forwarded_signal, handler in previous.items():
            signal.signal(forwarded_signal, handler)
        if child.poll() is None:  # Ctrl-C or an error here: Streamlit stops with this process
            child.terminate()
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
    raise typer.Exit(128 - code if code < 0 else code)  # killed by signal N: the shell's 128 + N


@app.command()
@friendly_errors
def info(
    index: IndexOpt = None,
    as_json: JsonOpt = False,
    list_problems: Annotated[
        bool, typer.Option("--problems", help="List every problem found in each source (a skipped image, a bad row).")
    ] = False,
):
    """What an index holds: encoder, store, counts, sources, and which PathAtlas wrote it.

    Examples:
        pathatlas info --index ~/atlas
        pathatlas info --problems       # every problem found in each source
    """
    from pathatlas.indexer.sources.fingerprints import reader_versions, unloaded_reader
    from pathatlas.retrieval.index import Index, lexical_file
    from pathatlas.retrieval.lexical import SavedTerms
    from pathatlas.retrieval.ocr import engine_name
    from pathatlas.retrieval.terms import TERMS_VERSION
    from pathatlas.ui.library import source_states

    settings = settings_for(index)
    with Index.open(settings.index_dir, settings) as idx:
        stats = idx.stats()
        stats["store_placement"] = idx.store.placement
        sources = source_states(idx, settings)
        saved = SavedTerms.read(idx.path / "lexical", lexical_file(idx.generation.lexical))
        upgrade = idx.upgrade(reader_versions(settings))
    stats["ocr"] = {"figures": settings.figure_ocr, "queries": settings.query_ocr, "engine": engine_name()}
    stats["bm25"] = (
        {
            "terms_version": saved.version,
            "languages": ["english", *saved.languages],
            "searched_in": ["english", *settings.languages],
            "read_again": (saved.version, saved.languages) != (TERMS_VERSION, settings.languages),
        }
        if saved
        else None
    )
    states = {key: entry["on_disk"] for key, entry in sources.items()}
    if as_json:
        print_json({**stats, "sources": sources, "upgrade": upgrade and upgrade.to_json()})
        return
    console.print(f"index   {stats['index']}", highlight=False, soft_wrap=True)
    line = f"encoder {stats['encoder']}  store {stats['store_placement']}  dims {counted(stats['dims'])}"
    console.print(line, highlight=False, markup=False, soft_wrap=True)  # a URL or collection name as it is
    console.print(f"writer  {writer_line(stats)}", highlight=False)
    console.print(f"ocr     {ocr_line(**stats['ocr'])}", highlight=False)
    if bm25 := stats["bm25"]:
        line = f"bm25    {bm25_line(bm25, TERMS_VERSION, idx.path)}"
        console.print(line, highlight=False, markup=False, soft_wrap=True)  # its command stays one line to paste
    if stats["revisions"]:
        console.print("models  " + ", ".join(f"{space}: {model}" for space, model in stats["revisions"].items()))
    kinds = f" ({counted(stats['kinds'])})" if stats["kinds"] else ""  # an empty index: "records 0", not "0 ()"
    console.print(f"records {stats['records']}{kinds}  vectors {counted(stats['vectors'])}")
    table = Table(Column("source", overflow="fold"), "kind", "entries", "problems", "on disk")
    shown = {"ok": "ok", "changed": "[yellow]changed[/yellow]", "missing": "[red]missing[/red]", "unknown": "?"}
    for key, entry in stats["sources"].items():
        problems = str(len(entry.get("problems", [])))
        table.add_row(terminal_text(key), entry["kind"], str(entry["entries"]), problems, shown[states[key]])
    console.print(table)
    if changed := sum(state == "changed" for state in states.values()):
        console.print(
            f"{changed} source(s) changed on disk since they were indexed: their pages and images are not shown until "
            "they are indexed again"
        )
    if missing := [key for key, state in states.items() if state == "missing"]:
        console.print(missing_line(missing, stats["sources"], settings), highlight=False, markup=False, soft_wrap=True)
    for key, entry in stats["sources"].items():
        if unloaded := unloaded_reader(entry, settings):
            console.print(Text.assemble(terminal_text(key), f": {unloaded}"))
    if upgrade:
        console.print(
            f"upgrade written by an older PathAtlas: {'; '.join(upgrade.reasons())}; {upgrade.advice()}",
            highlight=False,
            markup=False,
            soft_wrap=True,  # the command stays one line to paste
        )
    found = {key: entry.get("problems", []) for key, entry in stats["sources"].items() if entry.get("problems")}
    if list_problems:
        for key, listed in found.items():
            console.print(Text.assemble(terminal_text(key, "bold"), f": {len(listed)} problem(s)"))
            for problem in listed:
                console.print(Text.assemble("  ", terminal_text(problem)))
    elif found:
        count = sum(map(len, found.values()))
        line = f"{count} problem(s) found while indexing: {hint(settings, 'info', '--problems')}"
        console.print(line, highlight=False, markup=False, soft_wrap=True)  # its command stays one line to paste


def missing_line(missing: list[str], manifest: dict, settings: Settings) -> str:
    """What ``info`` says of the sources ``missing`` on disk: indexed where they are now they come back, and the
    commands that drop the old ones, to paste (``hint``)."""
    from pathatlas.indexer.pipeline import removal_name

    removals = "; ".join(f"'{hint(settings, 'remove', removal_name(manifest, key))}'" for key in missing)
    return (
        f"{len(missing)} source(s) missing on disk (moved or deleted): indexing them at a new place adds them again; "
        f"then drop the old ones: {removals}"
    )


def writer_line(stats: dict) -> str:
    """Which PathAtlas made the last commit of the index ``stats`` describe (``Index.stats``). One with no commit yet,
    whose first ``index`` run is under way (or was stopped before its first commit), says so: "a PathAtlas not
    recording its version" read as an index an old version wrote."""
    if stats["written_by"]:
        return f"PathAtlas {stats['written_by']} (index format {stats['format']})"
    if not stats["generation"] and not stats["sources"]:
        return "none yet: nothing committed (a first index run is under way, or was stopped before its first commit)"
    return f"a PathAtlas not recording its version (index format {stats['format']})"


def counted(counts: dict[str, int]) -> str:
    """Counts by name as a reader reads them ("page 998, figure 720"), not as a Python dict ("{'page': 998, ...}")."""
    return ", ".join(f"{name} {count}" for name, count in counts.items())


def ocr_line(figures: bool, queries: bool, engine: str | None) -> str:
    """Whose printed words this machine reads (settings ``figure_ocr``, ``query_ocr``), and with what."""
    if engine is None:
        return f"off: tesseract is not installed ({tesseract.INSTALL_HINT})"
    read = " and ".join(name for name, on in (("figures", figures), ("image queries", queries)) if on)
    if not read:
        return f"off (PATHATLAS_FIGURE_OCR=0, PATHATLAS_QUERY_OCR=0); {engine} is installed"
    return f"{read}, by {engine}"


def bm25_line(bm25: dict, terms_version: int, index_path: Path) -> str:
    """The languages an index's BM25 was read in (``PATHATLAS_LANGUAGES`` where it was written), and what a search
    here does where its terms are not this one's: reads them again from the store on each open. The ``index`` run
    that saves it in this setting's languages is named to paste (it reads no source again that did not change)."""
    from pathatlas.indexer.pipeline import pathatlas_command

    line = f"read in {', '.join(bm25['languages'])} (terms version {bm25['terms_version']})"
    if bm25["languages"] != bm25["searched_in"]:
        named = bm25["languages"][1:]
        as_indexed = f"set PATHATLAS_LANGUAGES='{json.dumps(named)}'" if named else "unset PATHATLAS_LANGUAGES"
        return (
            f"{line}; PATHATLAS_LANGUAGES names {', '.join(bm25['searched_in'])} here, so each open reads BM25 again "
            f"from the store: {as_indexed} as when it was indexed, or run "
            f"`{pathatlas_command('index', index_dir=index_path)}` to save it so"
        )
    if bm25["read_again"]:
        return f"{line}; this PathAtlas's is {terms_version}: each open reads BM25 again until the upgrade below"
    return line


@app.command()
@friendly_errors
def remove(
    source: Annotated[
        str, typer.Argument(metavar="SOURCE", help="Source path or file name, as 'pathatlas info' lists it.")
    ],
    index: IndexOpt = None,
):
    """Delete one source and everything indexed from it.

    Examples:
        pathatlas remove textbook.pdf --index ~/atlas
        pathatlas remove /data/my-cases     # a case folder goes whole
    """
    from pathatlas.errors import UnknownSourceError
    from pathatlas.retrieval.index import Index

    settings = settings_for(index)
    try:
        with Index.open(settings.index_dir, settings) as opened:
            removed = opened.remove_source(source)
    except UnknownSourceError as exc:  # the index words its commands for the default index
        raise UnknownSourceError(for_this_index(str(exc), settings)) from None
    console.print(f"removed {removed} entries of {source}")


@app.command()
@friendly_errors
def demo(
    index: Annotated[
        Path | None, typer.Option("--index", help=f"Index folder (default: <PATHATLAS_HOME>/{DEMO_INDEX}).")
    ] = None,
    query: Annotated[
        str, typer.Option(help="Query to run once the demo index is ready.")
    ] = "koilocytes in cervical epithelium",
    open_ui: Annotated[bool, typer.Option("--ui", help="Then open the web UI on the demo index.")] = False,
):
    """Build the demo corpus and its index on first run, then run an example search (and open the UI).

    Examples:
        pathatlas demo
        pathatlas demo --query "granuloma with giant cells" --ui
    """
    from pathatlas.corpora.demo import build_demo_corpus
    from pathatlas.indexer.pipeline import Indexer
    from pathatlas.retrieval.index import Index
    from pathatlas.retrieval.search import Query, Searcher

    settings = settings_for(index)
    # the encoder the settings name, as chosen: an index of another is rebuilt (the demo's) or refused (a user's)
    settings = settings_for(index or settings.home / DEMO_INDEX, encoder=settings.encoder)
    corpus = settings.home / "demo-corpus"
    try:
        idx = Index.open(settings.index_dir, settings, create=True)
    except EncoderMismatchError:  # built for another encoder: rebuilt only if it is the demo's own, never a user's
        if not demo_only(settings.index_dir, corpus, own=index is None):
            raise
        console.print(f"rebuilding the demo index at {settings.index_dir} for the current encoder")
        shutil.rmtree(settings.index_dir)
        idx = Index.open(settings.index_dir, settings, create=True)
    if index is not None:
        refuse_users_index(idx, corpus)
    Indexer(idx, show_progress=progress_shown()).add([build_demo_corpus(corpus)])
    console.print(f"demo index at {settings.index_dir}\n[bold]search:[/bold] {query}")
    console.print(hits_table(Searcher(idx).search(Query(text=query, k=5)), query))
    # one line however narrow the terminal: a command wrapped before its --index value lost it when pasted
    console.print(f'try: pathatlas search "granuloma with giant cells" --index {settings.index_dir}', soft_wrap=True)
    if open_ui:
        ui(index=settings.index_dir, api=None, port=8501)


def demo_only(folder: Path, corpus: Path, own: bool) -> bool:
    """Whether ``demo`` may delete ``folder`` to rebuild it: its default folder (``own``), or one whose sources are
    all of the demo corpus; any other index may hold a user's work."""
    from pathatlas.retrieval.index import POINTER_FILE, Generation

    if own:
        return True
    sources = Generation.read(folder / POINTER_FILE).sources
    return bool(sources) and all(is_demo_source(key, corpus) for key in sources)


def refuse_users_index(index: Index, corpus: Path) -> None:
    """``demo --index FOLDER`` refused in one line, the index closed with nothing written, where it holds a source not
    of the demo corpus at ``corpus``: the demo added its primer and cases to a user's own index, where every search
    then found them. Sources all of a demo corpus of another home (the index was built under another PATHATLAS_HOME)
    are named as that: they are no user's own."""
    if not (others := [key for key in index.manifest if not is_demo_source(key, corpus)]):
        return
    index.close()
    own = [key for key in others if demo_corpus_of(key, corpus) is None]
    held = f"your own sources ({named_first(own)})" if own else other_demo_corpus(others, corpus)
    raise BadInputError(
        f"the index at {index.path} holds {held}: the demo would add its primer and cases to them; give the demo a "
        "separate --index, or none (its own index in PATHATLAS_HOME)"
    )


def named_first(keys: list[str]) -> str:
    """The first source by its file name, and how many more there are."""
    return Path(keys[0]).name + (f" and {len(keys) - 1} more" if len(keys) > 1 else "")


def other_demo_corpus(keys: list[str], corpus: Path) -> str:
    """The sources ``keys``, all of demo corpora other than ``corpus`` (``demo_corpus_of``), as those corpora."""
    folders = ", ".join(sorted({str(demo_corpus_of(key, corpus)) for key in keys}))
    return f"the demo corpus of another PATHATLAS_HOME ({folders}), not this one's ({corpus})"


def is_demo_source(key: str, corpus: Path) -> bool:
    """Whether the source ``key`` is of the demo corpus at ``corpus``."""
    return Path(key).is_relative_to(corpus.resolve())


def demo_corpus_of(key: str, corpus: Path) -> Path | None:
    """The folder named as the demo corpus at ``corpus`` (another home's) that the source ``key`` is in, if any."""
    return next((folder for folder in Path(key).parents if folder.name == corpus.name), None)


@app.command("train-joint")
@friendly_errors
def train_joint(
    data: Annotated[Path, typer.Option(help="The shared data folder.")] = Path("../shared/data"),
    out: Annotated[
        Path | None, typer.Option(help="Folder for the weights (default: <PATHATLAS_HOME>/models/<name>/).")
    ] = None,
    name: Annotated[str, typer.Option(help="Name of the trained heads.")] = "pathatlas-joint-v2",
    epochs: Annotated[int, typer.Option()] = 60,
    seed: Annotated[int, typer.Option()] = 0,
):
    """Train joint heads from ../shared/data (deterministic for a seed); use them with PATHATLAS_JOINT_HEADS."""
    from pathatlas.retrieval.encoders.training import TrainConfig, train

    if not data.is_dir():
        raise BadInputError(f"no data folder at {data}")
    settings = settings_for()
    folder = out or settings.models_dir / name
    summary = train(data, settings, TrainConfig(epochs=epochs, seed=seed), folder, name)
    print_json({k: v for k, v in summary.items() if k != "config"})
    console.print(f"wrote {folder}; use it with PATHATLAS_JOINT_HEADS={folder}", soft_wrap=True)


@app.command("settings")
@friendly_errors
def show_settings(as_json: JsonOpt = False):
    """Show every setting: its variable, the value in effect, where it came from and what it does.

    A secret (the API token, an API key) shows as set or unset, never its value. No index is read, no model loaded.

    Examples:
        pathatlas settings
        pathatlas settings --json | jq '.[] | select(.source == "environment")'
    """
    from pathatlas.settings import described

    settings = described(settings_for())
    if as_json:
        print_json(settings)
        return
    table = Table(Column("variable", no_wrap=True), Column("value", overflow="fold"), "from", "description")
    for setting in settings:
        table.add_row(
            setting["variable"], Text(setting_text(setting["value"])), setting["source"], Text(setting["description"])
        )
    console.print(table)


def setting_text(value: object) -> str:
    """A setting's value in the settings table: as an environment variable gives it, and "unset" for none."""
    if value is None:
        return "unset"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


FIRST_COMMANDS = ("demo", "index", "search", "ask", "info", "remove", "export")
"""The commands of a newcomer's first hour, which ``pathatlas --help`` lists first, in this order (export, registered
before the others, led the list)."""


def flowing(doc: str) -> str:
    """A command's docstring as its ``--help`` shows it: each paragraph's lines joined, as typer joins only the
    first's (the others broke mid-sentence where the source wraps: "as this / version writes one"); an indented line
    (an example) or a ``\\b`` line keeps its own line. The first paragraph is followed by an extra blank line: typer
    dedents the others as one text whose first line does not count, so examples right after the first paragraph lost
    their indent."""
    paragraphs = []
    for paragraph in inspect.cleandoc(doc).split("\n\n"):
        lines = paragraph.split("\n")
        joined = lines[0]
        for line in lines[1:]:
            kept = line[:1].isspace() or line.startswith("\b")
            joined += ("\n" if kept else " ") + line
        paragraphs.append(joined)
    return "\n\n\n".join([paragraphs[0], "\n\n".join(paragraphs[1:])]).rstrip()


def arrange_help(commands: list[typer.models.CommandInfo]) -> None:
    """Order ``commands`` for ``pathatlas --help`` (``FIRST_COMMANDS`` first)."""

    def name(command: typer.models.CommandInfo) -> str:
        return command.name or command.callback.__name__.replace("_", "-")

    commands.sort(key=lambda command: FIRST_COMMANDS.index(n) if (n := name(command)) in FIRST_COMMANDS else 99)


def flow_help(commands: typer.Typer) -> None:
    """Let the help of every command of ``commands`` flow (``flowing``), in its sub-apps too: the ``bench`` commands,
    left out, broke mid-sentence where their docstrings wrap ("run both under one PYTHONHASHSEED (the server" /
    "inherits the environment")."""
    for command in commands.registered_commands:
        command.help = command.help or flowing(command.callback.__doc__ or "")
    for group in commands.registered_groups:
        flow_help(group.typer_instance)


app.command("export")(export)
arrange_help(app.registered_commands)
flow_help(app)
