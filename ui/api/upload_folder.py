"""The home's upload folders (``<PATHATLAS_HOME>/uploads/<upload id>/``): one per upload, claimed while its upload and
job run, marked as one index's, and swept once no source of that index names it. Which indexed sources came from
which folder, and which earlier uploads a new one replaces by its name, are read here; the index is written elsewhere
(``IndexWriter``, ``Jobs``), through the ``Index`` given."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from contextlib import suppress
from pathlib import Path
from typing import NamedTuple

from filelock import FileLock, Timeout

from pathatlas.retrieval.index import Index
from pathatlas.retrieval.records import display_name
from pathatlas.settings import OWNER_FILE, UPLOADS
from pathatlas.ui.api.jobs import CLAIM_FILE
from pathatlas.ui.api.uploads import CONTENT_MARK


class Uploaded(NamedTuple):
    """An upload as stored: its own folder under ``uploads/`` holds one entry, the PDF or notes file under the name it
    was sent as or the folder a zip was unpacked into (the zip's name without ``.zip``)."""

    folder: str
    name: str
    unpacked: bool


def stored_as(path: Path) -> tuple[str, bool]:
    """The (name, unpacked) an upload at ``path`` is stored by in its folder (``Uploaded``): a PDF or notes file by its
    name, a zip, before it is unpacked too, as the folder it unpacks to (its name without ``.zip``)."""
    if path.suffix.lower() == ".zip":
        return path.stem, True
    return path.name, path.is_dir()


def content_marks(folder: Path) -> frozenset[str]:
    """The content marks of an upload folder (``mark_content``): its bytes', and a zip's case folders' once unpacked."""
    return frozenset(mark.name for mark in folder.glob(f"{CONTENT_MARK}*"))


def claim_upload(folder: Path, index: Path) -> FileLock:
    """Make an upload's folder, claimed (so no sweep takes it) and then marked as ``index``'s; the claim is held until
    its job ends."""
    folder.mkdir(parents=True)
    claim = FileLock(folder / CLAIM_FILE, thread_local=False)  # the job's thread releases it
    claim.acquire(timeout=0)  # a new folder: nobody else can hold it
    try:
        (folder / OWNER_FILE).write_text(str(index.resolve()), encoding="utf-8")
    except BaseException:  # the caller gets no claim to release: its lock's handle must not leak
        claim.release()
        raise
    return claim


def uploaded_to(folder: Path, index: Path) -> bool:
    """Whether an upload folder is marked as ``index``'s (``claim_upload``): several indexes may share the uploads."""
    try:
        return (folder / OWNER_FILE).read_text(encoding="utf-8") == str(index.resolve())
    except (OSError, UnicodeDecodeError):
        return False


def sweep_unclaimed(folder: Path, index: Path) -> bool:
    """Delete an upload folder of ``index`` that no process claims; whether it did. A folder without a mark (made by
    an older version, or being made now) is left alone. A claim that cannot be taken for another reason (a ``.claim``
    of another user, a read-only home) raises its OSError."""
    if not uploaded_to(folder, index):
        return False
    claim = FileLock(folder / CLAIM_FILE, thread_local=False)
    try:
        claim.acquire(timeout=0)
    except Timeout:
        return False
    try:
        shutil.rmtree(folder, ignore_errors=True)
    finally:
        claim.release()
    return not folder.exists()


def replaced_words(replaced: Iterable[str], now: set[str]) -> str:
    """What replacing an earlier upload did to its sources (``replaced``, keys), by name: those this upload holds too
    were read again from it, the others removed. "removed: week1.qmd, ..." read as if a re-sent course had lost every
    deck."""
    names = sorted({display_name(key) for key in replaced})
    again, gone = [n for n in names if n in now], [n for n in names if n not in now]
    said = ([f"read again from this upload: {', '.join(again)}"] if again else []) + (
        [f"removed, not in this upload: {', '.join(gone)}"] if gone else []
    )
    return "; ".join(said)


def named_uploads(keys: Iterable[str]) -> dict[str, Path]:
    """The upload ids the sources' recorded paths name (``.../uploads/<upload id>/<name>``), each with the uploads
    folder it is recorded under: that of the home it was uploaded to, which need not be this process's (a home moved,
    a backup restored elsewhere, a volume mounted at another path). A user's own folder named "uploads" may add an id
    no upload has: it only keeps a folder of that name from a sweep."""
    named: dict[str, Path] = {}
    for key in keys:
        parts = Path(key).parts
        for at, part in enumerate(parts[:-2]):
            if part == UPLOADS:
                named.setdefault(parts[at + 1], Path(*parts[: at + 1]))
    return named


def moved_uploads(named: dict[str, Path], uploads: Path) -> dict[Path, list[str]]:
    """The upload folders under ``uploads`` whose sources the index records under another uploads folder (``named``),
    their ids by that folder. A link from it to ``uploads`` counts as the same folder."""
    here = uploads.resolve()
    moved: dict[Path, list[str]] = {}
    for upload_id, recorded in sorted(named.items()):
        if (uploads / upload_id).is_dir() and recorded.resolve() != here:
            moved.setdefault(recorded, []).append(upload_id)
    return moved


def moved_warning(recorded: Path, uploads: Path, upload_ids: list[str]) -> str:
    """The line saying that upload folders of ``uploads`` are indexed as under ``recorded``, and what to do."""
    old_home, home = recorded.parent, uploads.parent
    return (
        f"{len(upload_ids)} upload folder(s) in {uploads} hold sources the index records under {recorded} "
        f"(PATHATLAS_HOME moved, or restored elsewhere?): kept. Their files are read where recorded, so where those "
        f"are gone their PDFs, page previews and case images answer 410: put the home back at {old_home} (move it, or "
        f"'ln -s {home} {old_home}'), or index the folders from here and remove the old copies (README, Backups): "
        f"{', '.join(upload_ids)}"
    )


def held_names(folder: Path) -> str:
    """What an upload folder holds (its PDF, or the folder its zip unpacked to), its marks left out; "" where it
    cannot be listed (another user's: ``sweep_unclaimed`` leaves it)."""
    with suppress(OSError):
        return ", ".join(sorted(entry.name for entry in folder.iterdir() if not entry.name.startswith(".")))
    return ""


def sources_of(index: Index, upload: Path) -> list[str]:
    """The index's sources that came from one upload folder."""
    return [key for key in index.manifest if Path(key).is_relative_to(upload.resolve())]


class Swept(NamedTuple):
    """What a sweep of the upload folders did (``UploadFolder.sweep``)."""

    removed: dict[str, str]
    """Each folder deleted, with what it held (``held_names``)."""
    moved: list[str]
    """A ``moved_warning`` for each uploads folder of another home that the index records sources under."""


class UploadFolder:
    """The uploads folder of this process's home, read against an ``Index`` the caller gives: the live one to serve,
    a writer's to change."""

    def __init__(self, path: Path):
        self.path = path

    def uploaded(self, key: str) -> Uploaded | None:
        """Where a source came from, if it came from an upload (None for files indexed in place): an upload folder of
        this home's uploads. A source recorded under another home's (``named_uploads``: the home moved, a backup
        restored elsewhere) is one where this home holds its folder, so removing it removes that folder, not the one
        recorded. A key is data, not a trusted path: only plain names under this home's uploads are looked at."""
        uploads = self.path.resolve()
        for folder, recorded in named_uploads([key]).items():
            name = Path(key).relative_to(recorded).parts[1]
            if ".." in (folder, name):  # "uploads/../home" would name the home itself
                continue
            if recorded == uploads or (uploads / folder).is_dir():
                return Uploaded(folder, name, (uploads / folder / name).is_dir())
        return None

    def uploaded_from(self, key: str, upload: Path) -> bool:
        """Whether the source ``key`` came from the upload of folder ``upload``."""
        return (uploaded := self.uploaded(key)) is not None and uploaded.folder == upload.name

    def replaced_by(self, index: Index, upload: Path, paths: Iterable[Path]) -> dict[str, str]:
        """The sources of ``index`` that the upload of folder ``upload``, stored as ``paths``, replaces once it is
        indexed, each with its upload folder: every source that came from an earlier upload of its name (a zip's case
        folders are named by what they hold, not by the zip). Names are compared as stored (``stored_as``), which
        tells apart names sent differently (``safe_name``)."""
        sent = {stored_as(path) for path in paths}
        return {  # all found before any folder goes: ``uploaded`` looks at the folder
            key: older.folder
            for key in index.manifest
            if (older := self.uploaded(key)) is not None
            and older.folder != upload.name
            and (older.name, older.unpacked) in sent
        }

    def replacement_refusal(self, index: Index, upload: Path, paths: Iterable[Path], name: str) -> str | None:
        """Why the upload of folder ``upload`` (``paths``, sent as ``name``) needs the lecturer's token, in one line:
        it would replace an earlier upload of its name (``replaced_by``) that held other bytes. None where it replaces
        none, or only uploads of the very same bytes sent again (their content marks alike), which replace as ever."""
        marks = content_marks(upload)
        replaced = set(self.replaced_by(index, upload, paths).values())
        if not replaced or (marks and all(marks <= content_marks(self.path / older) for older in replaced)):
            return None
        return (
            f"{name} is the name of an indexed upload: replacing it needs the lecturer's token (PATHATLAS_API_TOKEN); "
            "upload it under another name"
        )

    def replace_older(self, target: Index, upload: Path, paths: list[Path]) -> str | None:
        """Remove from ``target`` the earlier uploads that the upload of folder ``upload`` (``paths``), committed to
        it, replaces (``replaced_by``), their folders too where they are ``target``'s (``uploaded_to``; another index
        sharing the home still serves its own); what went, in words (``replaced_words``), None where nothing did."""
        replaced = self.replaced_by(target, upload, paths)
        for key in replaced:
            target.remove_source(key)
        for folder in set(replaced.values()):
            if uploaded_to(self.path / folder, target.path):
                shutil.rmtree(self.path / folder, ignore_errors=True)
        if not replaced:
            return None
        now = {display_name(key) for key in target.manifest if self.uploaded_from(key, upload)}
        return replaced_words(replaced, now)

    def remove_unused(self, key: str, index: Index) -> None:
        """Delete the upload folder the removed source ``key`` came from, where it is ``index``'s (``uploaded_to``) and
        no source of ``index`` comes from it any longer. Indexes sharing the home share its uploads: a copy of an index
        (a backup served beside it) names the original's folders, and removing a source through the copy deleted the
        files the original still serves."""
        upload = self.uploaded(key)
        if upload is None or not uploaded_to(self.path / upload.folder, index.path):
            return
        if not any(self.uploaded(k) == upload for k in index.manifest):
            shutil.rmtree(self.path / upload.folder, ignore_errors=True)

    def sweep(self, index: Index) -> Swept:
        """Delete the upload folders of ``index`` that no source of it names (``named_uploads``) and no process claims
        (``sweep_unclaimed``); a claim that cannot be taken raises its OSError. The caller holds the index's write
        lock, so no writer commits a source of a folder meanwhile."""
        named = named_uploads(index.manifest)
        unused = [folder for folder in self.path.iterdir() if folder.name not in named and folder.is_dir()]
        held = {folder.name: held_names(folder) for folder in unused}
        removed = {name: held[name] for name in held if sweep_unclaimed(self.path / name, index.path)}
        moved = [moved_warning(recorded, self.path, ids) for recorded, ids in moved_uploads(named, self.path).items()]
        return Swept(removed, moved)
