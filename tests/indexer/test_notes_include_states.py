"""A notes deck's state on disk (``fingerprints.on_disk``: ``pathatlas info``, the media routes) covers the Quarto
partials it includes, as ``index`` does: its stat signature counts them (``Source.included``, recorded in the manifest
as ``included``), so ``info`` never says "ok" of a deck that ``index`` would read again. Hashing encoder: no model is
the point."""

from __future__ import annotations

import json
import os
from pathlib import Path

from pathatlas.indexer.sources.fingerprints import stat_signature
from pathatlas.retrieval.index import Index
from tests.helpers import hashing_settings, note, run_cli
from tests.ui.test_cli_nested_index_and_trace import index_json, states_on_disk


def course(root: Path) -> tuple[Path, Path]:
    """``root/course`` holding week1.qmd, which includes _cells.qmd, and week2.qmd, which includes nothing; returns
    week1.qmd and its partial."""
    folder = root / "course"
    deck = note(folder, "week1.qmd", "## Granulomas\n\nCaseous necrosis.\n\n{{< include _cells.qmd >}}\n")
    note(folder, "week2.qmd", "## Fibrosis\n\nCollagen is laid down.\n")
    return deck, note(folder, "_cells.qmd", "Epithelioid cells.\n")


def statuses(root: Path, index: Path) -> dict[str, str]:
    """Each source's status after ``pathatlas index`` of the sources ``index`` holds, by file name."""
    return {Path(report["source"]).name: report["status"] for report in index_json(root, "--index", index)}


def entry_of(root: Path, index: Path, deck: Path) -> dict:
    """``deck``'s manifest entry, as ``pathatlas info --json`` lists it."""
    result = run_cli("info", "--index", index, "--json", home=root / "home")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["sources"][str(deck)]


def test_an_edited_partial_reads_its_deck_changed_until_it_is_indexed_again(tmp_path):
    deck, partial = course(tmp_path)
    index = tmp_path / "idx"
    index_json(tmp_path, deck.parent, "--index", index)
    assert states_on_disk(tmp_path, index) == {"week1.qmd": "ok", "week2.qmd": "ok"}
    partial.write_text("Langhans giant cells.\n")
    assert states_on_disk(tmp_path, index) == {"week1.qmd": "changed", "week2.qmd": "ok"}
    shown = run_cli("info", "--index", index, home=tmp_path / "home")
    assert "1 source(s) changed on disk since they were indexed" in shown.output
    assert statuses(tmp_path, index) == {"week1.qmd": "indexed", "week2.qmd": "unchanged"}, "as index finds them"
    assert states_on_disk(tmp_path, index) == {"week1.qmd": "ok", "week2.qmd": "ok"}
    assert entry_of(tmp_path, index, deck)["included"] == [str(partial)]


def test_a_deck_whose_include_is_deleted_or_written_again_reads_changed(tmp_path):
    deck, partial = course(tmp_path)
    index = tmp_path / "idx"
    index_json(tmp_path, deck.parent, "--index", index)
    partial.unlink()
    assert states_on_disk(tmp_path, index) == {"week1.qmd": "changed", "week2.qmd": "ok"}
    assert statuses(tmp_path, index) == {"week1.qmd": "indexed", "week2.qmd": "unchanged"}
    assert states_on_disk(tmp_path, index)["week1.qmd"] == "ok", "read without it"
    assert entry_of(tmp_path, index, deck).get("included") == [str(partial)], "still named: its state counts"
    partial.write_text("Epithelioid cells.\n")
    assert states_on_disk(tmp_path, index)["week1.qmd"] == "changed", "written again: the deck pastes it in"
    assert statuses(tmp_path, index)["week1.qmd"] == "indexed"


def test_a_partial_written_after_its_deck_was_indexed_changes_the_deck(tmp_path):
    deck, partial = course(tmp_path)
    partial.unlink()
    index = tmp_path / "idx"
    index_json(tmp_path, deck.parent, "--index", index)
    assert states_on_disk(tmp_path, index)["week1.qmd"] == "ok"
    partial.write_text("Langhans giant cells.\n")
    assert states_on_disk(tmp_path, index)["week1.qmd"] == "changed"
    assert statuses(tmp_path, index)["week1.qmd"] == "indexed", "as index finds it"


def test_a_partial_saved_again_as_it_was_keeps_its_deck_and_index_records_its_new_state(tmp_path):
    deck, partial = course(tmp_path)
    index = tmp_path / "idx"
    index_json(tmp_path, deck.parent, "--index", index)
    before = entry_of(tmp_path, index, deck)["stat"]
    stamp = partial.stat().st_mtime_ns + 5_000_000_000
    os.utime(partial, ns=(stamp, stamp))
    assert states_on_disk(tmp_path, index)["week1.qmd"] == "ok", "the same words: the same deck"
    assert statuses(tmp_path, index)["week1.qmd"] == "unchanged"
    after = entry_of(tmp_path, index, deck)
    assert after["stat"] != before, "the partial's new time recorded: the next check reads nothing"
    assert after["stat"] == stat_signature(deck, [str(partial)])


def test_an_entry_recorded_before_includes_were_counted_is_read_as_before_until_indexed_again(tmp_path):
    deck, partial = course(tmp_path)
    index = tmp_path / "idx"
    index_json(tmp_path, deck.parent, "--index", index)
    settings = hashing_settings(tmp_path, index=index)
    with Index.open(index, settings) as held:  # week1.qmd's entry as an earlier version recorded it
        manifest = held.manifest
        old = {k: v for k, v in manifest[str(deck)].items() if k != "included"} | {"stat": stat_signature(deck)}
        held.commit({**manifest, str(deck): old})
    assert states_on_disk(tmp_path, index) == {"week1.qmd": "ok", "week2.qmd": "ok"}
    assert statuses(tmp_path, index) == {"week1.qmd": "unchanged", "week2.qmd": "unchanged"}
    assert entry_of(tmp_path, index, deck).get("included") == [str(partial)], "recorded as it is found unchanged"
    assert "included" not in entry_of(tmp_path, index, deck.parent / "week2.qmd"), "none: its entry reads as before"
    partial.write_text("Langhans giant cells.\n")
    assert states_on_disk(tmp_path, index)["week1.qmd"] == "changed"
