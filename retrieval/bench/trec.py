"""A retrieval task's per-question results as TREC files (qrels, and one run per method) that ranx, trec_eval and
pytrec_eval read: a reader recomputes every reported figure, tests another metric or pairs runs of two versions."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from pathlib import Path
from urllib.parse import quote

from pathatlas.retrieval.durable import write_atomic


def token(text: str) -> str:
    """Text as one TREC token and file name part: letters, digits and ``-_.~+`` stay, anything else is %-quoted."""
    return quote(text, safe="+")


def doc_id(item: Hashable) -> str:
    """A ranked item as a TREC document id, which holds no whitespace: a page ``(source, page)`` as its quoted source
    and page number ("A%20P.pdf:p12", as ``write_trec`` names the source: ``file_names``), anything else as its text."""
    if is_page(item):
        source, page = item
        return f"{quote(str(source))}:p{page}"
    return quote(str(item))


def is_page(item: Hashable) -> bool:
    """Is a ranked item a page, ``(source, page)``?"""
    return isinstance(item, tuple) and len(item) == 2


def file_names(items: Iterable[Hashable]) -> dict[str, str]:
    """Each page source among ``items`` -> its file name where no other source among them has that name, else its
    path as indexed: ids that do not carry the folder a book was indexed from, so runs of an index built elsewhere
    match these qrels."""
    names = {str(item[0]): Path(str(item[0])).name for item in items if is_page(item)}
    counts = Counter(names.values())
    return {source: name if name and counts[name] == 1 else source for source, name in names.items()}


def by_file_name(item: Hashable, names: dict[str, str]) -> Hashable:
    """A page with its source as ``file_names`` names it; anything else as it is."""
    return (names[str(item[0])], item[1]) if is_page(item) else item


def qrels_text(query_ids: Sequence[str], gold: Sequence[set]) -> str:
    """``query 0 document 1`` per relevant item, in query order then document id order (a query id quoted as
    ``doc_id`` quotes, which leaves letters, digits and ``-_.~/`` as they are)."""
    return "".join(
        f"{quote(query)} 0 {doc} 1\n"
        for query, relevant in zip(query_ids, gold, strict=True)
        for doc in sorted(map(doc_id, relevant))
    )


def run_text(
    query_ids: Sequence[str], ranked: Sequence[Sequence], name: str, ties: Sequence[Sequence[int]] | None = None
) -> str:
    """``query Q0 document rank score name`` per ranked item; scores fall with rank (items ranked minus rank), so a
    reader that sorts by score keeps the order. ``ties``: each query's runs of tied scores (lengths, in order), each
    run written with one score (its first item's), as the ranker tied them: TREC allows it, and a tie-aware reader can
    score the run at its expected value as the JSON does; trec_eval orders equal scores by document id, descending
    (ranx as its sort leaves them), so its figure is one order's. A query ranking nothing has no line (ranx:
    ``make_comparable=True`` scores it 0)."""
    lines = []
    for n, (query, items) in enumerate(zip(query_ids, ranked, strict=True)):
        starts = run_starts(ties[n] if ties else [1] * len(items))
        lines += [
            f"{quote(query)} Q0 {doc_id(item)} {rank} {len(items) - start} {token(name)}\n"
            for rank, (item, start) in enumerate(zip(items, starts, strict=True), start=1)
        ]
    return "".join(lines)


def flat(ranked: dict[str, Sequence[Sequence]]) -> list[Hashable]:
    """Every item every method ranks for any query."""
    return [item for lists in ranked.values() for items in lists for item in items]


def run_starts(sizes: Sequence[int]) -> list[int]:
    """Each item's run's first position (0-based), from the runs' lengths: what its tied score is counted from."""
    starts: list[int] = []
    for size in sizes:
        starts.extend([len(starts)] * size)
    return starts


def write_trec(
    folder: Path,
    query_ids: Sequence[str],
    gold: Sequence[set],
    ranked: dict[str, Sequence[Sequence]],
    fold_of: Sequence[int] | None = None,
    per_fold: Sequence[str] = (),
    task: str = "",
    ties: dict[str, Sequence[Sequence[int]]] | None = None,
) -> list[Path]:
    """``qrels.txt`` and ``METHOD.trec`` per method over every query; with ``fold_of``, also ``qrels.foldN.txt`` and,
    for the methods in ``per_fold`` (chosen per fold), ``METHOD.foldN.trec`` over fold N's queries alone (their file
    over every query is then the pooled held-out run). ``task``: the JSON's task key, which then names the files
    (``qrels.TASK.txt``, ``TASK.METHOD.trec``, a ``:`` as ``.``) so several tasks share a folder. ``ties``: a method's
    runs of tied scores by name (``run_text``), its lists running through the tie at the cut. A page's source is named
    by its file name where that is unique among the files' pages (``file_names``). Returns the files written."""
    ties = ties or {}
    names = file_names([*(item for relevant in gold for item in relevant), *flat(ranked)])
    gold = [{by_file_name(item, names) for item in relevant} for relevant in gold]
    ranked = {
        name: [[by_file_name(item, names) for item in items] for items in lists] for name, lists in ranked.items()
    }
    folder.mkdir(parents=True, exist_ok=True)
    prefix = token(task.replace(":", ".")) + "." if task else ""
    files = {folder / f"qrels.{prefix}txt": qrels_text(query_ids, gold)}
    files |= {
        folder / f"{prefix}{token(name)}.trec": run_text(query_ids, lists, name, ties.get(name))
        for name, lists in ranked.items()
    }
    for fold in sorted(set(fold_of or ())):
        mine = [i for i, f in enumerate(fold_of) if f == fold]
        ids = [query_ids[i] for i in mine]
        files[folder / f"qrels.{prefix}fold{fold}.txt"] = qrels_text(ids, [gold[i] for i in mine])
        for name in per_fold:
            files[folder / f"{prefix}{token(name)}.fold{fold}.trec"] = run_text(
                ids, [ranked[name][i] for i in mine], name, [ties[name][i] for i in mine] if name in ties else None
            )
    for path, text in files.items():
        write_atomic(path, text.encode())
    return list(files)
