"""Uploaded files (a PDF, lecture notes, a zip of them or of case folders): size-limited while they stream to disk,
stored under names PathAtlas chooses, zips unpacked within caps (bytes, members) and only as plain files inside their
folder."""

from __future__ import annotations

import codecs
import errno
import hashlib
import os
import re
import shutil
import stat
import threading
import unicodedata
import zipfile
import zlib
from collections.abc import Collection, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path, PurePosixPath
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

from pathatlas.errors import BadInputError, PathAtlasError
from pathatlas.indexer.sources import discover, unrendered_notes
from pathatlas.indexer.sources.cases import HEIC_SUFFIXES, IMAGE_SUFFIXES, METADATA_FILES, CaseFolderSource, name_key
from pathatlas.indexer.sources.notes import (
    NOTE_SUFFIXES,
    PARTIAL_PREFIX,
    PROJECT_FILES,
    NotesSource,
    left_out_of_folders,
    markdown,
    read_note,
)
from pathatlas.indexer.sources.pdf import mupdf_alone
from pathatlas.retrieval.images import document_kind
from pathatlas.retrieval.text import JOINERS, composed
from pathatlas.settings import Settings

CHUNK = 1 << 20
NAME_CHARS = 100
SUFFIX_CHARS = 10
"""Longest suffix kept whole when a long name is shortened: the type (".pdf", ".zip") is read from it."""
NAME_BYTES = 200
"""Most bytes a stored name takes in UTF-8 (file systems allow 255): 100 characters of Chinese take 300."""
TAG_DIGITS = 8
TAGGED = re.compile(rf"~[0-9a-f]{{{TAG_DIGITS}}}$")
"""A stem ending as ``name_tag`` ends a changed name: a name sent that way is tagged too, so it cannot stand for
another."""
CUT = "\u2026"
"""What stands for the middle a long name loses (an ellipsis: one character, three bytes in UTF-8)."""
UNSAFE_CHARS = frozenset('/\\:*?"<>|')
NO_ROOM = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
"""OS errors saying the machine has no room for what is written (a full disk, a used-up quota, a file over the size
``ulimit -f`` or the file system allows): 507 Insufficient Storage, since the request itself was fine."""


class UploadRefusedError(PathAtlasError):
    """An upload refused as it is taken, in one line saying why; each kind is answered with its own status
    (``app.UPLOAD_REFUSALS``)."""


class UploadTooLargeError(UploadRefusedError):
    """Over a cap: the upload's bytes, or a zip's members or the bytes they unpack to (413)."""


class UnusableZipError(UploadRefusedError):
    """A zip that is not unpacked: not a zip, damaged, a bomb, or a member that is unsafe or cannot be written (400)."""


class NoRoomError(UploadRefusedError):
    """The disk holding the uploads has no room to unpack a zip now: the server's lack, not the request's (507)."""


def safe_name(name: str | None, default: str) -> str:
    """A client's file name reduced to a plain base name, at most ``NAME_CHARS`` long (and ``NAME_BYTES`` in UTF-8,
    which the file system counts) with its suffix kept; it never becomes a path. Letters of any script stay (a book
    named in Chinese keeps its name); separators, control and format characters, and leading dots (hidden files,
    "..") go. The suffix (the type: ".pdf", ".zip") is read from the name as sent, so a name with nothing else
    usable still has it, after ``default``.

    A name this changed (cut short, a character dropped or replaced) ends its stem with ``name_tag`` of the name as
    sent: an upload replaces an earlier one of the same stored name, and two names sent differently ("<a>.pdf" and
    "a.pdf", two long names sharing their first 100 characters) must not share one. A name cut short keeps its
    beginning and its end (``shortened``)."""
    sent = sent_name(name)
    base = " ".join("".join("_" if unsafe_char(c) else c for c in sent).split())
    stem, dot, suffix = base.rpartition(".")
    if not dot or not 0 < len(suffix) < SUFFIX_CHARS or not suffix.isalnum():  # a long "suffix" is no type
        stem, suffix = base, ""
    else:
        suffix = "." + suffix
    stem = stem.strip(" ._") or default
    if stem + suffix == sent and not TAGGED.search(stem) and fits(sent):
        return sent
    ending = name_tag(sent) + suffix
    return stem + ending if fits(stem + ending) else shortened(stem, ending, default)


def sent_name(name: str | None) -> str:
    """The base name of a file as a client sent it ("" for none), composed (NFC): what it is stored by (``safe_name``)
    and named by in a refusal. A browser may send a path ("C:\\fakepath\\slide.png")."""
    return composed((name or "").replace("\\", "/").rsplit("/", 1)[-1])


def shortened(stem: str, ending: str, default: str) -> str:
    """The longest ``stem`` + ``ending`` that ``fits``, the stem's middle left out (``cut``): the end of a long name
    often tells it from its siblings (part A, week 2), and its beginning says what it is."""
    names = (cut(stem, kept, default) + ending for kept in range(min(len(stem), NAME_CHARS) - 1, -1, -1))
    return next(name for name in names if fits(name))  # keeping none of the stem, it fits


def cut(stem: str, kept: int, default: str) -> str:
    """The first two thirds and the last third of ``kept`` characters of ``stem``, joined by ``CUT``
    ("Pathology_lecture_notes_…partA_week1")."""
    tail = kept // 3
    return (stem[: kept - tail].rstrip(" ._") or default) + CUT + stem[len(stem) - tail :].lstrip(" ._")


def fits(name: str) -> bool:
    """Whether a name is within ``NAME_CHARS`` and ``NAME_BYTES``."""
    return len(name) <= NAME_CHARS and len(name.encode("utf-8", "surrogatepass")) <= NAME_BYTES


def name_tag(sent: str) -> str:
    """A tilde and ``TAG_DIGITS`` hex digits of a hash of the name as sent."""
    digest = hashlib.sha256(sent.encode("utf-8", "surrogatepass")).hexdigest()
    return f"~{digest[:TAG_DIGITS]}"


def unsafe_char(char: str) -> bool:
    """Path separators, characters Windows forbids in names, and control, format or unassigned code points (zero-width
    joiners excepted: some scripts spell words with them)."""
    return char in UNSAFE_CHARS or (unicodedata.category(char)[0] == "C" and char not in JOINERS)


def save_limited(sent: BinaryIO, target: Path, limit_bytes: int) -> None:
    """Copy an upload's bytes (``sent``: the file Starlette spooled it to) to ``target`` a chunk at a time, stopping
    at the limit (the file is removed then). It blocks: a route calling it is a plain ``def``, which FastAPI runs in a
    worker thread."""
    written = 0
    with target.open("wb") as handle:
        while chunk := sent.read(CHUNK):
            written += len(chunk)
            if written > limit_bytes:
                handle.close()
                target.unlink()
                raise UploadTooLargeError(f"upload is over the limit of {limit_bytes // (1 << 20)} MB")
            handle.write(chunk)


PDF_HEADER = b"%PDF-"
HEADER_BYTES = 1024
"""How far into a file PDF readers look for ``PDF_HEADER``: Acrobat, and MuPDF without repairing the file, take what
some mail gateways and web servers put before it."""
JUNK_BYTES = 1 << 20
"""How far into an upload named .pdf ``PDF_HEADER`` is looked for when it is not within ``HEADER_BYTES``: the bytes
before it are cut (``without_junk``). MuPDF opens such a file only by repairing it, and reading the repaired file
it warns of every stream ("PDF stream Length incorrect": the indexer refuses it as damaged), while the file from its
header on reads as written (pymupdf 1.28.2, with 1 KB, 4 KB, 64 KB and 1 MB of junk before a book). No further: a
gateway's or server's lines are far shorter, and each look past the first kilobyte asks MuPDF, which took 6 s over
a 200 MB text file."""
UPLOAD_TYPES = {
    ".pdf": ("a PDF", f"no {PDF_HEADER.decode()} header in its first {HEADER_BYTES} bytes"),
    ".zip": ("a zip file", "no zip directory at its end: not a zip, or cut short"),
}
"""What an upload's suffix says it is, as a refusal names it, and what showed it is not."""
UPLOAD_SUFFIXES = (*UPLOAD_TYPES, *NOTE_SUFFIXES)
"""What an upload may be: a PDF, a zip, or lecture notes, each read as ``pathatlas index`` reads it."""
NOTES_TEXT = "Markdown or Quarto text"
BINARY_STARTS = {
    PDF_HEADER: "a PDF",
    b"\x89PNG\r\n\x1a\n": "a PNG image",
    b"PK\x03\x04": "a zip file",
    b"PK\x05\x06": "a zip file",  # an empty one
}
"""How files sent by mistake as notes begin: a deck's PDF, a slide's picture, a zipped course folder."""
UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
"""Text in UTF-16 holds NUL bytes, yet is no binary file: its job fails in the notes reader's line (save it as
UTF-8)."""


def type_problem(path: Path, name: str) -> str | None:
    """Why the upload stored at ``path`` is not what its suffix says (``UPLOAD_TYPES``, ``NOTES_TEXT``), in one line
    naming it as sent (``name``); None where it is. Read at once as its reader reads it (a zip from its end, notes by
    their first bytes: ``binary_sign``): a text file named .pdf was taken (202) and its job failed later, while an
    image named .png was refused on the spot. A notes file's other limits (its size, UTF-8) are its reader's, said by
    its job."""
    with path.open("rb") as handle:
        head = handle.read(HEADER_BYTES)
    suffix = path.suffix.lower()
    if suffix in NOTE_SUFFIXES:
        why = binary_sign(head) or pdf_behind_junk(path)
        return not_of_type(name, head, NOTES_TEXT, why or "") if why or not head else None
    if PDF_HEADER in head if suffix == ".pdf" else zipfile.is_zipfile(path):
        return None
    return not_of_type(name, head, *UPLOAD_TYPES[suffix])


def binary_sign(head: bytes) -> str | None:
    """What shows that an upload named as notes, whose first bytes are ``head``, is a binary file: the start of
    another kind of file (``BINARY_STARTS``), or a NUL byte; None where nothing does."""
    if kind := next((kind for start, kind in BINARY_STARTS.items() if head.startswith(start)), None):
        return f"it begins as {kind} does"
    if b"\0" in head and not head.startswith(UTF16_BOMS):
        return f"it holds binary data: a NUL byte in its first {HEADER_BYTES} bytes"
    return None


def pdf_behind_junk(path: Path) -> str | None:
    """What shows that an upload named as notes is a PDF ``binary_sign`` does not see: other bytes before its
    ``PDF_HEADER`` (a mail gateway's lines, as ``without_junk`` cuts from one named .pdf), binary data (``utf8_text``),
    and MuPDF opening it. Notes whose words name the header are no PDF to MuPDF, and notes teaching a PDF's structure
    with a whole small PDF in a code block, which MuPDF opens, are text throughout. None where it is none."""
    start = pdf_header_at(path)
    if start <= 0 or utf8_text(path) or not mupdf_opens(path):
        return None
    return f"it is a PDF after {start} bytes of other data"


def utf8_text(path: Path) -> bool:
    """Whether the file at ``path`` is UTF-8 text throughout, without a NUL byte, as Markdown is; a PDF's compressed
    streams are not. Read a ``CHUNK`` at a time, and before MuPDF, which took seconds over a large text file."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                if b"\0" in chunk:
                    return False
                decoder.decode(chunk)
        decoder.decode(b"", final=True)  # a character cut off at the end
    except UnicodeDecodeError:
        return False
    return True


def pdf_header_at(path: Path) -> int:
    """Where ``PDF_HEADER`` begins within the first ``JUNK_BYTES`` of the file at ``path``; -1 where it does not."""
    with path.open("rb") as handle:
        return handle.read(JUNK_BYTES).find(PDF_HEADER)


def without_junk(path: Path) -> int:
    """Cut from the upload named .pdf at ``path`` what comes before its ``PDF_HEADER`` where that lies past
    ``HEADER_BYTES`` but within ``JUNK_BYTES`` (a mail gateway's or a web server's lines), and MuPDF opens the rest as a
    PDF: the number of bytes cut, 0 where none were. The file from its header on is the PDF as it was written."""
    start = pdf_header_at(path)
    if start == -1 or start + len(PDF_HEADER) <= HEADER_BYTES:  # none, or where readers take it (``type_problem``)
        return 0
    rest = path.with_name(".without-junk")
    with path.open("rb") as source, rest.open("wb") as sink:
        source.seek(start)
        shutil.copyfileobj(source, sink, CHUNK)
    if not mupdf_opens(rest):  # a text that names the header: refused as having none (``type_problem``)
        rest.unlink()
        return 0
    rest.replace(path)
    return start


def junk_note(cut: int) -> str:
    """A job's note for an upload ``without_junk`` cut ``cut`` bytes from."""
    return f"the {cut} bytes before its {PDF_HEADER.decode()} header (a mail gateway's or a server's) were left out"


def mupdf_opens(path: Path) -> bool:
    """Whether MuPDF opens ``path`` as a PDF with pages; its complaints stay off the terminal (``mupdf_alone``)."""
    try:
        import pymupdf  # an upload's job needs it, not the service's start

        with mupdf_alone(), pymupdf.open(path, filetype="pdf") as doc:
            return doc.is_pdf and doc.page_count > 0
    except RuntimeError:  # pymupdf's FileDataError, and MuPDF's own errors
        return False


def not_of_type(name: str, head: bytes, expected: str, why: str) -> str:
    """``type_problem``'s line for a file whose first bytes are ``head``: empty, a document named by its content (a
    web page a browser saved, a PDF named .zip), or no ``expected`` for the reason ``why``."""
    if not head:
        return f"{name} is empty (0 bytes), not {expected}"
    if kind := document_kind(head):
        return f"{name} is {kind}, not {expected}"
    return f"{name} is not {expected} ({why})"


CONTENT_MARK = ".content-"
"""An upload folder holds an empty folder named this and its upload's ``content_hash``: another upload of the same
bytes is known by it while this one is taken and indexed, and once it is indexed, a zip too (its bytes are no file
then, nor in the manifest). A folder holding nothing, not a file: the files of an upload folder are the upload's own
and its claim's."""


MEMBER_MARK = ".member-"
"""An upload folder of a zip holds an empty folder named this and the ``content_hash`` of each PDF or notes file of the
zip kept to be indexed: a lone upload of the same bytes, or another zip's copy, is known by it while the zip is being
indexed. Not a ``CONTENT_MARK``: those say what the upload is, and an upload sent again under its name replaces, with
the upload token, only one of the same marks (``UploadFolder.replacement_refusal``), which a zip sent before its members
were marked would then not be. Once the zip is indexed the manifest names each member's source, so a member mark is not
looked at: a member removed since (``DELETE /sources``) must not be taken for the zip's other sources."""


def mark_content(folder: Path, content: str, mark: str = CONTENT_MARK) -> None:
    (folder / f"{mark}{content}").mkdir()


def marked_uploads(uploads: Path, content: str, mark: str = CONTENT_MARK) -> list[Path]:
    """The upload folders under ``uploads`` marked as holding ``content`` (``mark_content``)."""
    return [found.parent for found in uploads.glob(f"*/{mark}{content}")]


def replaces(stored: Path, folder: Path) -> bool:
    """Whether the upload at ``stored`` replaces, once indexed, the upload of ``folder``: that one holds a file of its
    name or, for a zip, the folder it unpacks to (``UploadFolder.replace_older``)."""
    names = {stored.name, stored.stem} if stored.suffix.lower() == ".zip" else {stored.name}
    return any((folder / name).exists() for name in names)


UTF8_NAMES = 0x800
"""The flag bit of a zip member whose name is UTF-8; without it, zipfile reads the name as cp437."""
ENCRYPTED = 0x1
"""The flag bit of a zip member stored encrypted (a password-protected zip from WinZip or 7-Zip, ZipCrypto or AES):
zipfile reads none of it without the password."""


def member_name(info: zipfile.ZipInfo) -> str:
    """A member's name as its maker meant it, with "/" between folders, composed (NFC) and normalised (no "./", "//"
    nor trailing "/"; "." for none): a name that unpacks to the same file is the same name whoever made the zip, so
    "./c/a.jpg" repeats "c/a.jpg" (``repeated_name``) and "./c/cases.jsonl" makes "c" a case folder
    (``in_case_folder``). macOS writes names decomposed ("o" then a combining accent); a zip without the UTF-8 flag
    holds names in UTF-8 all the same (Linux's zip) or in the OEM code page of Windows, which in Western Europe is
    cp850 (cp437 with the accented capitals and ã, õ: "coração", not "coraç╞o")."""
    name = info.filename
    if not info.flag_bits & UTF8_NAMES:
        with suppress(UnicodeEncodeError):  # a name zipfile did not decode (a ZipInfo made in memory) stays
            raw = name.encode("cp437")
            try:
                name = raw.decode("utf-8")
            except UnicodeDecodeError:
                name = raw.decode("cp850")
    return str(PurePosixPath(composed(name.replace("\\", "/"))))


def member_problem(info: zipfile.ZipInfo) -> str | None:
    """Why a zip member must not be unpacked (absolute, leaves the folder, no name, a link or device, encrypted), or
    None. Asked of every member before any is unpacked."""
    name = member_name(info)
    path = PurePosixPath(name)
    if path.is_absolute() or re.match(r"^[A-Za-z]:", name):
        return "is an absolute path"
    if ".." in path.parts:
        return "leaves the archive"
    if not path.parts and not info.filename.endswith("/"):  # ".", "": a file would be the folder; "./" is that folder
        return "has no file name"
    if stat.S_IFMT(info.external_attr >> 16) not in (0, stat.S_IFREG, stat.S_IFDIR):
        return "is a link or a special file"
    if info.flag_bits & ENCRYPTED:
        return "is encrypted: unzip it without a password and zip it again"
    return None


CASE_IMAGE_SUFFIXES = (*IMAGE_SUFFIXES, *HEIC_SUFFIXES)
"""The images a case folder's rows may list (HEIC too, so its problems say how to export it)."""
DOCUMENT_SUFFIXES = (".pdf", *NOTE_SUFFIXES)
"""The files that are a source each: PDFs and lecture notes."""
READ_SUFFIXES = (*DOCUMENT_SUFFIXES, *CASE_IMAGE_SUFFIXES)
"""What the built-in sources read from an unpacked zip, besides case folders' ``METADATA_FILES``: PDFs, lecture notes
and case images."""
IN_CASE_FOLDER = {(".pdf",): ("a PDF", "PDFs"), NOTE_SUFFIXES: ("a notes file", "notes files")}
"""How a job's note names the documents inside case folders that an upload left out, one and many."""
SKIPPED_SHOWN = 5
"""Skipped zip members a job's note names; the rest are counted."""


def read_by_sources(name: str, names: Collection[str]) -> bool:
    """Whether a zip member is something the built-in sources read, in a zip of the files ``names``: of a type they
    read (``of_read_type``), and not a PDF or notes file inside a case folder, which ``pathatlas index`` leaves out
    too (it reads such a folder as cases only)."""
    return of_read_type(name) and not (document(name) and in_case_folder(name, names))


def of_read_type(name: str) -> bool:
    """Whether a zip member is of a type the built-in sources read (``READ_SUFFIXES``, ``METADATA_FILES``, a Quarto
    project's file, from which its notes' includes are read: ``notes.PROJECT_FILES``); hidden
    files, macOS's ``__MACOSX`` copies, Markdown a folder walk leaves out (``folder_document``) and what lies in a
    folder it does not enter (``in_unwalked_folder``) are not."""
    parts = PurePosixPath(name).parts
    if any(part.startswith(".") or part == "__MACOSX" for part in parts) or folder_document(name):
        return False
    if in_unwalked_folder(name):
        return False
    return parts[-1] in (*METADATA_FILES, *PROJECT_FILES) or parts[-1].lower().endswith(READ_SUFFIXES)


def unreadable_notes(folder: Path, settings: Settings) -> list[str]:
    """The notes files of an unpacked zip (``folder``) that its walk indexes (``walked_notes``) and that yield nothing
    to index (front matter alone, a Quarto course's ``index.qmd``; not UTF-8), each removed and named with its reader's
    line. A folder's walk fails such a file alone and indexes the rest; an upload is indexed whole or not at all, and
    one failed the whole zip."""
    left_out = []
    for path in sorted(folder.rglob("*")):
        if walked_notes(path, folder) and path.is_file() and not path.is_symlink():
            try:
                next(NotesSource(path, settings).records(), None)  # its reader's refusal comes first
            except BadInputError as exc:
                path.unlink()
                left_out.append(f"left out {path.relative_to(folder).as_posix()}: {exc}".replace(str(path), path.name))
    return left_out


def walked_notes(path: Path, folder: Path) -> bool:
    """Whether ``path`` is a notes file that a walk of ``folder`` indexes: not a Quarto partial
    (``left_out_of_folders``) nor in a ``_`` folder (``unrendered_notes``), which only the decks including them read.
    Such a file without words of its own (a logo, a shortcode) was deleted as unreadable and named, and the deck
    including it then read "no such file"."""
    unwalked = left_out_of_folders(path) or unrendered_notes(path.relative_to(folder))
    return path.suffix.lower() in NOTE_SUFFIXES and not unwalked


def document(name: str) -> bool:
    """Whether a zip member is a PDF or lecture notes (``DOCUMENT_SUFFIXES``)."""
    return name.lower().endswith(DOCUMENT_SUFFIXES)


def folder_document(name: str) -> bool:
    """Whether a zip member is Markdown that ``pathatlas index`` leaves out of a folder (``left_out_of_folders``) as
    its README or licence. A Quarto partial it leaves out too is unpacked, as are the notes of a ``_`` folder
    (``unrendered_notes``): the notes including them read them (``notes.with_includes``)."""
    member = Path(PurePosixPath(name).name)
    return left_out_of_folders(member) and not member.name.startswith(PARTIAL_PREFIX)


def in_unwalked_folder(name: str) -> bool:
    """Whether a zip member lies in a folder named as a README, licence or Quarto partial (``course/README.md/x.pdf``),
    which ``pathatlas index`` does not enter: ``left_out_of_folders`` asks of a name alone. Unpacked, it stayed on
    disk unindexed and unnamed."""
    return any(left_out_of_folders(Path(folder)) for folder in PurePosixPath(name).parts[:-1])


def in_case_folder(name: str, names: Collection[str]) -> bool:
    """Whether a zip member lies in a case folder of the zip (one holding a ``METADATA_FILES`` file, at any depth
    above the member, the zip's top included)."""
    return any(str(folder / metadata) in names for folder in PurePosixPath(name).parents for metadata in METADATA_FILES)


def skipped_note(skipped: list[str], unpacked: Path) -> str:
    """One line for the zip members an upload left out (``skipped_notes``)."""
    return ". ".join(skipped_notes(skipped, unpacked))


def skipped_notes(skipped: list[str], unpacked: Path | None = None) -> list[str]:
    """A job's notes on the zip members an upload left out, a line a kind: PDFs and notes inside case folders
    (``read_by_sources``), told to be uploaded on their own, a folder's README or licence (``folder_document``) and
    what lies in a folder so named (``in_unwalked_folder``), images (``image_notes``: ``unpacked`` is where the zip
    unpacked), and what no source reads."""
    documents = [name for name in skipped if of_read_type(name) and document(name)]
    unwalked = [name for name in skipped if in_unwalked_folder(name)]
    about_folders = [name for name in skipped if folder_document(name) and name not in unwalked]
    images = [name for name in skipped if of_read_type(name) and name not in documents]
    others = [name for name in skipped if not (of_read_type(name) or folder_document(name) or in_unwalked_folder(name))]
    said = []
    for suffixes, (one, many) in IN_CASE_FOLDER.items():
        found = [name for name in documents if name.lower().endswith(suffixes)]
        if len(found) == 1:
            said.append(f"{found[0]}: {one} inside a case folder is not indexed; upload it on its own")
        elif found:
            said.append(f"{shown(found)}: {many} inside a case folder are not indexed; upload each on its own")
    if about_folders:
        said.append(
            f"{shown(about_folders)}: not indexed, being a folder's README or licence, which a folder's walk "
            "leaves out; upload one on its own to index it"
        )
    if unwalked:
        said.append(
            f"{shown(unwalked)}: not indexed, being in a folder named as a README, licence or Quarto partial, which a "
            "folder's walk does not enter; rename the folder to index what it holds"
        )
    said.extend(image_notes(images, unpacked))
    if others:
        kinds = f"no PDF, notes file ({', '.join(NOTE_SUFFIXES)}), case image or {' or '.join(METADATA_FILES)}"
        said.append(f"{len(others)} zip member(s) left out, being {kinds}: {shown(others)}")
    return said


def image_notes(images: list[str], unpacked: Path | None) -> list[str]:
    """The notes on the images a zip left out, a line for those their case folder does not list (``listed_image``) and
    one for those in no case folder, which no notes file shows either (``unshown``): the case folders are those of the
    zip unpacked to ``unpacked`` (none without it). An image in none was said "not listed by the metadata file a case
    folder is read by", false of a zip holding no case folder."""
    metadata = unpacked_metadata(unpacked) if images and unpacked else set()
    unlisted = [name for name in images if in_case_folder(name, metadata)]
    loose = [name for name in images if name not in unlisted]
    said = []
    if unlisted:
        why = "not listed by the metadata file a case folder is read by"
        said.append(f"{len(unlisted)} image(s) left out, {why}: {shown(unlisted)}")
    if loose:
        why = f"in no case folder (a folder with {' or '.join(METADATA_FILES)}) and shown by no notes file"
        said.append(f"{len(loose)} image(s) left out, {why}: {shown(loose)}")
    return said


def unpacked_metadata(folder: Path) -> set[str]:
    """The case folders' metadata files (``METADATA_FILES``) of the zip unpacked to ``folder``, as the zip names them
    (``in_case_folder`` asks of such names)."""
    return {path.relative_to(folder).as_posix() for name in METADATA_FILES for path in folder.rglob(name)}


def remove_unread_images(folder: Path, settings: Settings) -> list[str]:
    """Delete the images of an unpacked zip (``folder``) that no case folder lists (``listed_image``), and return their
    names as the zip named them ("atlas/stray.png"), but for the pictures its notes show (``unshown``).
    ``extract_zip`` writes none of them; an image on disk all the same stayed under the uploads for as long as its
    source. A job's cancel seen while the metadata is read (``Cancelled``) stops before any image is deleted. Only
    regular files the walk of ``folder`` meets are deleted: zip members are never links."""
    listings = case_folder_listings(folder, settings)
    unread = [path for path in unpacked_images(folder) if not listed_image(path.resolve(), listings)]
    named = unshown(sorted(path.relative_to(folder).as_posix() for path in unread), folder)
    for path in unread:
        path.unlink()
    return named


def unshown(names: list[str], folder: Path) -> list[str]:
    """The zip members ``names`` (unpacked under ``folder``, or left out) but for the pictures its notes files show
    (``pictures_shown``): a job's note on those, "not listed by the metadata file a case folder is read by", was false
    of a course zip without case folders; pictures in notes are not indexed at all (README)."""
    if not any(name.lower().endswith(CASE_IMAGE_SUFFIXES) for name in names):
        return names
    shown_there = pictures_shown(folder)
    return [name for name in names if (folder / PurePosixPath(name)).resolve() not in shown_there]


HTML_PICTURE = re.compile(r"""<img\b[^>]*?\bsrc\s*=\s*["']?([^"'\s>]+)""", re.IGNORECASE)
"""The file an HTML picture in notes shows, ``<img src="img/a.png" width="300">``."""


def pictures_shown(folder: Path) -> set[Path]:
    """The images (resolved; ``CASE_IMAGE_SUFFIXES``) that the notes files under ``folder`` show as pictures, each
    read from its notes file's folder, as Quarto and Pandoc read them."""
    return {
        (path.parent / local).resolve()
        for path in folder.rglob("*")
        if path.suffix.lower() in NOTE_SUFFIXES and path.is_file() and not path.is_symlink()
        for source in picture_sources(path)
        if (local := local_path(source)) and local.lower().endswith(CASE_IMAGE_SUFFIXES)
    }


def picture_sources(path: Path) -> Iterator[str]:
    """What the pictures of a notes file show, as written: Markdown's images and HTML's ``<img>``; none where it cannot
    be read (its reader says why elsewhere)."""
    try:
        text = read_note(path)
    except BadInputError:
        return
    for block in markdown().parse(text):
        for token in (block, *(block.children or [])):
            if token.type == "image":
                yield str(token.attrGet("src") or "")
            elif token.type in ("html_block", "html_inline"):
                yield from (found[1] for found in HTML_PICTURE.finditer(token.content))


def local_path(source: str) -> str | None:
    """The relative file path a picture's ``source`` names (markdown-it writes it percent-encoded), or None for a URL
    (``https:``, ``data:``) or none."""
    parts = urlsplit(source)
    return None if parts.scheme or parts.netloc or not parts.path else unquote(parts.path)


def case_folder_listings(folder: Path, settings: Settings) -> dict[Path, set[str] | None]:
    """The case folders ``discover`` finds in ``folder`` (resolved) and the names their rows list (``listed_names``);
    none where it finds nothing to index."""
    try:
        sources = discover([folder], settings)
    except PathAtlasError:  # nothing to index: the job fails and its folder goes
        return {}
    return {source.path.resolve(): listed_names(source) for source in sources if isinstance(source, CaseFolderSource)}


def listed_image(path: Path, listings: dict[Path, set[str] | None]) -> bool:
    """Whether the case folder holding the image at ``path`` (resolved; ``listings``: ``case_folder_listings``) lists
    it: a row names its file, whatever the folders and letter case, so a listed image missing where its row says is
    still found under its name, and the problem names the file found (``found_instead``). An image outside every case
    folder is read by no source."""
    owner = next((folder for folder in listings if path.is_relative_to(folder)), None)
    return owner is not None and (listings[owner] is None or name_key(path.name) in listings[owner])


def listed_names(source: CaseFolderSource) -> set[str] | None:
    """The file names (``name_key``) of the images a case folder's metadata lists; none when it cannot be read: the
    folder then fails before any image of it is read, and its job says why. Its rows as the source reads them
    (``CaseFolderSource.rows``: within a job, once for the job, and a cancel seen between them, ``Cancelled`` being no
    ``PathAtlasError``). None, every image unpacked, where the file system refuses what the rows name (a name too
    long for it): the member then says so in one line as it is unpacked, where the rows' bare ``OSError`` had the
    listed image reported left out as unlisted and the job fail with the error's text."""
    try:
        rows = source.rows()
    except OSError:
        return None
    except (PathAtlasError, UnicodeDecodeError):
        return set()
    return {name_key(str(row["image"])) for row in rows}


def unpacked_images(folder: Path) -> list[Path]:
    """The regular image files under ``folder`` (``CASE_IMAGE_SUFFIXES``), links not followed."""
    return [
        path
        for parent, _, files in os.walk(folder)
        for path in (Path(parent, name) for name in files)
        if path.name.lower().endswith(CASE_IMAGE_SUFFIXES) and path.is_file() and not path.is_symlink()
    ]


def shown(names: list[str]) -> str:
    """The first ``SKIPPED_SHOWN`` names, and how many more."""
    more = len(names) - SKIPPED_SHOWN
    return ", ".join(names[:SKIPPED_SHOWN]) + (f" and {more} more" if more > 0 else "")


def repeated_name(files: list[zipfile.ZipInfo]) -> str | None:
    """The first file name a zip holds twice, if any: unpacked, the later copy silently replaced the earlier."""
    seen: set[str] = set()
    for member in files:
        if (name := member_name(member)) in seen:
            return name
        seen.add(name)
    return None


BOMB_RATIO = 100
"""Most bytes a zip member may unpack to per byte it takes in the zip, once over ``BOMB_FROM_BYTES``: JPEG and PNG
barely compress (near 1:1), metadata some 10:1 (a million near-identical JSON rows 27:1), while a run of zeros deflates
about 1000:1 (the reviewer's 1.9 GB image took 1.9 MB). The members to unpack together are held to it too: a bomb
split into many small members is one bomb."""
BOMB_FROM_BYTES = 8 << 20
"""Unpacked size from which ``BOMB_RATIO`` holds: smaller members (a blank PNG, a short list) harm no disk."""
KEEP_FREE_BYTES = 1 << 30
KEEP_FREE_SHARE = 0.05
"""What the disk holding the uploads keeps free, the larger of the two, once every zip being unpacked has written all
it may (``ZipBudget``): a full disk fails every writer on it (the index's commits, job records, logs, other uploads),
not only the upload that filled it. 1 GB holds on a small disk, 5% of the total on a large one; the space ext4 keeps
back for root is counted apart (``shutil.disk_usage`` gives none of it as free)."""
UNPACKING: list[ZipBudget] = []
"""The zips this process is unpacking, each with the bytes it may still write."""
UNPACKING_LOCK = threading.Lock()


class ZipBudget:
    """The bytes one zip being unpacked may still write: promised before any is written (``reserve``), and spent as
    written (``spend``). A zip is unpacked only where the disk keeps ``KEEP_FREE_*`` free once it and every other zip
    in ``UNPACKING`` wrote all they were promised: three 2 MB zips sent at once unpacked 1.9 GB each (5.6 GB at the
    peak), and the worker threads run 40 at once. Servers sharing a disk do not see each other's promises."""

    def __init__(self, disk: Path):
        self.disk = disk
        self.owed = 0

    def reserve(self, size: int) -> None:
        """Promise ``size`` more bytes, or refuse (``NoRoomError``) where the disk has no room for them."""
        with UNPACKING_LOCK:
            promised = sum(budget.owed for budget in UNPACKING)
            disk = shutil.disk_usage(self.disk)
            if problem := no_room(disk.free, disk.total, size, promised):
                raise NoRoomError(problem)
            self.owed += size

    def spend(self, size: int) -> None:
        """``size`` bytes no longer owed: written, or left out after all."""
        with UNPACKING_LOCK:
            self.owed -= size


@contextmanager
def zip_budget(disk: Path) -> Iterator[ZipBudget]:
    """A zip's ``ZipBudget`` on ``disk``, counted in ``UNPACKING`` while it unpacks."""
    budget = ZipBudget(disk)
    with UNPACKING_LOCK:
        UNPACKING.append(budget)
    try:
        yield budget
    finally:
        with UNPACKING_LOCK:
            UNPACKING.remove(budget)


def no_room(free: int, total: int, size: int, promised: int) -> str | None:
    """The 507 line for a zip that would unpack ``size`` bytes on a disk of ``total`` bytes with ``free`` free, where
    the zips being unpacked were promised ``promised`` bytes they have not yet written, leaving less than
    ``KEEP_FREE_*``; None where it has room."""
    keep_free = max(KEEP_FREE_BYTES, int(total * KEEP_FREE_SHARE))
    if free - promised - size >= keep_free:
        return None
    others = f", {megabytes(promised)} of it promised to uploads being unpacked," if promised else ""
    return (
        f"no room on the server to unpack the zip now: it unpacks to {megabytes(size)}, and the disk holding the "
        f"uploads has {megabytes(free)} free{others} and must keep {megabytes(keep_free)} free; try again later"
    )


def megabytes(size: int) -> str:
    return f"{size / (1 << 20):,.1f} MB"


def bomb_problem(members: list[zipfile.ZipInfo]) -> str | None:
    """Why the ``members`` to unpack are a zip bomb (``BOMB_RATIO``), naming the member, or None."""
    for member in members:
        if squeezed(member.file_size, member.compress_size):
            return f"zip member {member_name(member)!r} unpacks {bomb_ratio(member.file_size, member.compress_size)}"
    unpacked, packed = sum(m.file_size for m in members), sum(m.compress_size for m in members)
    return f"the zip's members unpack {bomb_ratio(unpacked, packed)}" if squeezed(unpacked, packed) else None


def squeezed(unpacked: int, packed: int) -> bool:
    return unpacked > BOMB_FROM_BYTES and unpacked > BOMB_RATIO * packed


def bomb_ratio(unpacked: int, packed: int) -> str:
    return (
        f"to {megabytes(unpacked)} from {megabytes(packed)} (over {BOMB_RATIO}:1, as a zip bomb does; images and "
        "PDFs barely compress): refused"
    )


def checked_files(members: list[zipfile.ZipInfo], max_bytes: int, max_members: int) -> list[zipfile.ZipInfo]:
    """The files of a zip's ``members``, refused (``UnusableZipError``) where one is unsafe (``member_problem``) or
    named twice, or (``UploadTooLargeError``) where they are over ``max_members`` or over ``max_bytes`` as declared (a
    bomb is refused whole)."""
    if len(members) > max_members:
        raise UploadTooLargeError(f"the zip has over {max_members} members")
    for member in members:
        if problem := member_problem(member):
            raise UnusableZipError(f"zip member {member_name(member)!r} {problem}")
    if sum(m.file_size for m in members) > max_bytes:
        raise UploadTooLargeError(f"the zip unpacks to over {max_bytes // (1 << 20)} MB (PATHATLAS_MAX_UNPACKED_MB)")
    files = [member for member in members if not member.is_dir()]
    if twice := repeated_name(files):  # the later copy replaced the earlier, which its row then named
        raise UnusableZipError(f"zip member {twice!r} appears twice")
    return files


def extract_zip(
    archive: Path, target: Path, max_bytes: int, max_members: int, settings: Settings | None = None
) -> list[str]:
    """Unpack a zip into ``target``, and return the names of the members left out, but for the pictures its notes show
    (``unshown``). Nothing is written before the zip passes its checks: unsafe members, the member and byte caps
    (``checked_files``), a bomb's ratio (``bomb_problem``), and room on the disk for all it may unpack, shared with
    every zip unpacking at once (``ZipBudget``): a refusal states the zip's whole size (its metadata files' alone said
    "0.0 MB"), and the images found unlisted once they are read are given back. The caps hold for the bytes written:
    each member stops at the size the zip's directory declares for it (``unpack``).

    With ``settings`` (the built-in sources read the upload), only what they read is unpacked (``read_by_sources``);
    where the zip holds case folders, of its images only those their rows list (``listed_image``): the metadata files
    are unpacked first and read as their reader reads them, then the rest. A 2 MB zip holding a 1.9 GB run of zeros
    beside its case was unpacked whole, the zeros deleted only by its job. A zip without metadata files (PDFs, a folder
    that is no case folder) has its images unpacked, for its job to say why none is read. Without ``settings`` every
    file is unpacked (plug-in sources may read any)."""
    try:
        with zipfile.ZipFile(archive) as zipped:
            files = checked_files(zipped.infolist(), max_bytes, max_members)
            names = frozenset(member_name(member) for member in files)
            wanted = [m for m in files if settings is None or read_by_sources(member_name(m), names)]
            if problem := bomb_problem(wanted):
                raise UnusableZipError(problem)
            target.mkdir(parents=True, exist_ok=True)
            with zip_budget(target) as budget:
                budget.reserve(sum(member.file_size for member in wanted))
                metadata = [m for m in wanted if settings is not None and metadata_file(member_name(m))]
                unpack(zipped, metadata, target, budget)
                rest = [m for m in wanted if m not in metadata]
                kept = {*metadata, *(listed_members(rest, target, settings) if metadata else rest)}
                budget.spend(sum(member.file_size for member in rest if member not in kept))
                unpack(zipped, [m for m in rest if m in kept], target, budget)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, zlib.error) as exc:
        raise UnusableZipError(f"the upload is not a usable zip file ({exc})") from exc
    return unshown([member_name(member) for member in files if member not in kept], target)


def metadata_file(name: str) -> bool:
    return PurePosixPath(name).name in METADATA_FILES


def listed_members(members: list[zipfile.ZipInfo], target: Path, settings: Settings) -> list[zipfile.ZipInfo]:
    """The ``members`` to unpack into ``target`` that a case folder reads: its images its rows list
    (``listed_image``, read from the metadata files unpacked there), and what is no case image (a PDF outside them)."""
    listings, root = case_folder_listings(target, settings), target.resolve()
    return [
        member
        for member in members
        if not (name := member_name(member)).lower().endswith(CASE_IMAGE_SUFFIXES)
        or listed_image(root / name, listings)
    ]


def unpack(zipped: zipfile.ZipFile, members: list[zipfile.ZipInfo], target: Path, budget: ZipBudget) -> None:
    """Write ``members`` under ``target``, spending the room ``budget`` promised them (``extract_zip``). ``budget`` and
    the caps are reckoned by the sizes the zip's directory declares, which hold: ``zipfile`` reads a member no further,
    and a member whose data is longer fails its CRC (``BadZipFile``: 400)."""
    for member in members:
        name = member_name(member)
        destination = target / PurePosixPath(name)
        try:
            destination.parent.mkdir(parents=True, exist_ok=True)
            with zipped.open(member) as source, destination.open("wb") as sink:
                while block := source.read(CHUNK):
                    sink.write(block)
                    budget.spend(len(block))
        except OSError as exc:
            # "a.jpg" and "a.jpg/b.jpg" (a file where a folder must go, or the reverse), a name too long for the file
            # system: the member's fault. No room on the machine is the server's (507, not 400).
            if exc.errno in NO_ROOM:
                raise
            raise UnusableZipError(f"zip member {name!r} cannot be unpacked: {exc.strerror or exc}") from exc
