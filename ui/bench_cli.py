"""``pathatlas bench ...``: speed and quality benchmarks with tables, JSON and plots."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.markup import escape
from rich.segment import Segment
from rich.table import Column, Table
from rich.text import Text

from pathatlas.errors import BadInputError
from pathatlas.ui.cli_common import (
    STDOUT,
    IndexOpt,
    JsonFileOpt,
    PathAtlasTyper,
    check_destination,
    console,
    err_console,
    friendly_errors,
    print_json,
    settings_for,
    write_json,
)

if TYPE_CHECKING:
    from pathatlas.settings import Settings

bench_app = PathAtlasTyper(
    help="Benchmarks: speed and quality, with JSON output ('--json -' prints the JSON alone on stdout).",
    no_args_is_help=True,
)


@bench_app.command("index")
@friendly_errors
def bench_index_command(
    pdf: Annotated[Path, typer.Option(help="PDF to index.")] = Path("../shared/data/openstax_ap2e/book.pdf"),
    keep: Annotated[Path | None, typer.Option(help="Build the index in this new folder and keep it.")] = None,
    upgrade: Annotated[
        bool,
        typer.Option(
            "--upgrade",
            help="Then time an upgrade of a copy of the index as after a reader change: each source read again, "
            "vectors and thumbnails of what reads alike reused.",
        ),
    ] = False,
    json_out: JsonFileOpt = None,
):
    """Pages and figures per second indexing a PDF, its unchanged re-index, and with --upgrade an upgrade's time.

    --upgrade then re-indexes a copy of the index as after a release whose reader changed (every source read again),
    and reports what it reused and what it encoded or made."""
    from pathatlas.indexer.bench import TALLIED, bench_index
    from pathatlas.retrieval.bench.common import encoder_record, run_record, threads_record

    if not pdf.is_file():
        raise BadInputError(f"no PDF at {pdf}")
    settings = settings_for()
    measured = bench_index(pdf, settings, keep=keep, upgrade=upgrade)
    options = encoder_record(settings) | {
        "keep": str(keep) if keep else None,
        "upgrade": upgrade,
        "machine": threads_record(),
    }
    result = {"run": run_record({"pdf": pdf}, None, options), **measured}
    shown = {k: v for k, v in measured.items() if k not in ("stage_seconds", "upgrade")}
    table = Table(*shown)
    table.add_row(*map(str, shown.values()))
    console.print(table)
    runs = {"first run": result["stage_seconds"]}
    if upgrade:
        upgraded = result["upgrade"]
        runs["upgrade"] = upgraded["stage_seconds"]
        title = f"upgrade as after a reader change: {upgraded['seconds']} s ({upgraded['cpu_seconds']} s of CPU)"
        tally = Table("", "reused", "encoded or made", title=title)
        for what, made in TALLIED.items():
            tally.add_row(what, str(upgraded[what]["reused"]), str(upgraded[what][made]))
        console.print(tally)
    for run, seconds_of in runs.items():
        stages = Table("stage", "seconds", title=f"{run}, wall seconds per stage")
        for stage, seconds in seconds_of.items():
            stages.add_row(stage, str(seconds))
        console.print(stages)
    write_json(json_out, result)


@bench_app.command("search")
@friendly_errors
def bench_search_command(
    records: Annotated[str, typer.Option(help="Comma-separated collection sizes (up to 1,000,000).")] = "10000,100000",
    stores: Annotated[str, typer.Option(help="Comma-separated stores.")] = "faiss,qdrant",
    faiss_index: Annotated[
        str | None,
        typer.Option(help="Comma-separated FAISS indexes: hnsw, hnsw-fp16, hnsw-sq8, ivf-sq8, ivf-pq, ivf-sq4-rerank."),
    ] = None,
    queries: Annotated[int, typer.Option(min=1, help="Text and image queries per run.")] = 50,
    workdir: Annotated[Path | None, typer.Option(help="Folder for the temporary indexes.")] = None,
    media: Annotated[
        bool, typer.Option(help="Also write an empty thumbnail per record and time pruning and the full sweep.")
    ] = False,
    json_out: JsonFileOpt = None,
):
    """Build time, memory, recall@10 and search latency of synthetic indexes per store and size.

    Per record: build time, memory and recall@10 against exact search; p50/p95 of complete text and image searches
    (encoding included) with and without filters; adding and removing one 1000-record source."""
    from pathatlas.retrieval.bench.common import encoder_record, run_record, threads_record
    from pathatlas.retrieval.bench.speed import bench_search, table_row
    from pathatlas.retrieval.stores import store_class

    settings = settings_for()
    try:
        sizes = [int(n) for n in records.split(",")]
    except ValueError:
        raise BadInputError(f"--records {records!r}: give comma-separated whole numbers, e.g. 10000,100000") from None
    if max(sizes) > 1_000_000 or min(sizes) < 1000:
        raise BadInputError("--records: sizes from 1000 to 1,000,000")
    store_names = [s.strip() for s in stores.split(",")]
    for store in store_names:
        store_class(store)  # an unknown store name fails here, before any index is built
    variants = faiss_variants(faiss_index or settings.faiss_index)
    if workdir:
        workdir.mkdir(parents=True, exist_ok=True)
    options = encoder_record(settings) | {
        "records": sizes,
        "stores": store_names,
        "faiss_index": variants,
        "queries": queries,
        "media": media,
    }
    runs = []
    table = None
    for store in store_names:
        for variant in variants if store == "faiss" else [""]:
            local = settings.model_copy(update={"faiss_index": variant}) if variant else settings
            for size in sizes:
                run = bench_search(size, store, local, queries=queries, workdir=workdir, media=media)
                runs.append(run)
                row = table_row(run)
                err_console.print(f"measured {row['store']}, {row['records']} records", highlight=False)
                if json_out != STDOUT:  # a file after each run, so a long sweep keeps what it measured
                    write_json(
                        json_out, {"run": run_record({}, None, options | {"machine": threads_record()}), "runs": runs}
                    )
                table = table or Table(*row, title="latency in ms (complete searches, encoding included)")
                table.add_row(*row.values())
    if table is not None:
        console.print(table)
    if json_out == STDOUT:
        print_json({"run": run_record({}, None, options | {"machine": threads_record()}), "runs": runs})


def faiss_variants(names: str) -> list[str]:
    """``--faiss-index`` names, checked here: ``model_copy`` skips the settings' validation, so a wrong name would
    otherwise label a row and then fail inside the store."""
    from typing import get_args

    from pathatlas.settings import Settings

    known = get_args(Settings.model_fields["faiss_index"].annotation)
    variants = [v.strip() for v in names.split(",")]
    if unknown := [v for v in variants if v not in known]:
        raise BadInputError(f"--faiss-index {unknown[0]!r}: use {', '.join(known)}")
    return variants


def encoded_as(query_vectors: str | None) -> str:
    """A table title's note of how text queries were encoded (``settle_query_vectors``); none for an encoder whose
    queries are its own."""
    return f", text queries encoded {query_vectors}" if query_vectors else ""


@bench_app.command("queries")
@friendly_errors
def bench_queries_command(
    index: IndexOpt = None,
    images: Annotated[
        list[Path] | None, typer.Option(help="Query images: files or folders (repeat the option for several).")
    ] = None,
    texts: Annotated[
        Path | None, typer.Option(help="Text queries, one per line (default: ten built-in pathology queries).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many query images.")] = 40,
    repeats: Annotated[int, typer.Option(min=1, help="Timed rounds over the queries.")] = 3,
    json_out: JsonFileOpt = None,
):
    """p50/p95 of complete text and image searches on an existing index, with real query images.

    On a case index with keypoints, same-specimen verification is included."""
    from pathatlas.retrieval.bench.common import run_record, settle_query_vectors, threads_record
    from pathatlas.retrieval.bench.speed import TEXT_QUERIES, bench_queries, image_files
    from pathatlas.retrieval.index import Index

    settings = settings_for(index)
    queries = text_lines(texts, "query") if texts else TEXT_QUERIES
    paths = image_files(images or [], limit)
    if not queries and not paths:
        raise BadInputError("no queries: the --texts file has no lines and no --images were given")
    idx = Index.open(settings.index_dir, settings)
    try:
        query_vectors = settle_query_vectors(idx.encoder)
        measured = bench_queries(idx, queries, paths, repeats)
        inputs = {name: given for name, given in (("texts", texts), ("images", paths)) if given}
        options = {"limit": limit, "repeats": repeats, "query_vectors": query_vectors, "machine": threads_record()}
        result = {"run": run_record(inputs, idx, options), **measured}
    finally:
        idx.close()
    yes = {True: "yes", False: "no"}
    engine = f" ({result['ocr_engine']})" if result["ocr_engine"] else ""
    title = (
        f"{result['index']}: {result['records']} records, keypoints {yes[result['keypoints']]}, "
        f"image words read {yes[bool(result['query_ocr'])]}{engine}" + encoded_as(query_vectors)
    )
    table = Table("kind", "queries", "p50 ms", "p95 ms", "same specimen found", "printed words found", title=title)
    for kind in ("text", "image"):
        if row := result.get(kind):
            found = (str(row["same_specimen_found"]), str(row["printed_words_found"]))
            table.add_row(kind, str(row["n"]), str(row["p50_ms"]), str(row["p95_ms"]), *found)
    console.print(table)
    write_json(json_out, result)


def text_lines(path: Path, what: str) -> list[str]:
    """The non-blank lines of a UTF-8 text file, stripped: one ``what`` each."""
    if not path.is_file():
        raise BadInputError(f"no text file at {path}")
    try:
        return [line.strip() for line in path.read_text().splitlines() if line.strip()]
    except UnicodeDecodeError as exc:
        raise BadInputError(f"{path} is not UTF-8 text (one {what} per line)") from exc


@bench_app.command("encode")
@friendly_errors
def bench_encode_command(
    images: Annotated[
        list[Path] | None, typer.Option(help="Images: files or folders (repeat the option for several).")
    ] = None,
    texts: Annotated[Path | None, typer.Option(help="Texts, one per line (passages, captions).")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many images, and as many texts.")] = 500,
    json_out: JsonFileOpt = None,
):
    """Texts and images a second through the encoder on this machine (PATHATLAS_DEVICE: cpu, cuda, auto).

    Models are loaded and warm; opening images (as indexing opens them) is timed apart."""
    from pathatlas.retrieval.bench.common import encoder_record, run_record, threads_record
    from pathatlas.retrieval.bench.encode import bench_encode
    from pathatlas.retrieval.bench.speed import image_files

    settings = settings_for()
    lines = text_lines(texts, "text")[:limit] if texts else []
    paths = image_files(images or [], limit)
    if not lines and not paths:
        raise BadInputError("nothing to encode: give --texts FILE (one text per line) or --images FILES_OR_FOLDERS")
    measured = bench_encode(lines, paths, settings)
    inputs = {name: given for name, given in (("texts", texts), ("images", paths)) if given}
    options = encoder_record(settings) | {"limit": limit, "machine": threads_record()}
    result = {"run": run_record(inputs, None, options), **measured}
    title = (
        f"{result['encoder']} on {result['device']} ({result['device_name']}), batches of {result['batch_size']}, "
        f"images prepared on {result['prepare_threads']} threads"
    )
    table = Table("kind", "n", "per second", "opened per second", title=title)
    for kind in ("texts", "images"):
        if row := result.get(kind):
            table.add_row(kind, str(row["n"]), str(row["per_s"]), str(row.get("open_per_s", "")))
    console.print(table)
    write_json(json_out, result)


CASE_FILE_SUFFIXES = (".jsonl", ".csv", ".tsv")
"""What a ``--cases`` file's name ends in: a case folder's metadata is JSONL or a table (``read_case_metadata``)."""


def case_metadata(path: Path) -> Path:
    """A ``--cases`` value as the file to read: a case folder, as ``pathatlas index`` takes it, is read by the
    metadata file the indexer reads there (``METADATA_FILES``, in its order); a folder without one, no such file, or
    a file of another kind (a book's PDF, which would be read as a table and refused as not UTF-8) is refused in one
    line."""
    from pathatlas.indexer.sources.cases import METADATA_FILES
    from pathatlas.retrieval.datasets import check_file

    if path.is_dir():
        found = next((path / name for name in METADATA_FILES if (path / name).is_file()), None)
        if found is None:
            raise BadInputError(f"--cases {path}: a case folder holds {' or '.join(METADATA_FILES)}, this one neither")
        return found
    check_file(path, "a case folder or its metadata file")
    if path.suffix.lower() not in CASE_FILE_SUFFIXES:
        raise BadInputError(
            f"--cases {path}: give a case folder or its {' or '.join(METADATA_FILES)} "
            f"(a {', '.join(CASE_FILE_SUFFIXES[:-1])} or {CASE_FILE_SUFFIXES[-1]} file)"
        )
    return path


def say_notes(task: str, body: dict) -> None:
    """A task's warnings (``warnings``: too few queries to trust its figures), then its notes (``notes``: what it
    left out, and why), one stderr line each."""
    for warning in body.get("warnings", []):
        err_console.print(f"[bold red]warning:[/bold red] {escape(task)}: {escape(warning)}", soft_wrap=True)
    for note in body.get("notes", []):
        err_console.print(f"[yellow]note:[/yellow] {escape(task)}: {escape(note)}", highlight=False, soft_wrap=True)


def retrieval_table(task: str, body: dict, caption: bool = True) -> Table:
    """One task's methods, each figure with its 95% interval where it has one (``figure_cell``; the caption says how
    it was reached) and ``SIGNIFICANT`` where it differs from the default's by the table's own paired test
    (``significant_cells``); the default's row is named so (its ``default_label``) and, after that, marked where it
    scores below a baseline. ``caption``: say how the intervals were reached (once a task: its fold tables do not
    repeat it)."""
    from pathatlas.retrieval.bench.common import METRIC_NAMES, losses, metric_name
    from pathatlas.retrieval.metrics import INTERVALS

    marks, significant = losses(body), significant_cells(body)
    keys = [key for key in METRIC_NAMES if any(key in m for m in body["methods"].values())]
    intervals = any("ci95" in m for m in body["methods"].values())
    said = f"(lo-hi): {INTERVALS}; {OUTWARDS}" if intervals and caption else None
    headers = (metric_name(key, body) for key in keys)
    table = Table("method", *headers, "", title=f"{task}, n={body['n']}", caption=said)
    # names like visual+joint+specimen stay whole; one of several words may wrap between them
    table.columns[0].min_width = max(len(word) for name in body["methods"] for word in name.split())
    for name, m in body["methods"].items():
        cells = [figure_cell(m, key, SIGNIFICANT if (name, key) in significant else "") for key in keys]
        note = method_role(name, body)
        if name in marks:
            note += "; " + below_mark(marks[name])
        table.add_row(name, *cells, note)
    return table


def significant_cells(body: dict) -> set[tuple[str, str]]:
    """(method, metric) of each figure that differs from the default's significantly (``compare_runs``' Holm-Bonferroni
    ``significant`` over the paired tests of the table's own queries: a fold's within that fold)."""
    return {
        (name, metric)
        for name, metrics in body.get("significance", {}).items()
        for metric, test in metrics.items()
        if test["significant"]
    }


def method_role(name: str, body: dict) -> str:
    """What a table's method row is: the default (its ``default_label``: "default without joint" where its heads
    trained on these), an ablation (the default with a part removed, as ``--names``' with every-word-first off: it
    measures that part, no outside bar to clear), a baseline, or nothing said."""
    if name == body.get("default"):
        return body.get("default_label", "default")
    if name in body.get("ablations", []):
        return "ablation"
    return "baseline" if name in body.get("baselines", []) else ""


OUTWARDS = "ends rounded outwards, so each shown interval holds its figure (the JSON's ci95 is unrounded)"
"""Why a table's interval ends can differ from the JSON's rounded to the nearest (``figure_cell``)."""


def figure_cell(figures: dict, metric: str, mark: str = "") -> str:
    """A table's cell: the figure with its ``mark`` ("0.974*": ``significant_cells``), and its 95% interval (``ci95``)
    where it has one, "0.974 (0.95-0.99)", its ends rounded outwards, so the interval shown still holds the figure
    (chance's 0.007 in 0.01-0.01 would not); blank for a metric the method lacks."""
    if metric not in figures:
        return ""
    if metric not in figures.get("ci95", {}):
        return f"{figures[metric]:.3f}{mark}"
    low, high = figures["ci95"][metric]
    below, above = math.floor(low * 100 + ROUNDING) / 100, math.ceil(high * 100 - ROUNDING) / 100
    return f"{figures[metric]:.3f}{mark} ({below:.2f}-{above:.2f})"


ROUNDING = 1e-9
"""How far a product may miss a whole number and still count as it (0.95 * 100 is 94.99999999999999)."""


def below_mark(pairs: list[tuple[str, str]]) -> str:
    """The red mark of a default below a baseline, ``(baseline, metric)`` each (``below_words``): the same in every
    table."""
    from pathatlas.retrieval.bench.common import below_words

    return f"[red]{below_words(pairs)}[/red]"


SHOWN_CHAPTERS = range(2, 31)
"""How many chapters make a by-chapter table: one repeats the main table, more than 30 scroll it away (the JSON's
``by_chapter`` holds every chapter)."""


def chapter_table(task: str, body: dict) -> Table:
    """R@1, R@5 and MRR of the default and each baseline per chapter (``by_chapter``), in the file's order of
    chapters: a method's three figures share a cell, kept whole, so twelve figures a row fit a terminal; a chapter
    where the default scores below a baseline (BM25, dense, chance: ``below_baselines``) is marked as
    ``retrieval_table`` marks its row; a chapter's name, the file's text, is shown as written (never read as markup).
    With folds each chapter's default is the one chosen on the other folds, and the title says those are held out."""
    from pathatlas.retrieval.bench.common import metric_name
    from pathatlas.retrieval.bench.pages import CHAPTER_METRICS

    rows = body["by_chapter"]
    held_out = "fold" in rows[0]
    title = f"{task} by chapter" + (": held out, each chapter's default chosen on the other folds" if held_out else "")
    table = Table("chapter", *(["fold"] if held_out else []), "n", title=title)
    table.columns[0].min_width = 16  # names like "The Nervous System and Nervous Tissue" wrap, not fold
    for name in rows[0]["methods"]:
        role = body.get("default_label", "default") if name == body.get("default") else "baseline"
        metrics = "".join(f"{metric_name(metric, body):<6}" for metric in CHAPTER_METRICS).rstrip()
        table.add_column(f"{name} ({role})\n{metrics}", no_wrap=True)
    table.add_column("")
    for row in rows:
        cells = [
            " ".join(f"{figures[metric]:.3f}" for metric in CHAPTER_METRICS) for figures in row["methods"].values()
        ]
        pairs = [(baseline, metric) for baseline, metrics in row["below_baselines"].items() for metric in metrics]
        mark = below_mark(pairs) if pairs else ""
        fold = [str(row["fold"])] if held_out else []
        table.add_row(escape(row["chapter"]) or "(no chapter)", *fold, str(row["n"]), *cells, mark)
    return table


def part_table(task: str, parts: dict) -> Table:
    """P@5 / R@1 of each method per part of a task's queries (``by_part``: agreeing words, conflicting words, each
    source), so a reader sees where the default gains and where it loses."""
    methods = [name for name in next(iter(parts.values())) if name != "n"]
    table = Table("part", "n", *methods, title=f"{task} by part, P@5 / R@1")
    for part, row in parts.items():
        cells = [f"{row[name]['precision@5']:.3f} / {row[name]['recall@1']:.3f}" for name in methods]
        table.add_row(escape(part), str(row["n"]), *cells)
    return table


def print_task(task: str, body: dict) -> None:
    """One task's tables as ``bench retrieval`` and ``bench tune-text`` print them: the main one (pooled held-out
    folds with folds), each held-out fold's with the ranker it chose, the by-chapter table, the paired p of the default
    against each baseline, and the task's notes on stderr."""
    pooled = ", pooled held-out folds" if body.get("folds") else ""
    console.print(retrieval_table(task + pooled, body))
    for number, fold in enumerate(body.get("folds", [])):
        chapters = escape(", ".join(fold["chapters"]))  # the file's text, never markup
        console.print(retrieval_table(f"{task} held-out fold {number} ({chapters})", fold, caption=False))
        if ranker := fold.get("ranker"):
            choice = escape(ranker["source"])
            console.print(f"{task} held-out fold {number}: ranker chosen on the other folds: {choice}", highlight=False)
    if tested := [fold["significance"] for fold in body.get("folds", []) if fold.get("significance")]:
        console.print(f"{task} held-out folds: {fold_marks_legend(tested)}", highlight=False)
    if len(body.get("by_chapter", [])) in SHOWN_CHAPTERS:
        console.print(chapter_table(task, body))
    if fusion := body.get("fusion"):
        console.print(f"{task}: OCR ranker weight per fold {fusion['weights']}, each chosen on {fusion['tuned_on']}")
    if chosen := body.get("weight_per_fold"):
        console.print(
            f"{task}: --phrasing {body['phrasing']}; default: words some records hold in full first at "
            f"x{body['held_words_weight']:g}, other words x{body['words_weight']:g}; weight "
            f"per fold (by {chosen['by']}) {[f'{w:g}' for w in chosen['chosen']]}, each chosen from "
            f"{[f'{w:g}' for w in chosen['grid']]} on the other folds' P@5, then R@1; P@5 / R@1 per weight over all "
            "queries (not held out): "
            + ", ".join(f"x{w} {m['precision@5']:.3f} / {m['recall@1']:.3f}" for w, m in chosen["by_weight"].items())
        )
    if parts := body.get("by_part"):
        console.print(part_table(task, parts))
    if significance := body.get("significance"):
        for baseline, metrics in significance.items():
            console.print(f"{task}: {body.get('default')} vs {baseline}, paired p: {paired_p_phrase(metrics)}")
        console.print(f"{task}: {significance_legend(significance)}", highlight=False)
    say_notes(task, body)


SIGNIFICANT = "*"
"""The mark of a paired p significant after Holm-Bonferroni (``compare_runs``' ``significant``)."""


def paired_p_phrase(metrics: dict[str, dict]) -> str:
    """Each metric's paired p (``compare_runs``; ``shown_p``), grouped by the test that gave it, named after them: a
    0/1 score's exact McNemar p and MRR's randomization p come from different tests, and a p read alone hides which."""
    tests = dict.fromkeys(m["test"] for m in metrics.values())
    return "; ".join(
        ", ".join(f"{metric} {shown_p(m)}" for metric, m in metrics.items() if m["test"] == test) + f" by {test}"
        for test in tests
    )


def shown_p(comparison: dict) -> str:
    """One paired p as printed: "<= 1e-05" where it is the least its random flips can give (``p_floor``: the true p
    is at most that), "0.00342*" where significant (``SIGNIFICANT``)."""
    bound = "<= " if comparison["p_floor"] else ""
    return f"{bound}{comparison['p']:.3g}{SIGNIFICANT if comparison['significant'] else ''}"


def significance_legend(significance: dict[str, dict]) -> str:
    """What a task's ``SIGNIFICANT`` marks mean, beside a p and beside a figure of its main table: Holm-Bonferroni over
    every paired test the task ran, the p shown being each test's own."""
    return (
        f"{SIGNIFICANT} significant {holm_family([significance], 'these')} (beside a figure of the table: it differs "
        "from the default's; each p shown is its own test's, uncorrected; the JSON's p_holm is corrected)"
    )


def fold_marks_legend(folds: list[dict[str, dict]]) -> str:
    """What ``SIGNIFICANT`` beside a figure of a held-out fold's table means (``folds``: each fold's ``significance``):
    the fold's own tests, corrected within the fold, not across folds."""
    family = holm_family(folds, "each fold's own")
    return (
        f"{SIGNIFICANT} beside a figure: it differs from the default's, significant {family}, not corrected across "
        "folds (each p: the significance of each of the JSON's folds)"
    )


def holm_family(tested: list[dict[str, dict]], whose: str) -> str:
    """The level and the family of paired tests a mark is significant over, "at 0.05 after Holm-Bonferroni over these
    8 paired tests": ``tested`` holds each family's ``significance`` (a task's one, or each fold's)."""
    from pathatlas.retrieval.bench.common import SIGNIFICANCE_LEVEL

    sizes = "/".join(str(size) for size in sorted({sum(map(len, family.values())) for family in tested}))
    return f"at {SIGNIFICANCE_LEVEL:g} after Holm-Bonferroni over {whose} {sizes} paired tests"


@bench_app.command("retrieval")
@friendly_errors
def bench_retrieval_command(
    figures: Annotated[
        list[Path] | None,
        typer.Option(
            help="Figures JSONL (repeatable): text to image, image to text, the file's own images encoded with "
            "--encoder (no index read)."
        ),
    ] = None,
    cases: Annotated[
        list[Path] | None,
        typer.Option(
            help="A case folder, or its cases.jsonl or labels.csv (repeatable): image to image, its own images encoded "
            "with --encoder; with --index, the index's stored vectors of those images instead (it must hold every "
            "one of them, the same bytes)."
        ),
    ] = None,
    mcq: Annotated[
        Path | None,
        typer.Option(
            help="MCQ JSONL with gold pdf_pages: text to page, searched in the index (--index, else the default "
            "index), which must hold the book the questions cite."
        ),
    ] = None,
    names: Annotated[
        bool,
        typer.Option(
            "--names",
            help="Short searches taken from the index (--index, else the default index; no file needed): each case "
            "diagnosis (and 'organ diagnosis') to its cases, each bookmark section whose path holds 1-6 words "
            "(function words aside) to its pages, searched as typed; the default beside itself with every-word-first "
            "off (PATHATLAS_ALL_WORDS_FIRST=0), BM25 alone, dense alone and chance.",
        ),
    ] = False,
    labels: Annotated[
        bool,
        typer.Option(
            "--labels",
            help="Figure labels taken from the index (--index, else the default index; no file needed): each label "
            "its figures print, typed as 'Figure 6.3', 'fig 6.3' and 'Fig. 6-3' (a task each), searched among the "
            "figures; relevant: every figure printing it. The default beside itself with the label rule off, BM25 "
            "alone and chance.",
        ),
    ] = False,
    terms: Annotated[
        Path | None,
        typer.Option(
            help="A text file of short searches, one a line as typed in a search box (blank lines and # comments "
            "skipped; at most 6 words each, function words aside), searched in the index (--index, else the default "
            "index); relevant: the pages (through any of their passages and figures) and page-less records holding "
            "every word of it, as the every-word-first rule reads words. The gold is the query's own words, so this "
            "measures whether a search keeps its promise to show those first, not topical relevance, and BM25 is "
            "favoured by construction. P@10, capped R@10 (over min(10, relevant)) and MRR@10 of the default beside "
            "itself with the section rule off and with every-word-first off, BM25 alone, dense alone and chance; terms "
            "no record holds are counted and left out.",
        ),
    ] = None,
    image_words: Annotated[
        bool,
        typer.Option(
            "--image-words",
            help="Words typed beside an image, taken from the index (--index, else the default index; no file "
            "needed): each case image with a diagnosis (at most 40 of a diagnosis of each source, a fixed seeded "
            "sample, so LC25000's 900 tiles ask 120 and the run stays minutes) searched with its own diagnosis and "
            "with another (same source and organ preferred); relevant: hits of the diagnosis the words ask, the image "
            "and its byte copies left out. P@5 and R@1 of the default (PATHATLAS_WEIGHT_WORDS_IMAGE), weight 1, the "
            "weight chosen on --folds folds by diagnosis (default 3) and scored held out, the image alone, the words "
            "alone (BM25) and chance.",
        ),
    ] = False,
    phrasing: Annotated[
        str,
        typer.Option(
            help="--image-words: the words typed beside an image. 'diagnosis': the diagnosis as stored ('lung "
            "adenocarcinoma'); 'word': as a student types it, its one most telling word: of its words, the one whose "
            "term the fewest of the index's diagnoses hold, then the fewest case records in their text, then the "
            "longest, then the first ('adenocarcinoma', 'squamous', 'benign'); the same for agreeing and conflicting "
            "words. Relevant stays the diagnosis asked, also where two diagnoses share a word (the image tells "
            "which); a conflicting word that is a word of the image's own diagnosis too conflicts with nothing and "
            "is left out (counted in a note). 'both': each image asked both ways, one weight chosen for both.",
        ),
    ] = "diagnosis",
    index: IndexOpt = None,
    encoder: Annotated[
        str | None,
        typer.Option(
            help="Encoder --figures and --cases measure (default: PATHATLAS_ENCODER). --labels, --terms, --mcq, "
            "--names and --image-words search with the index's own encoder, and --cases with --index reads its "
            "vectors: then it must be that one."
        ),
    ] = None,
    split: Annotated[
        str,
        typer.Option(
            help="--figures and --cases: queries from the held-out part ('val': groups chosen by a fixed hash, the "
            "split of the data PathAtlas's joint heads were trained on; the output says how many queries it kept) or "
            "from everything ('all': your own images; the shipped encoder's joint space, trained on the rest, is then "
            "scored in a TASK:held-out twin alone). --mcq ignores it (text to page asks every question with gold "
            "pages), and so do --names, --labels, --terms and --image-words."
        ),
    ] = "val",
    folds: Annotated[
        int,
        typer.Option(
            help="--mcq: deal the questions' chapters round-robin by name, shortest first (as bench qa --folds), into "
            "this many folds (at most the number of chapters), refit the ranker on all but one fold and report each "
            "held out; 0: the shipped ranker. --image-words: its diagnosis folds (0: 3)."
        ),
    ] = 0,
    runs: Annotated[
        Path | None,
        typer.Option(
            help="Write each task's qrels and a TREC run per method to this folder: text to page's qrels.txt and "
            "METHOD.trec (with --folds also each fold's qrels and default run; the default's run over every question "
            "is the pooled held-out one), an image, --names, --labels, --terms or --image-words task's qrels.TASK.txt "
            "and TASK.METHOD.trec (--image-words: also each fold's qrels and run of the weight chosen per fold)."
        ),
    ] = None,
    json_out: JsonFileOpt = None,
    plot: Annotated[
        Path | None,
        typer.Option(
            help="Draw R@k curves (and MRR and precision bars) to this file: .png (200 dpi), .pdf or .svg (vector, "
            "for a paper), or any other ending matplotlib writes (needs pip install 'pathatlas\\[plot]')."
        ),
    ] = None,
):
    """Recall@1/5/10, MRR and precision@10 per direction and method, with baselines and chance."""
    request = RetrievalRequest(
        figures=figures or [],
        cases=cases or [],
        mcq=mcq,
        names=names,
        labels=labels,
        terms=terms,
        image_words=image_words,
        phrasing=phrasing,
        index=index,
        encoder=encoder,
        split=split,
        folds=folds,
        runs=runs,
        json_out=json_out,
        plot=plot,
    ).checked()
    show_retrieval(run_retrieval(request), request)


@dataclass(frozen=True)
class RetrievalRequest:
    """``bench retrieval``'s options: the tasks (``figures`` to ``image_words``), how they are measured, and where
    their files go."""

    figures: list[Path]
    cases: list[Path]
    mcq: Path | None
    names: bool
    labels: bool
    terms: Path | None
    image_words: bool
    phrasing: str
    index: Path | None
    encoder: str | None
    split: str
    folds: int
    runs: Path | None
    json_out: Path | None
    plot: Path | None

    @property
    def searches_index(self) -> bool:
        """Does a task search the index (--mcq, --names, --labels, --terms, --image-words)? --figures and --cases read
        their files."""
        return self.mcq is not None or self.names or self.labels or self.terms is not None or self.image_words

    @property
    def measures_stored(self) -> bool:
        """Do --cases measure the stored vectors of their images in an --index named (not the default index, which a
        user who named none did not ask to measure)?"""
        return bool(self.cases) and self.index is not None

    @property
    def reads_index(self) -> bool:
        """Does a task read the index (``searches_index``, ``measures_stored``)?"""
        return self.searches_index or self.measures_stored

    def checked(self) -> RetrievalRequest:
        """This request, refused in one line before anything loads where an option is wrong or a file could not be
        written once done; its --cases as the metadata files to read (``case_metadata``), its --plot as the file
        written (``plot_file``)."""
        from pathatlas.retrieval.bench.terms import read_terms
        from pathatlas.retrieval.bench.words import DIAGNOSIS, PHRASINGS

        if not (self.figures or self.cases or self.searches_index):
            raise BadInputError(
                "give at least one of --figures, --cases, --mcq, --names, --labels, --terms, --image-words"
            )
        if self.split not in ("val", "all"):
            raise BadInputError(f"--split {self.split!r}: use val or all")
        if self.folds == 1 or self.folds < 0:
            raise BadInputError(f"--folds {self.folds}: use 0 (no folds) or at least 2")
        if self.folds and self.mcq is None and not self.image_words:
            raise BadInputError(
                f"--folds {self.folds} sets --mcq's chapter folds and --image-words' diagnosis folds: give one of them"
            )
        if self.phrasing not in PHRASINGS:
            raise BadInputError(f"--phrasing {self.phrasing!r}: use {', '.join(PHRASINGS[:-1])} or {PHRASINGS[-1]}")
        if self.phrasing != DIAGNOSIS and not self.image_words:
            raise BadInputError(
                f"--phrasing {self.phrasing} phrases the words beside --image-words' images: give --image-words"
            )
        check_destination(self.runs, "--runs", folder=True)
        check_destination(self.json_out, "--json")
        plot = plot_file(self.plot)
        check_destination(plot, "--plot")
        if self.terms is not None:
            read_terms(self.terms)  # refused before the index loads
        return replace(self, cases=[case_metadata(path) for path in self.cases], plot=plot)


def plot_file(path: Path | None) -> Path | None:
    """The file ``--plot`` names as matplotlib writes it: ".png" added where its name has no ending (the "wrote" line
    named the path given, not the file), and refused in one line before the run where its ending is a format
    matplotlib cannot write ("x.txt" failed after the whole run)."""
    if path is None:
        return None
    from pathatlas.plugins import require

    require("matplotlib", "plot")  # before the run, not after it
    from matplotlib.backend_bases import FigureCanvasBase

    formats = FigureCanvasBase.get_supported_filetypes()
    ending = path.suffix.lower().removeprefix(".")
    if not ending:
        return path.with_name(path.name.rstrip(".") + ".png")  # as matplotlib names it (its default format)
    if ending not in formats:
        raise BadInputError(f"--plot {path}: matplotlib cannot write .{ending}; end the name in .{', .'.join(formats)}")
    return path


def run_retrieval(request: RetrievalRequest) -> dict:
    """Run the tasks asked (``run_retrieval_bench``): the result with its run record."""
    from pathatlas.retrieval.bench import run_retrieval_bench
    from pathatlas.retrieval.bench.common import run_record, settle_query_vectors
    from pathatlas.retrieval.bench.stored import StoredImages
    from pathatlas.retrieval.bench.words import FOLDS
    from pathatlas.retrieval.encoders import create_encoder
    from pathatlas.retrieval.index import Index

    settings = settings_for(request.index, encoder=request.encoder)
    idx = Index.open(settings.index_dir, settings) if request.reads_index else None
    enc = idx.encoder if idx is not None else create_encoder(settings.encoder, settings)
    if request.index is not None and idx is None:
        say_notes("--index", {"notes": [unread_index_note(enc.name)]})
    stored = StoredImages(idx) if idx is not None and request.measures_stored else None
    query_vectors = settle_query_vectors(enc) if idx is not None else None  # the tasks that search by words
    given = (("figures", request.figures), ("cases", request.cases), ("mcq", request.mcq), ("terms", request.terms))
    inputs = {name: files for name, files in given if files}
    word_folds = (request.folds or FOLDS) if request.image_words else 0
    measured = run_retrieval_bench(
        enc,
        settings,
        request.figures,
        request.cases,
        request.mcq,
        idx,
        request.split,
        request.folds,
        request.runs,
        request.names,
        word_folds,
        request.phrasing,
        stored,
        labels=request.labels,
        terms=request.terms,
    )
    options = {
        "encoder": enc.name,
        "folds": request.folds,
        "names": request.names,
        "labels": request.labels,
        "image_words": request.image_words,
        "phrasing": request.phrasing,
        "query_vectors": query_vectors,
    }
    return {"run": run_record(inputs, idx, options), **measured}


def show_retrieval(result: dict, request: RetrievalRequest) -> None:
    """Each task's tables and notes, what was left out and the TREC files written; then the JSON and the plot."""
    from pathatlas.retrieval.bench.common import plot_curves

    for task, body in result["tasks"].items():
        print_task(task, body)
    for task, why in result.get("left_out", {}).items():
        say_notes(task, {"notes": [f"left out: {why}"]})
    if written := sum(len(body.get("runs", [])) for body in result["tasks"].values()):
        console.print(f"wrote {written} TREC files to {request.runs}")
    write_json(request.json_out, result)
    if request.plot is not None:
        plot_curves(result, request.plot)
        console.print(f"wrote {request.plot}")


def unread_index_note(encoder: str) -> str:
    """What an ``--index`` given beside ``--figures`` alone does: nothing. It encodes its file's own images, so a
    researcher who named the index to measure it (or its encoder) is told so, not left to read figures of another
    thing."""
    return (
        f"not read: --figures encodes its file's own images with the encoder {encoder!r} (--encoder names another); "
        "--cases measures the index's own vectors of the folder's images, and --mcq, --names, --labels, --terms and "
        "--image-words search the index"
    )


@bench_app.command("tune-text")
@friendly_errors
def bench_tune_text_command(
    mcq: Annotated[Path, typer.Option(help="MCQ JSONL with gold pdf_pages (the dev questions).")],
    index: IndexOpt = None,
    folds: Annotated[int, typer.Option(min=2, help="Chapter folds for the held-out check.")] = 5,
    out: Annotated[Path, typer.Option(help="Ranker file to write; search uses it with PATHATLAS_RANKER_FILE.")] = Path(
        "bench-out/ranker.json"
    ),
    json_out: JsonFileOpt = None,
):
    """Fit the text ranker: held-out figures per fold and chapter beside BM25, then weights fitted on all questions.

    Each held-out table stands beside BM25 alone, dense alone and chance, with paired p.

    The ranker goes to --out, never over the one PathAtlas ships (an upgrade would drop it, and every index in the
    environment would rank by one book's questions); search uses it where PATHATLAS_RANKER_FILE names it."""
    from pathatlas.retrieval.bench import quiet_numba_casts
    from pathatlas.retrieval.bench.common import run_record, settle_query_vectors
    from pathatlas.retrieval.bench.pages import tune_text
    from pathatlas.retrieval.index import Index

    check_destination(out, "--out")
    check_destination(json_out, "--json")
    settings = settings_for(index)
    idx = Index.open(settings.index_dir, settings)
    query_vectors = settle_query_vectors(idx.encoder)
    with quiet_numba_casts():
        measured = tune_text(idx, mcq, folds, out)
    result = {"run": run_record({"mcq": mcq}, idx, {"folds": folds, "query_vectors": query_vectors}), **measured}
    print_task("text_to_page", result)
    console.print(f"wrote {result['written']}: search with it by PATHATLAS_RANKER_FILE={result['written']}")
    write_json(json_out, result)


QuestionsOpt = Annotated[Path, typer.Option(help="MCQ, image-MCQ, yes/no or open-question JSONL.")]
AnswererOpt = Annotated[
    str | None, typer.Option(help="offline or llm.", show_default="PATHATLAS_ANSWERER, else offline")
]
LimitOpt = Annotated[int | None, typer.Option(min=1, help="Only the first N questions.")]
"""The options ``bench qa`` and ``bench mcp`` share."""


@bench_app.command("peers")
@friendly_errors
def bench_peers_command(
    mcq: Annotated[Path, typer.Option(help="MCQ JSONL with gold pdf_pages (the dev questions).")],
    index: IndexOpt = None,
    folds: Annotated[
        int,
        typer.Option(
            help="Chapter folds: ours is refitted on the other folds and reported on each held out, as "
            "'bench retrieval --folds' does (the peers are tuned on nothing); 0: the shipped ranker."
        ),
    ] = 5,
    runs: Annotated[
        Path | None, typer.Option(help="Write qrels.txt and a TREC run per method (METHOD.trec) to this folder.")
    ] = None,
    peer_text: Annotated[
        str,
        typer.Option(
            help="The peers' page texts: 'index' (the page texts the index stores, as ours read them) or 'pdf' "
            "(each PDF page's PyMuPDF get_text(), as a peer's user loading the PDF reads it, running headers and all)."
        ),
    ] = "index",
    json_out: JsonFileOpt = None,
):
    """Text to page beside off-the-shelf peers: ours, BM25 alone, txtai hybrid, LangChain BM25+FAISS ensemble, chance.

    The peers index the page texts the index holds, in 1000-character chunks (LangChain's splitter), with the MiniLM
    PathAtlas ships; every method is scored by the questions, gold pages, folds and paired tests of
    'bench retrieval --mcq'. Needs pip install 'pathatlas\\[peers]'."""
    from pathatlas.retrieval.bench import quiet_numba_casts
    from pathatlas.retrieval.bench.common import run_record, settle_query_vectors
    from pathatlas.retrieval.bench.peers import check_peers, peers_bench
    from pathatlas.retrieval.index import Index

    if folds == 1 or folds < 0:
        raise BadInputError(f"--folds {folds}: use 0 (no folds) or at least 2")
    check_peers()
    check_destination(runs, "--runs", folder=True)
    check_destination(json_out, "--json")
    settings = settings_for(index)
    idx = Index.open(settings.index_dir, settings)
    query_vectors = settle_query_vectors(idx.encoder)
    with quiet_numba_casts():
        measured = peers_bench(idx, mcq, folds, runs=runs, text=peer_text)
    options = {"folds": folds, "peer_text": peer_text, "query_vectors": query_vectors}
    result = {"run": run_record({"mcq": mcq}, idx, options), **measured}
    print_task("text_to_page vs peers", result)
    chunks = result["peers"]["chunks"]["count"]
    for name, cost in result["peers"]["cost"].items():
        console.print(f"{name}: built over {chunks} chunks in {cost['build_s']} s, answered in {cost['search_s']} s")
    write_json(json_out, result)


QA_HEADERS = (
    "negated (n)",
    "ECE",
    "evidence hit@5",
    "p50 s",
    "p95 s",
    "no citation",
    "verbatim quote",
    "gold page quoted",
    "unusable replies",
    "failed",
)
"""The headers of ``row_cells``' cells after the score's, its interval's and the paired ones' (``vs_columns``)."""


def qa_table(result: dict, title: str) -> FittedTable:
    """Each mode's figures, a row each (`bench qa`), held-out rows first with folds (``shown_rows``), and chance's
    (``chance_row``); the score column is named by what it measures (token recall of open questions is no accuracy).
    A searching mode's row below no-rag or chance is marked as ``bench retrieval`` marks a default below a baseline
    (``below_mark``), in a last column. A column blank in every row (unusable replies of the offline answerer, gold
    page quoted without --open) is left out, as the caption says; a label's parenthesis ("in-sample (weights fitted on
    5 of these questions)") is said once in the caption, not wrapped over seven lines of every row. The JSON and
    report.md keep them all."""
    from pathatlas.agent.bench.rows import (
        HIT_AT_5,
        below_pairs,
        chance_row,
        held_out_rows,
        row_cells,
        shipped_label,
        shown_rows,
        vs_columns,
    )

    rows = shown_rows(result)
    folded = len(rows) > len(result["modes"])
    shipped = shipped_label(result)
    short, _, why = shipped.partition(" (")
    metric = result.get("metric", "accuracy")
    cells = [
        [label.replace(shipped, short), *row_cells(m), below_mark(pairs) if (pairs := below_pairs(m, metric)) else ""]
        for label, m in rows
    ]
    styles = [""] * len(cells)
    if baseline := chance_row(result):
        cells.append([baseline[0], *baseline[1], ""])
        styles.append("dim")
    headers = ["mode", metric, "95% CI", *vs_columns("95% CI"), *QA_HEADERS, ""]
    kept = [0] + [c for c in range(1, len(headers)) if any(row[c] for row in cells)]
    blank = [headers[c] for c in range(1, len(headers) - 1) if c not in kept]
    labels = held_out_rows(result) if folded else f"{short}: {why.rstrip(')')}" if why else ""
    said = [
        result.get("latency", ""),
        HIT_AT_5 if "evidence hit@5" not in blank else "",
        labels,
        f"left out, blank in every row: {', '.join(blank)}" if blank else "",
    ]
    return FittedTable(
        headers=tuple(headers[c] for c in kept),
        rows=tuple(tuple(row[c] for c in kept) for row in cells),
        styles=tuple(styles),
        title=title,
        caption="; ".join(filter(None, said)),
    )


@dataclass(frozen=True)
class FittedTable:
    """Rows of figures, each led by its label, printed as one table where it fits the console's width, else as
    several, each of as many of its columns as fit beside the labels: Rich fits a table too wide by cutting every
    cell to "0.…". No word of a cell or a header (a figure) is cut: a column is never narrower than its longest word.
    The title heads the first table, the caption closes them. ``rows`` hold Rich markup; ``styles``, one a row."""

    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    styles: tuple[str, ...]
    title: str
    caption: str

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        parts: list[list[int]] = [[]]
        for column in range(1, len(self.headers)):
            if parts[-1] and not fits(self.table([*parts[-1], column]), console, options):
                parts.append([])
            parts[-1].append(column)
        whole = len(parts) == 1
        for n, part in enumerate(parts):
            yield self.table(part, title=self.title if n == 0 else None, caption=self.caption if whole else None)
        if not whole:  # as wide as the console, not as the last table
            yield Text(self.caption, style="table.caption", justify="center")

    def table(self, columns: list[int], title: str | None = None, caption: str | None = None) -> Table:
        """The table of the labels and ``columns``."""
        shown = [0, *columns]
        table = Table(
            *(
                Column(self.headers[c], min_width=longest_word([self.headers[c], *(r[c] for r in self.rows)]))
                for c in shown
            ),
            title=title,
            caption=caption,
        )
        for row, style in zip(self.rows, self.styles, strict=True):
            table.add_row(*(row[c] for c in shown), style=style)
        return table


def longest_word(texts: list[str]) -> int:
    """The terminal cells the longest word of ``texts`` (Rich markup) takes: a column's least width."""
    return max((cell_len(word) for text in texts for word in Text.from_markup(text).plain.split()), default=1)


def fits(table: Table, console: Console, options: ConsoleOptions) -> bool:
    """Whether ``table`` renders within the console's width: a column held to its longest word (``FittedTable``)
    widens it past the width rather than cutting a figure."""
    lines = Segment.split_lines(console.render(table, options))  # uncropped, as ``render_lines`` would not be
    return all(Segment.get_line_length(line) <= options.max_width for line in lines)


SHOWN_GROUPS = range(2, 21)
"""How many groups (chapters, datasets, diagnoses) the terminal's by-group table lists; report.md lists every one."""


def group_table(result: dict, rows: list[tuple[str, int, list[str]]]) -> Table:
    """Each group's score per mode and its chance (``rows``: ``group_rows``), as report.md's by-group section lists
    them, then where modes searched each one's evidence hit@5 and its chance (``evidence_group_rows``: report.md's
    next section), so LC25000's tiles, where any tile of the diagnosis counts, show a chance near 0.87 beside their
    hits; a group where a searching mode scores below no-rag or chance is marked in red (``group_mark_words``)."""
    from pathatlas.agent.bench.rows import (
        evidence_group_columns,
        evidence_group_rows,
        group_columns,
        group_mark_words,
        weights_note,
    )

    hits = {group: cells for group, _, cells in evidence_group_rows(result)}
    hit_columns = [f"hit@5 {name}" for name in evidence_group_columns(result)] if hits else []
    marks = [f"[red]{mark}[/red]" if (mark := group_mark_words(result, group)) else "" for group, _, _ in rows]
    title = f"{result.get('metric', 'accuracy')} by group{weights_note(result)}"
    if hits:
        title += "; evidence hit@5 over the questions with gold evidence"
    table = Table("group", "n", *group_columns(result), *hit_columns, *([""] if any(marks) else []), title=title)
    for (group, n, cells), mark in zip(rows, marks, strict=True):
        table.add_row(
            escape(group), str(n), *cells, *hits.get(group, [""] * len(hit_columns)), *([mark] if any(marks) else [])
        )
    return table


def kind_table(result: dict) -> Table:
    """Each mode's score per question kind: right-or-wrong accuracy apart from open token recall."""
    table = Table("mode", "kind", "n", "metric", "score", "95% CI", title="by kind")
    for mode, m in result["modes"].items():
        for kind, k in m.get("by_kind", {}).items():
            ci = f"{k['ci95'][0]:.3f}-{k['ci95'][1]:.3f}"
            table.add_row(mode, kind, str(k["n"]), k["metric"], f"{k['score']:.3f}", ci)
    return table


SHOWN_FAILURES = 20
"""Failed rows said on stderr, one line each; the rest are counted (all are in report.md and --json)."""


def say_run_notes(result: dict) -> None:
    """A ``bench qa`` or ``bench mcp`` run's notes (what its figures are, and which it has none of), one stderr line
    each."""
    for note in result["notes"]:
        err_console.print(f"[yellow]note:[/yellow] {escape(note)}", highlight=False, soft_wrap=True)


def say_failures(lines: list[str]) -> None:
    for line in lines[:SHOWN_FAILURES]:
        err_console.print(f"[yellow]failed[/yellow] {escape(line)}", highlight=False, soft_wrap=True)
    if len(lines) > SHOWN_FAILURES:
        err_console.print(f"... and {len(lines) - SHOWN_FAILURES} more (report.md lists them)", highlight=False)


@bench_app.command("qa")
@friendly_errors
def bench_qa_command(
    questions: QuestionsOpt,
    index: IndexOpt = None,
    answerer: AnswererOpt = None,
    modes: Annotated[str, typer.Option(help="Comma-separated: no-rag, rag, agentic.")] = "no-rag,rag,agentic",
    limit: LimitOpt = None,
    folds: Annotated[
        int,
        typer.Option(
            help="Offline answerer: also refit its option weights and its open-answer confidence map on all but one "
            "fold of chapters, and report them held out."
        ),
    ] = 0,
    shuffle_seed: Annotated[
        int | None,
        typer.Option(
            "--shuffle-options",
            metavar="SEED",
            help="Ask each multiple-choice question with its options in a random order (fixed by SEED and the "
            "question's id; 'all of the above' keeps its place); answers and golds are recorded with the file's "
            "letters, so compare-qa against a run without it counts the answers the order changed.",
        ),
    ] = None,
    rounds: Annotated[
        int | None,
        typer.Option(help="Search rounds the agent may take.", show_default="PATHATLAS_AGENT_ROUNDS, else 1"),
    ] = None,
    open_questions: Annotated[
        bool,
        typer.Option(
            "--open",
            help="Ask multiple-choice questions without their options; score the share of the right option's words the "
            "answer says (token recall), and report how often it quotes a gold page.",
        ),
    ] = False,
    open_from_mcq: Annotated[
        bool,
        typer.Option(
            "--open-from-mcq",
            help="Ask as open questions only the multiple-choice stems answerable without their options (none that "
            "says 'which of the following', 'EXCEPT' or 'not', or whose right option is 'all of the above' or a long "
            "statement), scored as --open scores them; leave the others out.",
        ),
    ] = False,
    exclude_case: Annotated[
        bool,
        typer.Option(
            "--exclude-case",
            help="Keep every image of a question's gold case (gold.case, as the index's case id) out of its evidence, "
            "not only the question's own image: another photograph of the same slide gives the diagnosis away. An "
            "image without a case (an LC25000 tile) keeps its near-duplicates out too: the same tissue turned, "
            "mirrored or zoomed, found by pixels.",
        ),
    ] = False,
    out: Annotated[Path, typer.Option(help="Folder for report.md and plot.png.")] = Path("bench-out/qa"),
    json_out: JsonFileOpt = None,
    plot: Annotated[
        Path | None,
        typer.Option(
            help="Draw the plot to this file instead of plot.png in --out: .png (200 dpi), .pdf or .svg (vector, for "
            "a paper), or any other ending matplotlib writes."
        ),
    ] = None,
):
    """Accuracy (95% CI; open: token recall), evidence hit@5, latency, failures per mode, kind and chapter."""
    from pathatlas.agent.bench.report import INTERRUPTED

    request = QARequest(
        questions=questions,
        index=index,
        answerer=answerer,
        modes=[m.strip() for m in modes.split(",")],
        limit=limit,
        folds=folds,
        shuffle_seed=shuffle_seed,
        rounds=rounds,
        open_questions=open_questions,
        open_from_mcq=open_from_mcq,
        exclude_case=exclude_case,
        out=out,
        json_out=json_out,
        plot=plot,
    ).checked()
    result = run_qa(request)
    show_qa(result, request)
    if stopped := result.get("interrupted"):
        err_console.print(f"[yellow]interrupted:[/yellow] {stopped}; {INTERRUPTED}", highlight=False)
        raise typer.Exit(130)


@dataclass(frozen=True)
class QARequest:
    """``bench qa``'s options: the questions, how they are asked and answered, and where the results go."""

    questions: Path
    index: Path | None
    answerer: str | None
    modes: list[str]
    limit: int | None
    folds: int
    shuffle_seed: int | None
    rounds: int | None
    open_questions: bool
    open_from_mcq: bool
    exclude_case: bool
    out: Path
    json_out: Path | None
    plot: Path | None

    def checked(self) -> QARequest:
        """This request, refused in one line before anything loads where a mode or --folds is wrong or a result could
        not be written once done; its --plot as the file written (``plot_file``; plot.png in --out without one)."""
        from pathatlas.agent.bench.items import MODES

        if unknown := [m for m in self.modes if m not in MODES]:
            raise BadInputError(f"unknown mode {unknown[0]!r}: use {', '.join(MODES)}")
        if self.folds == 1 or self.folds < 0:
            raise BadInputError(f"--folds {self.folds}: use 0 (no folds) or at least 2")
        if self.open_questions and self.open_from_mcq:
            raise BadInputError("--open and --open-from-mcq: use one (--open asks every stem, answerable or not)")
        check_destination(self.out, "--out", folder=True)
        check_destination(self.json_out, "--json")
        plot = plot_file(self.plot or self.out / "plot.png")
        check_destination(plot, "--plot")
        return replace(self, plot=plot)


def run_qa(request: QARequest) -> dict:
    """Ask the questions in each mode (``QABench``): the result with its run record. What would stop the run or its
    plot (an answerer that cannot refit, no matplotlib, questions of sources the index lacks, folds the questions
    cannot fill) is refused before the answerer loads."""
    from pathatlas.agent.answerers import answerer_class, create_answerer
    from pathatlas.agent.bench.folds import check_refit, plan_refit
    from pathatlas.agent.bench.gold import check_sources
    from pathatlas.agent.bench.items import load_items, shuffle_options
    from pathatlas.agent.bench.open_questions import open_items
    from pathatlas.agent.bench.run import QABench
    from pathatlas.plugins import require
    from pathatlas.retrieval.bench.common import run_record, settle_query_vectors
    from pathatlas.retrieval.index import Index

    settings = settings_for(request.index, answerer=request.answerer, agent_rounds=request.rounds)
    check_refit(answerer_class(settings.answerer), request.folds)
    require("matplotlib", "plot")  # before the run, not after it: every run draws plot.png
    idx = Index.open(settings.index_dir, settings)
    items, failures = load_items(request.questions, settings.max_image_pixels, request.open_questions, request.limit)
    opened = open_items(items, request.questions) if request.open_from_mcq else None
    if opened:
        items = opened[0]
    if request.shuffle_seed is not None:
        items = [shuffle_options(item, request.shuffle_seed) for item in items]
    check_sources(items, idx, request.questions, request.modes)
    plan_refit(items, request.folds)  # refused here, before the answerer loads; its notes come with the result
    options = qa_options(request, settings, settle_query_vectors(idx.encoder))
    run = run_record({"questions": request.questions}, idx, options)
    answering = create_answerer(settings.answerer, settings, idx.encoder)
    bench = QABench(idx, answering, settings.agent_rounds, settings.agent_k, exclude_case=request.exclude_case)
    result = bench.run(items, failures, request.modes, folds=request.folds)
    if opened:
        result["notes"].insert(0, opened[1])
    return {"run": run, **result}


def qa_options(request: QARequest, settings: Settings, query_vectors: str | None) -> dict:
    """A ``bench qa`` run record's options: what answered, and how the questions were asked."""
    return {
        "answerer": settings.answerer,
        "model": settings.llm_model if settings.answerer == "llm" else None,
        "k": settings.agent_k,
        "rounds": settings.agent_rounds,
        "folds": request.folds,
        "open": request.open_questions,
        "open_from_mcq": request.open_from_mcq,
        "modes": request.modes,
        "exclude_case": request.exclude_case,
        "shuffle_options": request.shuffle_seed,
        "query_vectors": query_vectors,
    }


def show_qa(result: dict, request: QARequest) -> None:
    """The JSON first (the answers are the run's work; the tables, report and plot show them), then the tables, each
    mode's lines (``print_mode_lines``), failures and notes, and report.md in --out and the plot (--plot)."""
    from pathatlas.agent.bench.plot import plot_qa
    from pathatlas.agent.bench.report import markdown_report
    from pathatlas.agent.bench.rows import answered_phrase, failure_lines, group_rows

    write_json(request.json_out, result)
    name = request.questions.name
    console.print(qa_table(result, f"{name}: {answered_phrase(result)}, answerer {result['answerer']}"))
    if len(result["kinds"]) > 1:
        console.print(kind_table(result))
    if len(groups := group_rows(result)) in SHOWN_GROUPS:
        console.print(group_table(result, groups))
    print_mode_lines(result)
    say_failures(failure_lines(result))
    say_run_notes(result)
    request.out.mkdir(parents=True, exist_ok=True)
    (request.out / "report.md").write_text(markdown_report(result, f"QA benchmark: {name}"))
    plot_qa(result, request.plot)
    console.print(f"wrote {request.out / 'report.md'} and {request.plot}")


def print_mode_lines(result: dict) -> None:
    """Each mode's held-out figures (--folds: option weights, then open-answer confidence) and its answers by what
    the quotes name, a line each."""
    from pathatlas.agent.bench.outcomes import PAIRED_WITH
    from pathatlas.agent.bench.rows import paired_cells
    from pathatlas.agent.writing import NAMING

    for mode, m in result["modes"].items():
        if h := m.get("held_out"):
            paired = "".join(f", vs {b} {cell}" for b, cell in zip(PAIRED_WITH, paired_cells(h), strict=True) if cell)
            console.print(
                f"{mode}: weights refit on {h['folds'] - 1} of {h['folds']} chapter folds, held out: accuracy "
                f"{h['accuracy']:.3f}, ECE {h['ece']:.3f}"
                + (f", negated {h['negated']['accuracy']:.3f} (n={h['negated']['n']})" if h["negated"]["n"] else "")
                + paired
            )
        if h := m.get("held_out_open"):
            console.print(
                f"{mode}: open-answer confidence refit on {h['folds'] - 1} of {h['folds']} chapter folds, held out: "
                f"ECE {h['ece']:.3f} (raw coverage {h['coverage_ece']:.3f})"
            )
        if naming := m.get("by_naming"):
            console.print(
                f"{mode}: by what the quotes name: "
                + "; ".join(
                    f"{NAMING[k]} {s['n']} (accuracy {s['accuracy']:.3f}, confidence {s['confidence']:.3f})"
                    for k, s in naming.items()
                ),
                highlight=False,
            )


def read_qa_result(path: Path) -> dict:
    """A ``bench qa --json`` file, refused in one line when it is not one."""
    if not path.is_file():
        raise BadInputError(f"no such file: {path}")
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInputError(f"{path} is not JSON: {exc}") from None
    if (
        not isinstance(result, dict)
        or not isinstance(result.get("modes"), dict)
        or not isinstance(result.get("items"), list)
    ):
        raise BadInputError(f"{path} is not the JSON of 'pathatlas bench qa' (no modes and items)")
    return result


def share(split: dict | None, name: str) -> str:
    """``n (mean score)`` of one side of a settled split."""
    if split is None:
        return ""
    part = split[name]
    return f"{part['n']}" + (f" ({part['accuracy']:.3f})" if part["accuracy"] is not None else "")


HELD_OUT_PAIRED = " (held out: each chapter fold's answers with weights refit on the other folds)"
"""What ``compare-qa``'s caption says of held-out answers, where a mode pairs them."""


@bench_app.command("compare-qa")
@friendly_errors
def bench_compare_qa_command(
    before: Annotated[Path, typer.Argument(metavar="BEFORE", help="A 'bench qa --json' result: the run before.")],
    after: Annotated[Path, typer.Argument(metavar="AFTER", help="Another over the same questions: the run after.")],
    json_out: JsonFileOpt = None,
):
    """Two 'bench qa' runs compared question by question (exact McNemar p).

    Per mode: the accuracy before and after, questions gained and lost, the exact two-sided McNemar p, how many
    answers changed (another option or text, right or wrong alike), and the settled / unsettled split. Held-out
    answers are paired when both runs have them (--folds), every answer otherwise."""
    from pathatlas.agent.bench.compare import check_same_questions, compare_qa_runs, settled_note, unshared_modes
    from pathatlas.retrieval.bench.common import run_record

    first, second = read_qa_result(before), read_qa_result(after)
    if warning := check_same_questions(first, second):
        err_console.print(f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False, soft_wrap=True)
    modes = compare_qa_runs(first, second)
    if not modes:
        raise BadInputError(f"{before} and {after} share no mode")
    alone = unshared_modes(first, second)
    for mode, side in alone.items():
        err_console.print(f"{mode}: only in {before if side == 'before' else after}, not compared", highlight=False)
    held_out = any(m["answers"] == "held out" for m in modes.values())
    shipped = " (shipped weights)" if held_out else ""
    table = Table(
        "mode",
        "answers",
        "n",
        "before",
        "after",
        "gained",
        "lost",
        "McNemar p",
        "answers changed",
        *[f"{name}{shipped}" for name in ("settled before", "unsettled before", "settled after", "unsettled after")],
        title=f"{before} -> {after}",
        caption=f"accuracy over the paired questions{HELD_OUT_PAIRED if held_out else ''}; "
        + settled_note(first, second, held_out),
    )
    for mode, m in modes.items():
        accuracy = ["" if m[side] is None else f"{m[side]:.3f}" for side in ("before", "after")]
        settled = m["settled"]
        table.add_row(
            mode,
            m["answers"],
            str(m["n"]) + (f" (+{m['unpaired']} unpaired)" if m["unpaired"] else ""),
            *accuracy,
            f"+{m['gained']}",
            f"-{m['lost']}",
            f"{m['p']:.3g}",
            "not recorded" if m["changed"] is None else f"{m['changed']} of {m['n']}",  # held-out answers: --folds runs
            share(settled["before"], "settled"),
            share(settled["before"], "unsettled"),
            share(settled["after"], "settled"),
            share(settled["after"], "unsettled"),
        )
    console.print(table)
    record = run_record({"before": before, "after": after}, None, {})
    write_json(json_out, {"run": record, "before": str(before), "after": str(after), "modes": modes, "only_in": alone})


@bench_app.command("serve")
@friendly_errors
def bench_serve_command(
    index: IndexOpt = None,
    clients: Annotated[int, typer.Option(min=1, help="Concurrent clients.")] = 20,
    seconds: Annotated[float, typer.Option(min=1.0, help="How long the load runs (at least a second).")] = 30.0,
    think: Annotated[
        float,
        typer.Option(min=0.0, help="Seconds each client pauses between requests (±50%, seeded), as a student reads."),
    ] = 0.0,
    url: Annotated[
        str | None,
        typer.Option(
            help="Load the service running at this URL (its proxy's, with any path prefix) instead of starting one; "
            "PATHATLAS_API_TOKEN, when set, is sent as its bearer token."
        ),
    ] = None,
    after_upload: Annotated[
        int,
        typer.Option(
            min=0,
            help="Then upload this many one-page PDFs (POST /jobs), one at a time, to a copy of --index served on "
            "loopback, and time the first search after each commit, the first typo of the word it added, and the "
            "next searches. --index is left as it was.",
        ),
    ] = 0,
    upload_pause: Annotated[
        float,
        typer.Option(
            min=0.0,
            help="Seconds from an upload's job ending to the first search after it, as a lecturer reads that it is "
            "indexed (0: at once, while the service may still read the new words).",
        ),
    ] = 3.0,
    json_out: JsonFileOpt = None,
):
    """Throughput, p50/p95/p99 latency and errors of the REST service under load: on loopback, or at --url.

    One it starts on loopback over --index, or the one deployed at --url (its token from PATHATLAS_API_TOKEN). With
    --after-upload, then the searches after a lecturer's uploads, on a copy of --index."""
    from pathatlas.retrieval.bench.common import machine_record
    from pathatlas.ui.bench_serve import after_upload_table, bearer, bench_after_upload, bench_serve, check_copyable

    if after_upload and url is not None:
        raise BadInputError(
            "--after-upload uploads to a copy of --index served on loopback: the service at --url would keep them"
        )
    settings = settings_for(index)
    headers = bearer(settings.api_token)
    options = {"clients": clients, "seconds": seconds, "think_s": think}
    if url is None:
        options |= {"after_upload": after_upload, "upload_pause_s": upload_pause}
        run = loopback_record(settings, options | {"machine": machine_record()})
        if after_upload:
            check_copyable(run["store"])  # before the load
    else:
        if index is not None:
            say_notes("--index", {"notes": ["not read: the service at --url searches its own index"]})
        run = remote_record(url, headers, options)
    index_dir = None if url else settings.index_dir
    result = {"run": run, **bench_serve(index_dir, clients, seconds, base=url, think=think, headers=headers)}
    table = Table("kind", "n", "p50 ms", "p95 ms", "p99 ms", title=serve_title(result))
    for kind in ("text", "image", "ask"):
        m = result[kind]
        table.add_row(kind, str(m["n"]), *(shown_ms(m[p]) for p in ("p50_ms", "p95_ms", "p99_ms")))
    console.print(table)
    if kinds := result.get("error_kinds"):
        counts = ", ".join(f"{kind} ({count})" for kind, count in sorted(kinds.items()))
        console.print(f"errors by kind: {escape(counts)}", highlight=False)
    if after_upload:
        result["after_upload"] = bench_after_upload(settings, after_upload, upload_pause, headers)
        console.print(after_upload_table(result["after_upload"]))
    write_json(json_out, result)


def loopback_record(settings: Settings, options: dict) -> dict:
    """The run record of a service started on loopback, read from its index: opened here so that an unusable one
    fails before the server starts, and its query model settled (``settle_query_vectors``) before the server loads it,
    which then reads the same export."""
    from pathatlas.retrieval.bench.common import run_record, settle_query_vectors
    from pathatlas.retrieval.index import Index

    with Index.open(settings.index_dir, settings) as idx:
        served = {"store": idx.meta.store, "records": idx.store.count(), "service": "loopback"}
        return run_record({}, idx, options | {"query_vectors": settle_query_vectors(idx.encoder)}) | served


def remote_record(url: str, headers: dict[str, str], options: dict) -> dict:
    """The run record of the service at ``url``, from its ``GET /health``: a URL that cannot be measured, or holds a
    user, password or query, is refused there, before any load."""
    from pathatlas.retrieval.bench.common import run_record
    from pathatlas.ui.bench_serve import service_health, service_record

    health = service_health(url, headers)
    return run_record({}, None, options) | service_record(health) | {"service": url}


def serve_title(result: dict) -> str:
    """``bench serve``'s table title: the load (clients and their pace), what it got, how text queries were encoded."""
    run = result["run"]
    pace = f"think {run['think_s']} s ±50%" if run["think_s"] else "back to back"
    return (
        f"{run['clients']} clients ({pace}), {result['seconds']} s: {result['throughput_rps']} req/s, "
        f"{result['errors']} errors" + encoded_as(run.get("query_vectors"))
    )


def shown_ms(value: float | None) -> str:
    """A latency cell: "-" where nothing was measured (None: no request of that kind succeeded), never a 0.0 that
    reads as instant."""
    return "-" if value is None else str(value)


@bench_app.command("startup")
@friendly_errors
def bench_startup_command(
    index: IndexOpt = None,
    source: Annotated[
        Path | None, typer.Option(help="A source the index holds, re-indexed unchanged (skipped if not given).")
    ] = None,
    query: Annotated[str, typer.Option(help="The text query.")] = "koilocytes in cervical epithelium",
    image: Annotated[Path | None, typer.Option(help="An image to search by (skipped if not given).")] = None,
    repeats: Annotated[int, typer.Option(min=1, help="Fresh processes per command.")] = 3,
    json_out: JsonFileOpt = None,
):
    """Wall time of --help, info, a re-index, searches and serve until ready, each from a fresh process."""
    from pathatlas.retrieval.bench.common import machine_record, run_record
    from pathatlas.retrieval.index import Index
    from pathatlas.ui.bench_startup import bench_startup

    settings = settings_for(index)
    with Index.open(settings.index_dir, settings) as idx:  # its revisions; a bad index is refused here, in one line
        inputs = {name: given for name, given in (("source", source), ("image", image)) if given}
        run = run_record(inputs, idx, {"query": query, "repeats": repeats, "machine": machine_record()})
    measured = bench_startup(settings.index_dir, source, query, repeats, image)
    result = {"run": run, **measured}
    table = Table("command", "median s", "best s", "CPU s", "heavy imports", title=f"{repeats} fresh processes")
    for name, row in measured.items():
        modules = "not reported" if row["heavy_modules"] is None else ", ".join(row["heavy_modules"]) or "-"
        table.add_row(name, str(row["median_s"]), str(row["best_s"]), str(row["cpu_s"]), modules)
    console.print(table)
    write_json(json_out, result)


@bench_app.command("crash")
@friendly_errors
def bench_crash_command(
    trials: Annotated[int, typer.Option(help="Kills per store, spread over every durable step.")] = 100,
    stores: Annotated[str, typer.Option(help="Comma-separated stores.")] = "faiss,qdrant",
    workdir: Annotated[Path | None, typer.Option(help="Scratch folder (a tmpfs such as /dev/shm is fastest).")] = None,
    json_out: JsonFileOpt = None,
):
    """Kill 'pathatlas index' (and 'remove') with SIGKILL before each durable step; check every index it leaves."""
    from pathatlas.retrieval.bench.common import run_record
    from pathatlas.ui.bench_crash import run_crash_trials

    if workdir:
        workdir.mkdir(parents=True, exist_ok=True)
    store_names = [store.strip() for store in stores.split(",")]
    record = run_record(
        {}, None, {"trials": trials, "stores": store_names, "workdir": str(workdir) if workdir else None}
    )
    runs = []
    table = Table("store", "trials", "killed", "inconsistent", "re-run differs", "steps per scenario")
    for store in store_names:
        run = run_crash_trials(store, trials, workdir).to_dict()
        runs.append(run)
        table.add_row(
            store,
            str(run["trials"]),
            str(run["crashed"]),
            str(run["inconsistent"]),
            str(run["rerun_differs"]),
            ", ".join(map(str, run["steps"].values())),
        )
        for failure in run["failures"][:5]:
            console.print(f"[red]{failure}[/red]", highlight=False)
    console.print(table)
    write_json(json_out, {"run": record, "runs": runs})
    if any(r["inconsistent"] or r["rerun_differs"] or r["failures"] for r in runs):
        raise typer.Exit(1)


@bench_app.command("mcp")
@friendly_errors
def bench_mcp_command(
    questions: QuestionsOpt,
    index: IndexOpt = None,
    answerer: AnswererOpt = None,
    limit: LimitOpt = None,
    compare: Annotated[bool, typer.Option(help="Also ask every question in-process (bench qa's agentic).")] = True,
    json_out: JsonFileOpt = None,
):
    """Accuracy of questions asked through a `pathatlas mcp` process, beside the same agent in-process.

    One `ask` tool call per question. For answer-by-answer agreement run both under one PYTHONHASHSEED (the server
    inherits the environment)."""
    from pathatlas.agent.bench.outcomes import UNMEASURED
    from pathatlas.agent.bench.rows import answered_phrase, failure_lines
    from pathatlas.ui.bench_mcp import run_mcp_bench

    result = run_mcp_bench(settings_for(index, answerer=answerer), questions, limit, compare)
    table = Table(
        "mode",
        "accuracy",
        "95% CI",
        "p50 s",
        "p95 s",
        "failed",
        title=f"{questions.name}: {answered_phrase(result)}" + encoded_as(result["run"]["query_vectors"]),
        caption=result.get("latency"),
    )
    for mode, m in result["modes"].items():
        figures = [
            f"{m['accuracy']:.3f}",
            f"{m['ci95'][0]:.3f}-{m['ci95'][1]:.3f}",
            f"{m['p50_s']:.2f}",
            f"{m['p95_s']:.2f}",
        ]
        table.add_row(mode, *(figures if m["answered"] else [UNMEASURED] * len(figures)), str(m["failed"]))
    console.print(table)
    if "mcp_vs_agentic" in result:
        same = result["mcp_vs_agentic"]
        console.print(f"same answer through MCP as in-process: {same['same']} of {same['n']} questions")
    say_failures(failure_lines(result))
    say_run_notes(result)
    write_json(json_out, result)
