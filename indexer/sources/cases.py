"""Case folders: images plus ``cases.jsonl`` or ``labels.csv`` metadata (schema in the README)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from pathatlas.errors import BadInputError
from pathatlas.indexer.records import Case, Record
from pathatlas.indexer.sources.base import Source, hash_files
from pathatlas.retrieval.datasets import read_case_metadata
from pathatlas.retrieval.images import open_image, thumbnail

METADATA_FILES = ("cases.jsonl", "labels.csv")
KNOWN_FIELDS = {"image", "case", "title", "diagnosis", "organ", "description"}
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".tif", ".tiff", ".webp", ".bmp", ".gif")
"""Raster image files a case may name: the API serves a case image back, and a file named .html or .svg, whatever it
holds, is not one to keep."""


def group_cases(rows: list[dict[str, str]]) -> dict[str, list[dict[str, str]]]:
    """Rows sharing a ``case`` value form one case; a row without one is a case of its own."""
    cases: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        case_id = row.get("case") or Path(row["image"]).stem
        cases.setdefault(case_id, []).append(row)
    return cases


class CaseFolderSource(Source):
    kind = "cases"
    reads_settings = ("case_keypoints",)  # switched on or off, the images are read again for their keypoints

    @classmethod
    def accepts(cls, path: Path) -> bool:
        return path.is_dir() and any((path / name).is_file() for name in METADATA_FILES)

    @property
    def metadata_path(self) -> Path:
        return next(self.path / name for name in METADATA_FILES if (self.path / name).is_file())

    def _rows(self) -> list[dict[str, str]]:
        return read_case_metadata(self.metadata_path)

    def _image_paths(self, rows: list[dict[str, str]]) -> list[Path]:
        paths = []
        for row in rows:
            path = (self.path / row["image"]).resolve()
            if not path.is_relative_to(self.path):
                raise BadInputError(f"{self.metadata_path}: image path {row['image']!r} leaves the case folder")
            paths.append(path)
        return paths

    def fingerprint(self) -> str:
        rows = self._rows()
        paths = [self.metadata_path, *(p for p in self._image_paths(rows) if p.is_file())]
        return hash_files(paths, self.reading())

    def size_hint(self) -> int:
        return len(self._rows())

    def records(self) -> Iterator[Record]:
        fingerprint = self.fingerprint()
        for case_id, rows in group_cases(self._rows()).items():
            images = []
            for row, path in zip(rows, self._image_paths(rows), strict=True):
                if path.suffix.lower() not in IMAGE_SUFFIXES:
                    self.problems.append(f"{path}: not an image file ({', '.join(IMAGE_SUFFIXES)})")
                    continue
                try:
                    image = open_image(path, self.settings.max_image_pixels)
                except BadInputError as exc:
                    self.problems.append(str(exc))
                    continue
                images.append((row["image"], thumbnail(image, 1024)))
            if not images:
                continue
            first = rows[0]
            labels = {k: v for row in rows for k, v in row.items() if k not in KNOWN_FIELDS}
            yield Case(
                source=self.key,
                fingerprint=fingerprint,
                case_id=case_id,
                images=images,
                title=first.get("title", ""),
                description=first.get("description", ""),
                diagnosis=first.get("diagnosis") or first.get("label"),
                organ=first.get("organ"),
                labels=labels,
            )
