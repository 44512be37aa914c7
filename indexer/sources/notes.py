"""Lecture notes in Markdown or Quarto (``.md``, ``.qmd``, ``.markdown``): one ``Page`` per slide, its ``Passage``s,
as plain text and without boxes, as a source without a page layout yields them (``base.Source``).

A slide begins at each level-1 or level-2 heading (revealjs makes a slide of each ``##``) and at each horizontal rule
not directly before such a heading (Pandoc drops that rule), as the deck shows them, so "slide 5" is the fifth slide of
the rendered deck: after the title slide revealjs and beamer make of the front matter's title (and the table of
contents', where asked for: ``opening_slides``), with each Quarto include's file pasted in where it is named
(``with_includes``). A slide with no words but its title (a picture and its title, an author's name, the title slide)
yields nothing but keeps its number. Pictures are left out: a slide's picture has no box on a page to cite, and the
records give a figure none.
"""

from __future__ import annotations

import codecs
import functools
import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from pathatlas.errors import BadInputError
from pathatlas.indexer.records import Page, Passage, Record
from pathatlas.indexer.sources.base import Source
from pathatlas.indexer.sources.fingerprints import hash_files, hash_held, utf8_name
from pathatlas.indexer.sources.pdf import merge_blocks
from pathatlas.retrieval.records import book_title, slide_label
from pathatlas.retrieval.text import normalise, without_controls
from pathatlas.settings import OWNER_FILE

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.token import Token

NOTE_SUFFIXES = (".md", ".qmd", ".markdown")
FOLDER_DOCUMENTS = frozenset(
    {"README", "LICENSE", "LICENCE", "CHANGELOG", "CONTRIBUTING", "CODE_OF_CONDUCT", "AUTHORS"}
)
"""Names of Markdown files that describe the folder holding them (a course repository's README and licence), not
lecture notes: a folder walk leaves them out (``left_out_of_folders``); named on their own, they are indexed."""
PARTIAL_PREFIX = "_"
"""What Quarto's partials begin with (``_koilocytes.qmd``): files other notes include, never rendered alone."""
PROJECT_FILES = ("_quarto.yml", "_quarto.yaml")
"""What marks a Quarto project's root folder, from which Quarto reads an include's absolute path (``/_part.qmd``)."""
MIB = 1 << 20
MAX_NOTE_BYTES = 2 * MIB
"""The most text a notes file may hold, pictures inside it (``DATA_URI``) aside; a larger one is refused before it is
read whole. The atlas's 76 notes hold at most 36 KB; parsing Markdown takes about 5 s and 70 MB of memory a MiB."""
MAX_NOTE_FILE_BYTES = 64 * MIB
"""The largest notes file read at all, its pictures inside included: a deck exported from PowerPoint with its pictures
inside (base64) is mostly pictures, which are dropped as the file is read (``without_data_uris``)."""
READ_CHUNK_BYTES = MIB
DATA_URI = re.compile(rb"""(?:\]\(<?|\bsrc=["']?)(data:[\w/.+-]{0,100}[;,])""", re.IGNORECASE)
"""A picture inside the text: a Markdown link's (``![](data:image/png;base64,...)``) or an HTML ``src``'s ``data:`` URI,
from ``data:`` to where ``DATA_URI_END`` ends it."""
DATA_URI_END = re.compile(rb"""[\s)"'>]""")
DATA_URI_START_BYTES = 120
"""More than ``DATA_URI`` matches: a chunk's last bytes, which may hold a ``data:`` URI's start, are read with the
next chunk."""
SLIDE_HEADINGS = ("h1", "h2")
FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(?![ \t]*\r?\n)(.*?)^(?:---|\.\.\.)[ \t]*\r?$\n?", re.DOTALL | re.MULTILINE)
"""YAML front matter, as Pandoc reads it: between a first line ``---`` followed by a line with words and the next line
``---`` (or ``...``); ``metadata`` also asks for YAML that is a mapping. Else the ``---`` is a rule."""
TEMPLATE_TITLES = frozenset({"title"})
"""Front matter titles a slide template leaves unset (70 of the atlas's 76 notes say "Title"): no title."""
DIV_FENCE = re.compile(r"^[ \t]*:::.*$", re.MULTILINE)
"""A Quarto (Pandoc) div's fence line: ``::: {.notes}``, ``:::: {.columns}``, ``:::``; its words stay."""
SHORTCODE = re.compile(r"^[ \t]*\{\{<.*>\}\}[ \t]*\r?$", re.MULTILINE)
"""A line holding a Quarto shortcode, ``{{< pagebreak >}}``: not words of the slide (an include's is read first:
``INCLUDE``)."""
INCLUDE = re.compile(
    r"""^[ \t]*\{\{<[ \t]*include[ \t]+(?:"([^"\r\n]*)"|'([^'\r\n]*)'|(\S+?))[ \t]*>\}\}[ \t]*\r?$""",
    re.MULTILINE,
)
"""A Quarto include on a line of its own, ``{{< include _koilocytes.qmd >}}`` (its file's name bare or quoted), which
Quarto replaces by the file's text before the deck is split into slides. ``{{{< include x >}}}`` is an escaped one,
shown as it is."""
MAX_INCLUDE_DEPTH = 8
"""How deep includes nest (a partial including a partial...); Quarto refuses only a file including itself, but a
chain this deep is a mistake or a crafted upload."""
MAX_INCLUDES = 100
"""The most includes a deck reads, nested ones too: a course's deck names a few partials; a crafted one naming empty
files thousands of times, in a tree of partials each naming the next many times, would be read without end."""
HEADING_ATTRIBUTES = re.compile(r"\s*\{[^{}]*\}\s*$")
"""Pandoc attributes closing a heading: ``## Polyps {.smaller background-color="black"}``."""
UNPAIRED_STRONG = re.compile(r"(?<![*_])(?:\*\*|__)(?![*_])")
"""A bold marker Markdown did not pair, so read as text: slides exported from PowerPoint close it after a space
("__Idiopathic __"), which CommonMark does not take as an end. A longer run ("____", a blank to fill) stays."""
LINE_BREAK_TAG = re.compile(r"<br\s*/?>", re.IGNORECASE)
HTML_BLOCK_TAGS = frozenset({"li", "p", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "div", "br", "section", "ul", "ol"})
"""HTML elements that end a block of text (a sentence to the answerer) where they begin or end; other tags are a
space."""
ROW_SEPARATOR = " | "
"""Between the cells of a table's row, on one line."""
BLOCK_BREAK = "\n\n"
"""Between a slide's blocks in its page's and passages' text: a bullet ends where it ends, punctuated or not, and the
answerer reads no sentence across it (``agent.evidence.PARAGRAPH_BREAK``)."""


MAX_NESTING = 100
"""How deep lists and quotes are read (markdown-it's CommonMark preset stops at 20 levels of tokens: a list nested
twelve deep lost its ninth level on, and a quote 25 deep read as no words at all)."""


@functools.cache
def markdown() -> MarkdownIt:
    """The CommonMark parser with tables and strikethrough (GitHub's and Pandoc's Markdown have both)."""
    from markdown_it import MarkdownIt  # here, not at import: only notes need it

    return MarkdownIt("commonmark", {"maxNesting": MAX_NESTING}).enable(["table", "strikethrough"])


@dataclass
class Slide:
    number: int
    """Its place in the deck, from 1."""
    section: str
    """Its heading, after its level-1 heading's where it is a ``##`` slide ("Neoplasia > Nomenclature")."""
    blocks: list[str] = field(default_factory=list)
    """Its heading, paragraphs, list items, table rows and code, as plain text in reading order."""
    title: str = ""
    """Its heading's words, its first block; "" for a slide a rule or the deck's first words begin."""

    def has_words(self) -> bool:
        """Whether it holds words besides its title: one with its title alone (a picture's slide, an author's name)
        crowded search results, matching any query by its title alone."""
        return len(self.blocks) > (1 if self.title else 0)


def left_out_of_folders(path: Path) -> bool:
    """Whether a folder walk leaves ``path`` out: a Markdown file about its folder (``FOLDER_DOCUMENTS``) or a Quarto
    partial (``PARTIAL_PREFIX``)."""
    return path.suffix.lower() in NOTE_SUFFIXES and (
        path.stem.upper() in FOLDER_DOCUMENTS or path.name.startswith(PARTIAL_PREFIX)
    )


class NoWordsError(BadInputError):
    """A notes file with nothing to index: empty, or front matter, slide titles and pictures alone (a Quarto website's
    ``index.qmd``). A folder walk leaves it out with a note (``Indexer``), as a zip upload does; named on its own, it
    fails."""


def chunks(file: IO[bytes], path: Path, limit: int, digest: Any = None) -> Iterator[bytes]:
    """The file's bytes, a chunk at a time, each added to ``digest`` (a ``hashlib`` hash) where given; a
    ``BadInputError`` once it holds over ``limit`` bytes."""
    read = 0
    while chunk := file.read(READ_CHUNK_BYTES):
        read += len(chunk)
        if read > limit:
            raise BadInputError(f"{path} is over {limit / MIB:g} MiB, the most a notes file may hold")
        if digest is not None:
            digest.update(chunk)
        yield chunk


def without_data_uris(parts: Iterable[bytes]) -> Iterator[bytes]:
    """``parts`` without their pictures' ``data:`` URIs (``DATA_URI``), read a part at a time: a URI may be longer than
    a part, and a part may end inside one's start (``DATA_URI_START_BYTES``)."""
    carried, inside = b"", False
    for part in parts:
        text, carried, position = carried + part, b"", 0
        while position < len(text):
            if inside:
                if (end := DATA_URI_END.search(text, position)) is None:
                    break  # the URI goes on in the next part
                inside, position = False, end.start()
            if (start := DATA_URI.search(text, position)) is None:
                kept = max(position, len(text) - DATA_URI_START_BYTES)
                yield text[position:kept]
                carried = text[kept:]
                break
            yield text[position : start.start(1)]
            inside, position = True, start.end()
    if not inside:
        yield carried


def read_note(
    path: Path, limit: int = MAX_NOTE_BYTES, file_limit: int = MAX_NOTE_FILE_BYTES, digest: Any = None
) -> str:
    """The file's text without its pictures' ``data:`` URIs, or one ``BadInputError`` line saying why it is none:
    unreadable, empty, over ``file_limit`` bytes or over ``limit`` bytes of text without them (never read whole),
    binary, or not UTF-8. ``digest`` (a ``hashlib`` hash), where given, takes the file's bytes as they are read."""
    data = bytearray()
    try:
        with path.open("rb") as file:
            for part in without_data_uris(chunks(file, path, file_limit, digest)):
                data += part
                if len(data) > limit:
                    raise BadInputError(
                        f"{path} is over {limit / MIB:g} MiB of text (pictures inside it aside), the most a notes "
                        "file may hold: split it into smaller files"
                    )
    except OSError as exc:
        raise BadInputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if not data:
        raise NoWordsError(f"{path} is empty (0 bytes)")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise BadInputError(f"{path} is UTF-16 text: save it as UTF-8")
    if b"\0" in data:
        raise BadInputError(f"{path} is not a text file (it holds binary data)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadInputError(
            f"{path} is not UTF-8 text (byte {data[exc.start]:#04x} at offset {exc.start}): save it as UTF-8"
        ) from exc


def metadata(note: str) -> tuple[dict[str, Any], str]:
    """What its YAML front matter sets (nothing without one, or where the YAML cannot be read) and the text after the
    front matter. YAML read as no mapping (a list, a line of words) is no front matter, as to Pandoc: the ``---`` is a
    rule and the words are the first slide's; YAML that cannot be read (Pandoc refuses the file) is none of the text."""
    import yaml  # here, not at import: only notes need it

    match = FRONT_MATTER.match(note)
    if match is None:
        return {}, note
    try:
        meta = yaml.safe_load(match[1])
    except yaml.YAMLError:
        meta = None
    else:
        if not isinstance(meta, dict | None):
            return {}, note
    return meta or {}, note[match.end() :]


def template_true(value: object) -> bool:
    """Whether a metadata value shows, as Pandoc's templates test it (``$if(title)$``): set, and not blank."""
    return bool(value.strip()) if isinstance(value, str) else bool(value)


def opening_slides(meta: Mapping[str, Any]) -> int:
    """How many slides the rendered deck shows before its text's first: the title slide revealjs and beamer make of
    the front matter's ``title`` (a template's "Title" too: the deck shows it; neither Pandoc nor Quarto has an option
    to leave it out but no title), then the table of contents' where ``toc`` is set, at the top or under
    ``format: revealjs``. A student reading "slide 3" in a citation counts these too."""
    formats = meta.get("format")
    revealjs = formats.get("revealjs") if isinstance(formats, dict) else None
    options = {**meta, **(revealjs if isinstance(revealjs, dict) else {})}
    return sum(template_true(options.get(key)) for key in ("title", "toc"))


@dataclass(frozen=True)
class Note:
    """A notes file as its deck is made of it (``with_includes``)."""

    text: str
    """Its text, each include's file pasted in (``with_includes``); its front matter is read only for a deck
    (``metadata``): a fingerprint needs only the bytes read (``read``)."""
    included: tuple[Path, ...]
    """The files pasted in, each once, in the order first read."""
    named: tuple[Path, ...]
    """The files within its scope (``IncludeScope``) its includes name, each once, pasted in or not (missing, empty,
    nested too deep): what its state on disk depends on (``NotesSource.included``)."""
    problems: tuple[str, ...]
    """Why each include left out was not read, a line each."""
    read: tuple[tuple[Path, str], ...]
    """Each file as it was read: its path and the hash of its bytes (``read_note``), its own first, an include pasted
    twice twice. What its fingerprint hashes, rather than the files read again: one saved meanwhile would give the old
    text's records the new text's fingerprint (``NotesSource.fingerprint``)."""


@dataclass(frozen=True)
class IncludeScope:
    """Where a deck's includes are read from, as Quarto reads them: a relative name from the deck's ``folder``, an
    absolute one from its Quarto ``project``'s root (``project_root``), and never a file outside that project, or
    outside the deck's folder where no project holds it (``named_file``)."""

    folder: Path
    """The deck's real folder."""
    project: Path | None = None
    """The real folder of the Quarto project holding the deck, if any."""

    @property
    def top(self) -> Path:
        """The folder every include lies within."""
        return self.project or self.folder

    @property
    def described(self) -> str:
        """``top`` as a problem line names it."""
        return (
            "the deck's folder" if self.project is None else "the deck's Quarto project (the folder of its _quarto.yml)"
        )


def upload_folder(folder: Path, uploads: Path) -> Path | None:
    """The upload folder holding the real folder ``folder``: ``uploads/<id>`` under this home's ``uploads``, else the
    nearest folder above marked as an upload's (``OWNER_FILE``), as a home moved or restored elsewhere keeps its
    uploads (``ui.api.engine.named_uploads``); None where it lies in neither (a user's own files)."""
    if folder.is_relative_to(uploads) and folder != uploads:
        return uploads / folder.relative_to(uploads).parts[0]
    return next((above for above in (folder, *folder.parents) if (above / OWNER_FILE).is_file()), None)


def project_root(folder: Path, ceiling: Path | None) -> Path | None:
    """The root of the Quarto project holding the real folder ``folder``: the nearest folder from it up holding a
    ``PROJECT_FILES`` file, none above ``ceiling`` (an operator's ``_quarto.yml`` above the uploads must not open them
    to an uploaded deck); None where none does."""
    for candidate in (folder, *folder.parents):
        if any((candidate / name).is_file() for name in PROJECT_FILES):
            return candidate
        if candidate == ceiling:
            return None
    return None


def include_scope(path: Path, uploads: Path) -> IncludeScope:
    """Where the includes of the deck at ``path`` are read from: its Quarto project's where one holds it, searched no
    higher than its own upload folder for an uploaded deck (``upload_folder``, the home's ``uploads`` first)."""
    folder = path.parent.resolve()
    return IncludeScope(folder, project_root(folder, upload_folder(folder, uploads.resolve())))


def named_file(scope: IncludeScope, name: str) -> Path:
    """The path an include names, within ``scope``'s top; a ``BadInputError`` saying why none is, whatever lies there:
    an absolute path where no Quarto project holds the deck (Quarto reads it from the project's root), or a path out of
    the top's tree (by ``..`` or a link: an uploaded zip must not read the server's files), or a hidden one (an upload
    folder's ``OWNER_FILE`` names the server's index)."""
    absolute = Path(name).is_absolute() or name.startswith(("/", "\\"))
    if absolute and scope.project is None:
        raise BadInputError("an absolute path, which Quarto reads from the project's root, is not read")
    start = scope.project if absolute else scope.folder
    try:
        target = (start / name.lstrip("/\\")).resolve()
    except (OSError, RuntimeError) as exc:  # a loop of links
        raise BadInputError(f"its path cannot be followed ({exc})") from exc
    if not target.is_relative_to(scope.top):
        raise BadInputError(f"it lies outside {scope.described}")
    if any(part.startswith(".") for part in target.relative_to(scope.top).parts):  # an upload folder's own files
        raise BadInputError("a hidden file or folder is not read")
    return target


def checked_include(target: Path, chain: tuple[Path, ...], scope: IncludeScope) -> Path:
    """``target``, the file an include names (``named_file``), the includes that led to it being ``chain`` (the deck's
    file first); a ``BadInputError`` saying why it is not read: no file, a file including itself, or a chain over
    ``MAX_INCLUDE_DEPTH``."""
    if not target.is_file():
        raise BadInputError(f"no such file in {scope.described}")
    if target in chain:
        raise BadInputError("it includes itself")
    if len(chain) > MAX_INCLUDE_DEPTH:
        raise BadInputError(f"includes nest over {MAX_INCLUDE_DEPTH} deep")
    return target


def with_includes(path: Path, scope: IncludeScope | None = None, limit: int = MAX_NOTE_BYTES) -> Note:
    """The notes file at ``path`` as its deck is made of it: its text (``read_note``) with each include line
    (``INCLUDE``) replaced by its file's text without its front matter (metadata, not words), as Quarto pastes it
    before splitting the deck, and includes in that text alike: named from the deck's own folder (Quarto resolves an
    included file's includes from the deck's folder too), within ``scope`` (``named_file``; the deck's folder alone by
    default), at most ``MAX_INCLUDES`` of them. An include not read is left out, with a problem line; a deck that
    cannot be read, or over ``limit`` characters with what it includes (as one file would be), is refused in one
    ``BadInputError`` line. Each file is hashed as it is read (``Note.read``)."""
    scope, problems = scope or IncludeScope(path.parent.resolve()), dict[str, None]()
    included, named, read = dict[Path, None](), dict[Path, None](), list[tuple[Path, str]]()

    def text_of(file: Path) -> str:
        digest = hashlib.blake2b(digest_size=16)
        text = read_note(file, digest=digest)
        read.append((file, digest.hexdigest()))
        return text

    note = text_of(path)
    size, reads = len(note), 0

    def expanded(text: str, chain: tuple[Path, ...]) -> str:
        def pasted(line: re.Match[str]) -> str:
            nonlocal size, reads
            name = next(group for group in line.groups() if group is not None)
            reads += 1
            if reads > MAX_INCLUDES:
                problems[f"{path}: includes after the first {MAX_INCLUDES} not read"] = None
                return ""
            try:
                target = named_file(scope, name)
                named[target] = None
                partial = metadata(text_of(checked_include(target, chain, scope)))[1]
            except BadInputError as exc:
                problems[f"{path}: include {name} not read: {exc}"] = None
                return ""
            size += len(partial)
            if size > limit:
                raise BadInputError(
                    f"{path} with the files it includes is over {limit / MIB:g} MiB of text, the most a notes file "
                    "may hold: split it into smaller files"
                )
            included[target] = None
            partial = expanded(partial, (*chain, target))
            return partial if partial.endswith("\n") else partial + "\n"  # as Quarto: the next line begins a block

        return INCLUDE.sub(pasted, text)

    text = expanded(note, (path.resolve(),))
    return Note(text, tuple(included), tuple(named), tuple(problems), tuple(read))


def searchable_text(text: str) -> str:
    """``text`` as stored and searched (``normalise``), each line's spaces collapsed (a vertical tab, PowerPoint's line
    break inside a title, as one), blank lines dropped."""
    lines = (" ".join(line.split()) for line in text.split("\n"))
    return normalise(without_controls("\n".join(line for line in lines if line)))


def inline_text(token: Token) -> str:
    """An inline token's words: emphasis, link and HTML markup dropped, a picture left out (its alt text too), a line
    wrapped in the source joined with a space."""
    words = []
    for child in token.children or []:
        if child.type == "text":
            words.append(UNPAIRED_STRONG.sub("", child.content))
        elif child.type == "code_inline":
            words.append(child.content)
        elif child.type == "softbreak":
            words.append(" ")
        elif child.type == "hardbreak" or (child.type == "html_inline" and LINE_BREAK_TAG.fullmatch(child.content)):
            words.append("\n")
    return searchable_text("".join(words))


UNREAD_ELEMENTS = frozenset({"script", "style"})
"""HTML elements whose text is code (a deck's ``<style>`` for its slides), not words of a slide."""


class HtmlParts(HTMLParser):
    """An HTML block's words as ``parts`` yields them: each block-level element (``HTML_BLOCK_TAGS``) a block of its
    own, other tags a space, comments dropped, entities read (``&amp;`` as ``&``); a ``<h1>`` or ``<h2>`` a slide's
    title where ``titles`` (the block is no list item's or quote's), as revealjs's ``<section><h2>`` shows it."""

    def __init__(self, titles: bool):
        super().__init__()
        self.titles = titles
        self.found: list[tuple[str | None, str]] = []
        self.words: list[str] = []
        self.heading: str | None = None
        self.unread: str | None = None
        """The ``UNREAD_ELEMENTS`` element being read, whose text is code, not words."""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_endtag(tag)
        if self.titles and tag in SLIDE_HEADINGS:
            self.heading = tag
        if tag in UNREAD_ELEMENTS:
            self.unread = tag

    def handle_endtag(self, tag: str) -> None:
        if tag == self.unread:
            self.unread = None
        if tag in HTML_BLOCK_TAGS:
            self.end_block()
        else:
            self.words.append(" ")

    def handle_data(self, data: str) -> None:
        if self.unread is None:
            self.words.append(data)

    def end_block(self) -> None:
        text, self.words = searchable_text("".join(self.words)), []
        if self.heading:
            self.found.append((self.heading, text))
            self.heading = None
        elif text:
            self.found.append((None, text))


def html_parts(html: str, titles: bool) -> list[tuple[str | None, str]]:
    """An HTML block's parts (``HtmlParts``)."""
    parser = HtmlParts(titles)
    parser.feed(html)
    parser.close()
    parser.end_block()
    return parser.found


def parts(tokens: list[Token]) -> Iterator[tuple[str | None, str]]:
    """The parsed deck in reading order: ``(tag, title)`` where a slide begins (``h1``, ``h2``; ``hr``, untitled),
    ``(None, text)`` for each block of it (a paragraph's words, "" for a paragraph of pictures alone)."""
    heading: str | None = None
    row: list[str] | None = None
    for token in tokens:
        if token.level == 0 and token.type == "hr":
            yield "hr", ""
        elif token.level == 0 and token.type == "heading_open" and token.tag in SLIDE_HEADINGS:
            heading = token.tag
        elif token.type == "tr_open":
            row = []
        elif token.type == "tr_close" and row is not None:
            yield None, ROW_SEPARATOR.join(" ".join(cell.split("\n")) for cell in row if cell)
            row = None
        elif token.type == "inline":
            text = inline_text(token)
            if heading:
                yield heading, HEADING_ATTRIBUTES.sub("", text)
                heading = None
            elif row is not None:
                row.append(text)
            else:
                yield None, text
        elif token.type in ("fence", "code_block"):
            yield None, searchable_text(token.content)
        elif token.type == "html_block":
            yield from html_parts(token.content, titles=token.level == 0)


def pandoc_rules(deck: Iterable[tuple[str | None, str]]) -> Iterator[tuple[str | None, str]]:
    """``deck``'s parts (``parts``) without each rule directly before a slide's heading, which Pandoc drops: revealjs
    shows ``## A``, ``---``, ``## B`` as two slides."""
    rule = False
    for tag, text in deck:
        if rule and tag not in SLIDE_HEADINGS:
            yield "hr", ""
        rule = tag == "hr"
        if not rule:
            yield tag, text


def slide_section(tag: str | None, chapter: str, title: str) -> str:
    """A slide's ``section``: a ``#`` slide by its title, a ``##`` slide by its chapter's and its own, a slide after
    a rule by its chapter's."""
    if tag == "h2" and title:
        return f"{chapter} > {title}" if chapter else title
    return title if tag == "h1" else chapter


def slides(body: str) -> list[Slide]:
    """Every slide of the Markdown ``body`` (front matter removed), those without words too; a Quarto div's fences and
    shortcode lines are dropped, a div's words kept (a ``::: {.notes}`` div holds what the teacher says)."""
    found: list[Slide] = []
    chapter = ""
    for tag, text in pandoc_rules(parts(markdown().parse(SHORTCODE.sub("", DIV_FENCE.sub("", body))))):
        if tag == "h1":
            chapter = text
        if tag or not found:  # words before the first heading make a slide of their own
            title = text if tag in SLIDE_HEADINGS else ""
            found.append(Slide(len(found) + 1, slide_section(tag, chapter, text), title=title))
        if text:
            found[-1].blocks.append(text)
    return found


def note_title(title: object, key: str) -> str:
    """What the records' ``book`` holds: the front matter's title (a string) as a PDF's metadata title is kept
    (``book_title``), none for a template's placeholder (``TEMPLATE_TITLES``)."""
    if not isinstance(title, str) or title.strip().casefold() in TEMPLATE_TITLES:
        return ""
    return book_title(title, key) or ""


class cached_reading(functools.cached_property):
    """A ``functools.cached_property`` keeping a refusal (``BadInputError``) too, raised again without reading again:
    ``cached_property`` keeps no exception, and a deck that cannot be read would be read again, with its includes, by
    each of ``included``, ``fingerprint``, ``content_hash`` and ``deck``."""

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        refused = f"{self.attrname} refused"  # no attribute's name: never read in place of ``attrname``'s value
        if (error := instance.__dict__.get(refused)) is not None:
            raise error
        try:
            return super().__get__(instance, owner)
        except BadInputError as exc:
            instance.__dict__[refused] = exc
            raise


class NotesSource(Source):
    """A Markdown or Quarto file of lecture notes (``NOTE_SUFFIXES``) with the files it includes: each slide with words
    a ``Page`` numbered by its place in the rendered deck (``opening_slides``, ``slides``) and cited by it ("week1.qmd,
    slide 3": ``slide_label``), named by its heading, and its words as passages of the sizes a PDF's take
    (``pdf.merge_blocks``), without a box. An include not read is named in ``problems``."""

    kind = "notes"
    records_version = 15
    """15: a slide numbered as the rendered deck counts it, after the title slide of the front matter's title and the
    table of contents' (``opening_slides``), and Quarto includes read (``with_includes``). Up to 14 the version every
    built-in reader shared (``Source.records_version``)."""
    reads_settings = ("passage_min_words", "passage_max_words", "passage_vectors")

    @classmethod
    def accepts(cls, path: Path) -> bool:
        return path.is_file() and path.suffix.lower() in NOTE_SUFFIXES

    @functools.cached_property
    def scope(self) -> IncludeScope:
        """Where its includes are read from (``include_scope``): its Quarto project, within its upload if uploaded."""
        return include_scope(self.path, self.settings.uploads_dir)

    @cached_reading
    def note(self) -> Note:
        """The file as its deck is made of it (``with_includes``), read once a reading, or refused once: the
        fingerprint hashes the bytes read, and the deck is parsed from the same text."""
        return with_includes(self.path, self.scope)

    def readable_note(self) -> Note:
        """The note (``note``), or one of no text, no includes and its own file read as nothing where it cannot be
        read (``records`` says why)."""
        try:
            return self.note
        except BadInputError:
            return Note("", (), (), (), ((self.path, ""),))

    def included(self) -> tuple[Path, ...]:
        """The files its includes name, pasted in or not: one edited, deleted or written changes the deck."""
        return self.readable_note().named

    def fingerprint(self) -> str:
        """What its records are made of: its file and its includes as ``note`` read them (``Note.read``), each by its
        path and the hash of its bytes, with its reader's version and settings as ``hash_files`` hashes them. Not read
        again: a deck saved meanwhile would otherwise get the old text's records under the new text's fingerprint, and
        the next ``index`` would find it unchanged. A changed partial reads the decks including it again."""
        read = (f"{utf8_name(file)}\0{digest}" for file, digest in self.readable_note().read)
        joined = "\0".join([hash_files([], self.reading(), self.records_version), *read])
        return hashlib.blake2b(joined.encode(), digest_size=16).hexdigest()

    def content_hash(self) -> str | None:
        """The file's as ``Source.content_hash`` hashes it, so a deck without includes keeps its hash and a renamed copy
        is still told a copy, and each include's by its path from the folder includes lie within (``IncludeScope.top``:
        ``hash_held`` names a file within the source's path, which is the deck's file alone)."""
        own, included = super().content_hash(), self.readable_note().included
        if own is None or not included:
            return own
        beside = hash_held(self.scope.top, [(file, True) for file in included])
        return None if beside is None else hashlib.blake2b(f"{own}+{beside}".encode(), digest_size=16).hexdigest()

    def size_hint(self) -> int:
        try:
            return len(self.deck[1])
        except BadInputError:  # records() reports it
            return 0

    @cached_reading
    def deck(self) -> tuple[str, list[Slide]]:
        """The deck's title (``note_title``) and its slides with words besides their titles, numbered as the rendered
        deck shows them (``opening_slides``); a ``BadInputError`` where it has none. Parsed once a reading, or refused
        once: ``size_hint`` and ``records`` both ask."""
        meta, body = metadata(self.note.text)
        self.problems.extend(self.note.problems)
        opening = opening_slides(meta)
        worded = [replace(slide, number=opening + slide.number) for slide in slides(body) if slide.has_words()]
        if not worded:
            raise NoWordsError(
                f"{self.path} holds no words to index (front matter, slide titles, pictures or blank lines alone)"
            )
        return note_title(meta.get("title"), self.key), worded

    def records(self) -> Iterator[Record]:
        fingerprint = self.fingerprint()
        book, worded = self.deck
        min_words, max_words = self.settings.passage_min_words, self.settings.passage_max_words
        for slide in worded:
            label = slide_label(slide.number)
            yield Page(
                self.key, fingerprint, slide.number, BLOCK_BREAK.join(slide.blocks), None, book, slide.section, label
            )
            groups = merge_blocks([(None, block) for block in slide.blocks], min_words, max_words)
            for index, group in enumerate(groups):
                yield Passage(
                    self.key,
                    fingerprint,
                    slide.number,
                    index,
                    BLOCK_BREAK.join(text for _, text in group),
                    None,
                    book=book,
                    section=slide.section,
                    vector=self.settings.passage_vectors,
                    page_label=label,
                )
