"""Readers for the shared benchmark formats (MCQ JSONL, figures JSONL, case folders)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retrieval.errors import BadInputError


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise BadInputError(f"no such dataset file: {path}")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise BadInputError(f"{path} line {number} is not JSON: {exc.msg}") from exc
    return rows


@dataclass
class MCQ:
    id: str
    question: str
    options: list[str]
    answer: str | None = None
    image: Path | None = None
    gold: dict[str, Any] = field(default_factory=dict)
    chapter: str | None = None

    @property
    def gold_pages(self) -> set[int]:
        pages = self.gold.get("pdf_pages")
        return set(range(pages[0], pages[-1] + 1)) if pages else set()

    def search_text(self) -> str:
        return " ".join([self.question, *self.options])


def read_mcq(path: Path) -> list[MCQ]:
    items = []
    for row in read_jsonl(path):
        image = row.get("image")
        items.append(
            MCQ(
                id=str(row.get("id", len(items))),
                question=row.get("question") or "",
                options=list(row.get("options") or []),
                answer=row.get("answer"),
                image=(path.parent / image) if image else None,
                gold=row.get("gold") or {},
                chapter=row.get("chapter"),
            )
        )
    return items
