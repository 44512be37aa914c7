"""Uploads holding what the index or another upload already holds: indexed beside it, each of its pages, slides or cases
would be found and cited twice, once by an upload id. ``check_copies`` is the one look an upload gets, for its bytes as
sent and again for what a zip unpacked to; what it refuses is a ``HeldElsewhereError`` (409), naming what holds it.
An upload holding what the earlier upload of its name holds, unchanged, is no copy: ``unchanged_upload`` finds it, and
its job ends at once (``unchanged_job``)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from pathatlas.errors import PathAtlasError
from pathatlas.indexer.pipeline import SAME_CONTENT, holds_unchanged, indexed_copy
from pathatlas.indexer.sources import CaseFolderSource, NotesSource, PdfSource, Source, discover
from pathatlas.indexer.sources.fingerprints import content_hash, earlier_contents
from pathatlas.indexer.sources.notes import NOTE_SUFFIXES
from pathatlas.retrieval.index import Index, Manifest
from pathatlas.retrieval.records import display_name, distinct_names, source_id
from pathatlas.retrieval.text import composed
from pathatlas.settings import Settings
from pathatlas.ui.api.indexing import Jobs
from pathatlas.ui.api.jobs import Job, claimed
from pathatlas.ui.api.upload_folder import UploadFolder, sources_of, uploaded_to
from pathatlas.ui.api.uploads import MEMBER_MARK, UploadRefusedError, mark_content, marked_uploads, replaces, shown

CONTENT_CHECK = threading.Lock()
"""Held while an upload's content (its bytes, a zip's case folders) is looked for in the index and the other uploads
and then marked as its own (``refuse_held``): two uploads of the same content sent at once must not both pass the look.
One process's lock: servers sharing an uploads folder see each other's marks, but two of them may still both pass at
the same moment."""


class HeldElsewhereError(UploadRefusedError):
    """An upload whose content an indexed source or another upload holds, or a zip left with nothing to index once
    such files are left out (409)."""


class TwinWords(NamedTuple):
    """How a 409 for content already held words it."""

    same_as: str
    """What the upload is to the sources or the upload holding it."""
    came_from: str
    """What indexed sources holding it are said to have come from."""
    twice: str
    """What would appear twice."""


TWIN_WORDS = {
    ".pdf": TwinWords(SAME_CONTENT[PdfSource.kind], "", "its pages"),
    ".zip": TwinWords(SAME_CONTENT[PdfSource.kind], "the zip of ", "each of its sources"),
    **dict.fromkeys(NOTE_SUFFIXES, TwinWords(SAME_CONTENT[NotesSource.kind], "", "its slides")),
    CaseFolderSource.kind: TwinWords(SAME_CONTENT[CaseFolderSource.kind], "", "its cases"),
}
"""By an upload's suffix (its bytes), or a source kind (a case folder a zip unpacked to), the words of its 409."""
DOCUMENT_KINDS = (PdfSource.kind, NotesSource.kind)
"""The sources of a zip that are one file each, left out where held elsewhere (``held_documents``)."""
IN_ITS_PLACE = "to index this upload in its place, remove {those} first (DELETE /sources/{removal})"
"""How the lecturer indexes an upload refused (409) for what indexed sources hold: it is sent again then."""
ZIP_COPY_INSTEAD = "to index the zip's copy instead, remove {those} (DELETE /sources/{removal}) and send the zip again"
"""``IN_ITS_PLACE`` for a zip's member left out (``held_documents``): it is gone from the upload, so the zip is sent
again."""


def check_copies(jobs: Jobs, upload: Path, name: str) -> list[str]:
    """Refuse (``HeldElsewhereError``), in one line naming the upload as sent (``name``), an upload whose bytes
    (``upload`` a file) or case folders (``upload`` the folder a zip unpacked to) the index or another upload holds,
    and mark what it holds as its own (``refuse_held``). A zip's PDFs and notes files so held are left out instead
    (``held_documents``): the notes naming them are returned. The zip's bytes tell little of its case folders: the same
    folder zipped again, or by another tool, makes another zip, and one indexed from disk was never zipped. What cannot
    be read or holds nothing to index is left to its job, which says why."""
    if not upload.is_dir():
        if (content := content_hash(upload)) is not None:
            refuse_held(jobs, upload, name, {content: TWIN_WORDS[upload.suffix.lower()]})
        if upload.suffix.lower() != ".zip":  # a zip's name is no source's
            refuse_namesake(jobs, upload, name)
        return []
    try:
        sources = discover([upload], jobs.engine.settings)
    except PathAtlasError:
        return []
    refuse_held(jobs, upload, name, case_folder_contents(sources, jobs.engine.index.manifest))
    return held_documents(jobs, upload, name, sources)


def refuse_namesake(jobs: Jobs, upload: Path, name: str) -> None:
    """Refuse (``HeldElsewhereError``) a PDF or notes file sent alone (``upload``, sent as ``name``) under the name of
    an indexed source it does not replace (``replaces_source``): a zip's deck, a book indexed from disk. Beside it,
    each would be cited by the folders telling them apart, the upload by its upload id
    ("f1d2d6c61158/tuberculosis.qmd"), and an upload with the upload token would change how the lecturer's sources are
    cited. Sent to replace a zip's deck, it would lie outside the zip's folder: the refusal says to send the zip again,
    or to remove that deck first. A source missing on disk is passed over, as ``indexed_copy`` passes it over: the
    upload may be it, moved, and its job's notes say how to drop the old copy."""
    manifest, uploads, stored = jobs.engine.index.manifest, jobs.uploads, composed(upload.name)
    namesakes = (key for key in manifest if composed(display_name(key)) == stored and Path(key).exists())
    if (key := next((key for key in namesakes if not replaces_source(uploads, upload, key)), None)) is None:
        return
    held = manifest[key].get("id") or source_id(key)
    second = "sent alone, it would be a second source of that name, each cited otherwise"
    removal = f"remove that source first (DELETE /sources/{held})"
    if (zipped := uploads.uploaded(key)) is not None and zipped.unpacked:
        zip_name = f"{zipped.name}.zip"
        raise HeldElsewhereError(
            f"{name} is the name of a source of {zip_name} (id {held}), already indexed: {second}; to replace it, send "
            f"{zip_name} again holding it, or {removal}"
        )
    raise HeldElsewhereError(
        f"{name} is the name of an indexed source (id {held}): {second}; upload it under another name, or {removal}"
    )


def replaces_source(uploads: UploadFolder, upload: Path, key: str) -> bool:
    """Whether the upload ``upload`` (its file, or the folder its zip unpacked to) replaces the source ``key`` once
    indexed: that source came from an earlier upload of its name."""
    earlier = uploads.uploaded(key)
    return earlier is not None and (earlier.name, earlier.unpacked) == (upload.name, upload.is_dir())


def case_folder_contents(sources: list[Source], manifest: Manifest) -> dict[str, TwinWords]:
    """The contents (``content_hash``, and as an earlier index hashed them: ``earlier_contents``) of the case folders
    among ``sources``, each with the words of its 409."""
    held = manifest.values()
    folders = [source for source in sources if source.kind == CaseFolderSource.kind]
    contents = (c for source in folders for c in [source.content_hash(), *earlier_contents(source, held)])
    return dict.fromkeys(filter(None, contents), TWIN_WORDS[CaseFolderSource.kind])


def held_documents(jobs: Jobs, unpacked: Path, name: str, sources: list[Source]) -> list[str]:
    """The PDFs and notes files of the folder a zip unpacked to (``unpacked``, holding ``sources``) whose bytes an
    indexed source or another upload holds (``twin_refusal``), or a file of the zip kept before them: each removed,
    and named in a job's note with what holds it, as ``pathatlas index`` of a folder skips such a copy
    (``Indexer._held_elsewhere``). Not a 409, as a lone file's, where the zip's other sources are new; a 409 in one
    line naming each (the zip sent as ``name``) where none is, as its job could only fail. The files kept are marked as
    the upload's (``MEMBER_MARK``) in one step with the look, as ``refuse_held`` marks a lone file: of a zip and a lone
    copy of its file sent at once, the second is told of the first, whichever it is."""
    documents = hashed_documents(sources, unpacked.resolve())  # hashed before the look, which holds up other uploads
    with CONTENT_CHECK:
        notes, kept = [], {}
        for member, path, content in documents:
            if (held := copy_of(jobs, unpacked, path, content, kept)) is None:
                kept[content] = member
                continue
            path.unlink()
            notes.append(f"left out {member}: {held}")
        if len(notes) == len(sources):
            raise HeldElsewhereError(f"nothing left to index in {name}: {'; '.join(notes)}")
        for content in kept:
            mark_content(unpacked.parent, content, MEMBER_MARK)
    return notes


def hashed_documents(sources: list[Source], root: Path) -> list[tuple[str, Path, str]]:
    """The PDFs and notes files of ``sources`` (found in the folder ``root``, resolved), each as (its path in the zip,
    its path, its ``content_hash``); one that cannot be read is left to its job, which says why."""
    documents = ((source.path, source.content_hash()) for source in sources if source.kind in DOCUMENT_KINDS)
    return [(path.relative_to(root).as_posix(), path, content) for path, content in documents if content is not None]


def copy_of(jobs: Jobs, unpacked: Path, path: Path, content: str, kept: dict[str, str]) -> str | None:
    """What holds the file ``path`` of the folder a zip unpacked to (``unpacked``), holding ``content``: a file of the
    zip ``kept`` before it (by content, its path in the zip), an indexed source or another upload
    (``twin_refusal``), in a note's words; None where nothing does."""
    words = TWIN_WORDS[path.suffix.lower()]
    if (first := kept.get(content)) is not None:
        return f"{path.name} {words.same_as} {first} of this zip: {words.twice} would appear twice"
    return twin_refusal(jobs, unpacked, path.name, content, words, ZIP_COPY_INSTEAD)


def refuse_held(jobs: Jobs, upload: Path, name: str, contents: dict[str, TwinWords]) -> None:
    """Refuse the upload ``upload`` (its PDF or zip, or the folder a zip unpacked to) where the index or another
    upload holds one of ``contents`` (``twin_refusal``, worded as each says). The lecturer who meant to replace that
    source is told how. The contents taken are marked as this upload's (``mark_content``) in one step with the look, so
    that of two uploads of them sent at once the second is refused as it is after the first."""
    with CONTENT_CHECK:
        for content, words in contents.items():
            if refusal := twin_refusal(jobs, upload, name, content, words):
                raise HeldElsewhereError(refusal)
        for content in contents:
            mark_content(upload.parent, content)


def twin_refusal(
    jobs: Jobs, upload: Path, name: str, content: str, words: TwinWords, instead: str = IN_ITS_PLACE
) -> str | None:
    """Why the upload ``upload`` holding ``content`` is refused: a source of the index holding it (``indexed_twin``),
    or another upload of this index marked with it, not yet indexed (its folder still claimed) or indexed, or a zip not
    yet indexed holding it (``MEMBER_MARK``); None where there is none. Not an earlier upload this one replaces
    (``replaces``). ``instead``: how the lecturer indexes it in place of indexed sources."""
    engine, uploads = jobs.engine, jobs.uploads
    manifest = engine.index.manifest
    if (key := indexed_twin(uploads, manifest, upload, content)) is not None:
        return same_file(manifest, [key], name, words, instead)
    for folder in other_uploads(engine.index, upload, marked_uploads(uploads.path, content)):
        if claimed(folder):
            return not_yet_indexed(jobs, folder, name, words)
        if keys := sources_of(engine.index, folder):
            return same_file(manifest, keys, name, words, instead)
    for folder in other_uploads(engine.index, upload, marked_uploads(uploads.path, content, MEMBER_MARK)):
        if claimed(folder):  # once indexed, the manifest holds what its files hold
            return not_yet_indexed(jobs, folder, name, words, "a file of ")
    return None


def other_uploads(index: Index, upload: Path, folders: list[Path]) -> Iterator[Path]:
    """The upload folders of ``folders`` uploaded to ``index`` (``uploaded_to``) which the upload ``upload`` does
    not replace (``replaces``)."""
    return (folder for folder in folders if not replaces(upload, folder) and uploaded_to(folder, index.path))


def indexed_twin(uploads: UploadFolder, manifest: Manifest, upload: Path, content: str) -> str | None:
    """The source of ``manifest`` holding the content (``content``) of the upload ``upload`` (a PDF, or a case folder
    of the folder a zip unpacked to: ``indexed_copy``), bar an earlier upload of its name, which this one replaces."""
    return indexed_copy(manifest, content, lambda key: replaces_source(uploads, upload, key))


def same_file(manifest: Manifest, keys: list[str], name: str, words: TwinWords, instead: str) -> str:
    """The refusal of an upload holding what the sources ``keys`` hold (a PDF, or what a zip unpacked to), naming them
    as GET /sources does, and how to index it ``instead`` of them."""
    names, ids = distinct_names(manifest), [manifest[key].get("id") or source_id(key) for key in keys]
    held = shown([f"{names.get(key, display_name(key))} (id {source})" for key, source in zip(keys, ids, strict=True)])
    those, removal = ("that source", ids[0]) if len(ids) == 1 else ("those sources", "{id} for each")
    return (
        f"{name} {words.same_as} {words.came_from}{held}, already indexed: {words.twice} would appear twice; "
        + instead.format(those=those, removal=removal)
    )


def not_yet_indexed(jobs: Jobs, folder: Path, name: str, words: TwinWords, within: str = "") -> str:
    """The refusal of an upload holding the bytes of the upload of ``folder`` (``within``: of a file of it, a zip's),
    not yet indexed: named with its job where this process runs it."""
    job = next((job for job in list(jobs.by_id.values()) if job.upload == folder), None)  # a copy: jobs are added
    other = f"{job.source} (job {job.id})" if job else "another upload"
    return f"{name} {words.same_as} {within}{other}, not yet indexed: {words.twice} would appear twice"


def unchanged_job(
    jobs: Jobs, upload: Path, sent: Path, stored: Path, notes: list[str], may_replace: bool
) -> Job | None:
    """The job done at once (``Jobs.unchanged``) for an upload holding, unchanged, what the earlier upload of its name
    holds (``unchanged_upload``; ``notes``: the upload's own), looked at and answered under the index's write lock: a
    removal of those sources (DELETE /sources) between the look and the answer would leave nothing indexed while the
    client is told it is. None where there is no such upload, or a write of this process runs: the upload is then
    indexed as any, after that write."""
    with jobs.writer.unless_writing() as free:
        if not free or (keys := unchanged_upload(jobs, upload, sent, stored)) is None:
            return None
        return jobs.unchanged(sent.name, keys, notes, may_replace)


def unchanged_upload(jobs: Jobs, upload: Path, sent: Path, stored: Path) -> list[str] | None:
    """The sources of the earlier upload of its name that the upload of folder ``upload`` holds (``sent``: its file as
    stored; ``stored``: that file, or the folder its zip unpacked to), where it holds those and nothing else, each of
    the content the index recorded for it (``content_hash``) and unchanged as ``pathatlas index`` finds a file
    unchanged (``unchanged_source``): its job would read them all again only to replace the earlier upload by its
    copy. None where there is no such upload, the upload holds anything else (other bytes; a zip's member left out
    then, or removed since), or another upload of its name is still taken or indexed (the last to end is kept)."""
    index, uploads, settings = jobs.engine.index, jobs.uploads, jobs.engine.settings
    earlier = uploads.replaced_by(index, upload, [stored])
    if len(folders := set(earlier.values())) != 1 or namesake_in_flight(uploads.path, upload, sent, index.path):
        return None
    older = uploads.path / folders.pop()
    try:
        fresh, held = placed(stored, upload, settings), placed(older / stored.name, older, settings)
        if fresh.keys() != held.keys() or {source.key for source in held.values()} != earlier.keys():
            return None
        counts, manifest = index.record_counts(), index.manifest
        for place, source in held.items():
            if fresh[place].content_hash() != manifest[source.key].get("content"):
                return None
            if not unchanged_source(manifest, counts, source):
                return None
    except (OSError, PathAtlasError):  # the earlier upload removed meanwhile, or unreadable: its job says why
        return None
    return sorted(earlier)


def placed(path: Path, folder: Path, settings: Settings) -> dict[Path, Source]:
    """The sources found at ``path`` (``discover``, as a job finds them), by their place in the upload ``folder``."""
    return {Path(source.key).relative_to(folder.resolve()): source for source in discover([path], settings)}


def unchanged_source(manifest: Manifest, counts: Counter[str], source: Source) -> bool:
    """Whether ``pathatlas index`` finds ``source`` unchanged (``Indexer._add_source``): its fingerprint (its path, its
    bytes, its reader's version and settings) as ``manifest`` recorded it, and the store holding all its records
    (``counts``: ``Index.record_counts``)."""
    return source.key in manifest and holds_unchanged(manifest.get(source.key), source.fingerprint(), counts)


def namesake_in_flight(uploads: Path, upload: Path, sent: Path, index: Path) -> bool:
    """Whether an upload to ``index`` other than the upload of folder ``upload`` holds a file of ``sent``'s name
    (``replaces``) and is still taken or indexed (``claimed``)."""
    folders = (folder for folder in uploads.iterdir() if folder != upload and replaces(sent, folder))
    return any(uploaded_to(folder, index) and claimed(folder) for folder in folders)
