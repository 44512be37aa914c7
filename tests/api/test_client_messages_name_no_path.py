"""Client messages name no server path, and name the rest whole: an index given as a relative path, an index whose
folder name is a common word found elsewhere in the message ("book", "index"), a home beside the index that shares its
name's start. Hashing encoder, no index on disk (the engine serves it empty)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from pathatlas.settings import Settings
from pathatlas.ui.api.engine import Engine
from tests.helpers import hashing_settings


def served(index: Path, home: Path) -> SimpleNamespace:
    """What ``Engine.relative`` reads of an engine serving ``index`` with ``home``: for index folders no test can
    make ("/book", "/index")."""
    return SimpleNamespace(index=SimpleNamespace(path=index), uploads=home / "uploads", settings=Settings(home=home))


@pytest.mark.parametrize("name", ["book", "index"])
def test_an_index_named_by_a_common_word_does_not_mangle_other_paths(name):
    engine = served(Path(f"/{name}"), Path("/home/pa/.pathatlas"))
    upload = f"/home/pa/.pathatlas/uploads/ab12/{name}.pdf is damaged; the {name} at /{name} is unchanged"
    assert Engine.relative(engine, upload) == f"ab12/{name}.pdf is damaged; the {name} at {name} is unchanged"
    elsewhere = f"/srv/{name}/a.pdf and /{name}-old/b.pdf"  # not the index: left whole, not cut into "/srv{name}"
    assert Engine.relative(engine, elsewhere) == elsewhere
    assert Engine.relative(engine, f"no page 9 in /{name}.") == f"no page 9 in {name}."


def test_a_relative_index_and_a_home_beside_it_leave_no_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    engine = Engine(hashing_settings(Path("."), home=Path("lib/book-home"), index=Path("lib/book")))
    try:
        root = tmp_path.resolve()
        messages = {
            f"{root}/lib/book/write.lock is held": "book/write.lock is held",
            f"cannot read {root}/lib/book-home/uploads/ab12/x.pdf": "cannot read ab12/x.pdf",
            f"{root}/lib/book-notes.pdf: not a PDF": "book-notes.pdf: not a PDF",
            "lib/book and /mnt/lib/book/x stay as written": "lib/book and /mnt/lib/book/x stay as written",
        }
        assert {message: engine.relative(message) for message in messages} == messages
    finally:
        engine.close()
