"""Progress bars drawn only on a terminal, so a run whose stderr goes to a file (``2>log``) leaves messages there,
not bars; progress messages go to stderr too, beside the bars and the logs."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import Any

from tqdm.auto import tqdm


def stderr_is_terminal() -> bool:
    """Whether a bar has somewhere to be drawn: stderr is a terminal, or a Jupyter kernel's (whose stderr is no
    terminal, but ``tqdm.auto`` draws its bars as widgets in the notebook). Asked at each call, not at import: a caller
    or a test may point stderr elsewhere after this module loads."""
    return "ipykernel" in sys.modules or (sys.stderr is not None and sys.stderr.isatty())


def progress(iterable: Iterable | None = None, *, disable: bool = False, **options: Any) -> tqdm:
    """``tqdm(iterable, **options)``, off when stderr is not a terminal; ``disable`` is the call's own reason to
    hide it (too few batches to be worth a bar)."""
    return tqdm(iterable, disable=disable or not stderr_is_terminal(), **options)


def batched(ask: Callable[[list], list], items: list, size: int, **options: Any) -> list:
    """``ask`` of ``items`` ``size`` at a time, its answers in order, under a ``progress`` bar of the items
    (``options``: its ``desc``, ``unit``...) moving a batch at a time: a bench's searches, which one call would make
    without a sign for minutes."""
    answers: list = []
    with progress(total=len(items), **options) as bar:
        for start in range(0, len(items), size):
            batch = items[start : start + size]
            answers += ask(batch)
            bar.update(len(batch))
    return answers


def progress_note(line: str) -> None:
    """One progress message on stderr, above any bar being drawn (``tqdm.write`` alone writes to stdout)."""
    tqdm.write(line, file=sys.stderr)
