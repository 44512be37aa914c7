"""Pieces every ``pathatlas`` command shares: consoles, option types, settings, error handling."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import shlex
import sys
import tempfile
import time
from collections.abc import Iterator
from contextvars import ContextVar
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO, get_args

import typer
from rich.console import Console
from rich.text import Text
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from pathatlas.errors import BadInputError, PathAtlasError
from pathatlas.paths import expanded
from pathatlas.retrieval.durable import write_atomic
from pathatlas.retrieval.text import without_controls

if TYPE_CHECKING:
    from pathatlas.settings import Settings

LOG_WIDTH = 240
"""Columns of tables written to a file or a pipe (a saved benchmark log): Rich would otherwise fit them to 80 and cut
the 14-column QA table to "0.…". A terminal, or COLUMNS, keeps its own width."""


ESCAPE_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves, clearing the screen
    r"|\x1b[]PX^_][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # OSC, DCS...: a window title, a link, to their end
    r"|\x1b[ -/]*[0-~]"  # ESC and one character: a character set, a reset
)
"""A terminal's command sequences (ECMA-48) that start with ESC, whole: dropping only their ESC left "[2J[31m" on the
screen. A lone C1 control (a CSI as one character) is dropped alone (``without_controls``), as it may be a mis-decoded
quotation mark whose text should stay."""


def printable(text: str) -> str:
    """Text without ESC sequences (whole) and other control characters (tab and newline kept)."""
    return without_controls(ESCAPE_SEQUENCE.sub("", text))


def terminal_text(text: str, style: str = "") -> Text:
    """Model or document text as a terminal shows it: as text, not Rich markup or emoji codes ("[red]", ":warning:"
    print as typed), without the ESC sequences (a cleared screen, colours, a window title) and other control characters
    a model's answer or a book may hold (tab and newline kept). ``--json`` prints such text as it is, escaped."""
    return Text(printable(text), style=style)


ERROR = Text("error:", style="red")
"""What begins every one-line error; its message follows as text (``terminal_text``), never as markup."""
WARNING = Text("warning:", style="yellow")
"""What begins a line that a command says and goes on: a ``PATHATLAS_`` variable that is no setting."""


class TextConsole(Console):
    """A console that prints text as text, never as terminal commands: control characters in what it is given (an
    ESC sequence in a case's diagnosis or a file name, a BEL) are dropped before Rich styles it, in tables too, so
    indexed text cannot change the terminal's colours or window title; Rich's own styling still colours."""

    def render_str(self, text: str, **options) -> Text:
        return super().render_str(printable(text), **options)


def _console(stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    piped = not (stream is not None and stream.isatty()) and "COLUMNS" not in os.environ  # None: no console (pythonw)
    return TextConsole(stderr=stderr, width=LOG_WIDTH if piped else None)


console = _console()
err_console = _console(stderr=True)


def tolerant_streams() -> None:
    """Text a terminal cannot encode prints as "?" instead of ending the command in a traceback: in a terminal that is
    not UTF-8 (``PYTHONIOENCODING=latin-1``, an ASCII console) a snippet's "…" or a case's "Fälle" would raise
    UnicodeEncodeError. ``print_json`` writes UTF-8 bytes, untouched."""
    for stream in (sys.stdout, sys.stderr):
        if callable(reconfigure := getattr(stream, "reconfigure", None)):
            reconfigure(errors="replace")


def progress_shown(as_json: bool = False) -> bool:
    """Whether a command draws progress bars (on stderr): only where stderr is a terminal, and not with ``--json``. A
    file or a pipe would keep every redraw of every bar ("2>log", "2>&1 | less")."""
    return not as_json and err_console.is_terminal


PROGRESS_LINE_SECONDS = 30.0
"""How often a run that draws no bar (stderr a log file, a pipe, ``docker logs``) says how far it got."""


class ProgressLines:
    """An ``Indexer``'s progress as a plain line on stderr at most every ``PROGRESS_LINE_SECONDS``, where no bar is
    drawn (``progress_shown``): upgrading a 998-page book wrote "(1/1) book.pdf" to a log, then nothing for five
    minutes."""

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.said = clock()

    def __call__(self, key: str, done: int, total: int) -> None:
        if (now := self.clock()) - self.said < PROGRESS_LINE_SECONDS:
            return
        self.said = now
        share = f" ({done / total:.0%})" if total else ""
        err_console.print(f"{Path(key).name}: {done} of {total} items{share}", highlight=False, markup=False)


VALUE_SHAPES = {Path: "PATH", int: "INTEGER", float: "FLOAT"}
"""What help shows after an option that takes a value of this type, in the words of Click and of the metavars our
options name (``FIELD=VALUE``, ``FOLDER``); any other type reads ``TEXT``."""


def value_shape(param: TyperOption) -> str | None:
    """The word help shows after ``param`` where it names no metavar: ``PATH`` for each value of a repeatable path
    option, nothing after a flag (it takes no value). Typer shows Python's type instead (``--json <bool>``,
    ``--images <list[Path]>``)."""
    if param.is_flag or param.count:
        return None
    annotation = param.type_descriptor.annotation
    element = get_args(annotation)[0] if param.type_descriptor.is_list else annotation
    return VALUE_SHAPES.get(element, "TEXT")


class ShapedOption(TyperOption):
    """An option whose help shows its metavar, else ``value_shape``."""

    def display_type_rich(self, ctx: typer.Context) -> str | None:
        return self.metavar if self.metavar is not None else value_shape(self)


class NamedArgument(TyperArgument):
    """An argument whose help shows its name alone (``PATH``, ``QUESTION``), as the usage line does: a type beside it
    read ``PATH <list[Path]>``."""

    def display_type_rich(self, ctx: typer.Context) -> str | None:
        return None

    def _usage_display_name(self) -> str:
        """The usage line's name as click and man pages write it, ``SOURCE`` (Typer 0.29 writes a required one
        ``{SOURCE}``, read as a set to pick from), an optional one ``[PATH]``, a repeated one followed by "..."."""
        name = self.display_name_raw if self.required else f"[{self.display_name_raw}]"
        return name + ("..." if self.nargs != 1 else "")


SHAPED = {TyperOption: ShapedOption, TyperArgument: NamedArgument}


class ShapedHelp:
    """A command (or group) whose options and arguments, ``--help`` included, show in help as ``ShapedOption`` and
    ``NamedArgument`` do. Typer builds its parameters itself and takes no class for them, so each is given the
    subclass here, where every use of them (parsing, help) asks for them."""

    def get_params(self, ctx: typer.Context) -> list:
        params = super().get_params(ctx)
        for param in params:
            param.__class__ = SHAPED.get(type(param), type(param))
        return params


class ShapedCommand(ShapedHelp, TyperCommand):
    pass


class OneLineUsageErrors:
    """A group whose usage errors, its own and its commands' (a misspelt command, an unknown option, ``-k abc``), are
    one ``error:`` line on stderr and exit status 2, Click's for a usage error, instead of Typer's boxed panel under
    the usage line. Parsing happens in ``make_context`` (the group's options) and ``invoke`` (the command's name and
    options); a nested group (``bench``) says its own, and the group above lets its exit through."""

    def make_context(self, *args: Any, **extra: Any) -> typer.Context:
        with click_errors_in_one_line():
            return super().make_context(*args, **extra)

    def invoke(self, ctx: typer.Context) -> Any:
        with click_errors_in_one_line():
            return super().invoke(ctx)


@contextlib.contextmanager
def click_errors_in_one_line() -> Iterator[None]:
    """A Click error raised meanwhile said in one line (``click_error_line``), ending the command with its exit status;
    not a group's help shown for want of a command (``no_args_is_help``: Typer prints it, then exits with 2)."""
    try:
        yield
    except NoArgsIsHelpError:
        raise
    except ClickException as exc:
        err_console.print(ERROR, terminal_text(click_error_line(exc)), highlight=False, soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None


def click_error_line(exc: ClickException) -> str:
    """Click's message on one line, a usage error's with the help to read: "No such option: --filtr (Possible
    options: --filter); try 'pathatlas search --help'"."""
    message = " ".join(exc.format_message().split())
    if isinstance(exc, UsageError) and exc.ctx is not None:
        if message.endswith((".", "?", "!")):  # "Did you mean 'search'?; try" read as a typo of its own
            return f"{message} Try '{exc.ctx.command_path} --help'"
        return f"{message}; try '{exc.ctx.command_path} --help'"
    return message


class ShapedGroup(OneLineUsageErrors, ShapedHelp, TyperGroup):
    pass


class PathAtlasTyper(typer.Typer):
    """``typer.Typer`` whose group and commands are ``ShapedHelp``'s, and whose usage errors are one line
    (``OneLineUsageErrors``): one place for how every command's help and usage errors read. A ``cls`` given explicitly
    wins (a command of a class of its own); passing it beside ours would fail with "multiple values for keyword
    argument 'cls'"."""

    def __init__(self, **settings: Any) -> None:
        super().__init__(**{"cls": ShapedGroup, **settings})

    def command(self, *args: Any, **settings: Any):
        return super().command(*args, **{"cls": ShapedCommand, **settings})


STDOUT = Path("-")  # ``--json -``: the JSON document goes to stdout, alone
JSON_STREAM: ContextVar[TextIO | None] = ContextVar("json_stream", default=None)
"""The running command's own stdout, while ``console`` and ``sys.stdout`` may point at stderr."""

IndexOpt = Annotated[
    Path | None,
    typer.Option(
        "--index",
        help="Index folder (default: PATHATLAS_INDEX, else index/ in PATHATLAS_HOME, whose default is ~/.pathatlas).",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
JsonFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--json",
        help="Write results to this JSON file; '-' prints the JSON alone on stdout (tables and progress on stderr).",
    ),
]


def named_index(settings: Settings) -> Path | None:
    """The index folder a command was given (``--index`` or ``PATHATLAS_INDEX``), absolute as ``Index.open`` makes it:
    what its hints name (``hint``). None for the default one, which a hint pasted without ``--index`` reaches."""
    return None if settings.index is None else expanded(settings.index_dir).absolute()


def hint(settings: Settings, *words: str) -> str:
    """``pathatlas WORDS`` as a command's hint prints it, to paste (``pathatlas_command``): with the ``--index`` the
    command was given, so that the hint acts on the same index."""
    from pathatlas.indexer.pipeline import pathatlas_command

    return pathatlas_command(*words, index_dir=named_index(settings))


QUOTED_COMMAND = re.compile(r"'(pathatlas [^']*)'|`(pathatlas [^`]*)`")
"""A command a message quotes to paste, between single quotes or backquotes."""


def for_this_index(message: str, settings: Settings) -> str:
    """``message``, which the index words for the default index, with each command it quotes to paste made this
    command's ``hint`` (``--index`` added where it has none)."""

    def carried(match: re.Match) -> str:
        words = shlex.split(match[1] or match[2])
        if "--index" in words:
            return match[0]
        quote = match[0][0]
        return f"{quote}{hint(settings, *words[1:])}{quote}"

    return QUOTED_COMMAND.sub(carried, message)


LOADED: ContextVar[Settings | None] = ContextVar("loaded_settings", default=None)
"""The running command's settings (``settings_for``): an OS error on its home is said naming PATHATLAS_HOME."""
DEMO_INDEX = "demo-index"
"""The demo's own index folder under PATHATLAS_HOME: disposable, so ``demo`` rebuilds it for another encoder."""


def settings_for(index: Path | None = None, **overrides) -> Settings:
    """The command's settings, with its logging set up (``Settings.configure_logging``); each ``PATHATLAS_`` variable
    that is no setting is a warning on stderr (stdout may carry --json). pydantic-settings costs 0.2 s: imported here,
    --help does without it."""
    from pathatlas.settings import load_settings, unknown_variables

    if LOADED.get() is None:  # the command's first settings (``demo`` asks twice): said once
        for line in unknown_variables(os.environ):
            err_console.print(WARNING, terminal_text(line), highlight=False, soft_wrap=True)
    values = {k: v for k, v in overrides.items() if v is not None}
    if index is not None:
        values["index"] = index
    settings = load_settings(**values)
    settings.configure_logging()
    LOADED.set(settings)
    return settings


def user_text(text: str | None, settings: Settings, name: str = "the query", terminal: bool = True) -> str | None:
    """A text from the command line (``terminal``; else a Python caller's): valid Unicode (bytes that are not UTF-8
    decode as lone surrogates) and bounded. ``name`` says which text a refusal is about ("the question", "option A"):
    an ask's option is not "the query"."""
    from pathatlas.retrieval.search import check_length, check_unicode

    if text is None:
        return None
    try:
        check_unicode(text, name)
    except BadInputError as exc:
        if terminal:  # a terminal's bytes that are not UTF-8 arrive so; a Python caller's string has no terminal
            raise BadInputError(f"{name} is not valid UTF-8; check the terminal's encoding") from exc
        raise
    check_length(text, name, settings.max_query_chars)
    return text


def quiet_mupdf() -> None:
    """MuPDF reports repairs of damaged PDFs on stdout; send them to logging (stderr) so --json stays clean.

    Said through ``PYMUPDF_MESSAGE``, which pymupdf reads when imported: commands that read no PDF never
    import it (half a second).
    """
    if "pymupdf" in sys.modules:
        sys.modules["pymupdf"].set_messages(pylogging=True, pylogging_level=logging.WARNING)
    else:
        os.environ["PYMUPDF_MESSAGE"] = f"logging:level={logging.WARNING}"


def friendly_errors(func):
    """User mistakes end as one ``error:`` line and exit status 1, never a traceback."""

    @wraps(func)
    def wrapper(*args, **kwargs):
        stream = JSON_STREAM.set(sys.stdout)
        loaded = LOADED.set(None)
        # With --json, stdout carries the JSON document only: anything else printed on it (a library
        # announcing its weights, tqdm.write, a stray print) goes to stderr. ``console`` still writes to
        # stdout, unless the JSON is a benchmark's document bound for stdout: then its tables go to stderr.
        to_stdout = kwargs.get("json_out") == STDOUT
        json_only = kwargs.get("as_json") or to_stdout
        chatter = contextlib.redirect_stdout(sys.stderr) if json_only else contextlib.nullcontext()
        console.file = sys.stderr if to_stdout else sys.stdout
        try:
            with chatter:
                check_json_path(kwargs.get("json_out"))
                refuse_empty_names(kwargs)
                return func(*args, **kwargs)
        except PathAtlasError as exc:
            line = str(exc) + demo_hint(exc, LOADED.get())
            err_console.print(ERROR, terminal_text(line), highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
        except OSError as exc:
            from pathatlas.settings import os_problem

            if (line := os_problem(exc, LOADED.get())) is None:
                raise
            err_console.print(ERROR, terminal_text(line), highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
        finally:
            console.file = None
            JSON_STREAM.reset(stream)
            LOADED.reset(loaded)

    return wrapper


NAMING_OPTIONS = ("encoder", "store")
"""Options that name an encoder or a store (the settings of those names)."""


def refuse_empty_names(options: dict[str, Any]) -> None:
    """``--store ""`` or ``--encoder ""`` is refused in one line, as an unknown name is: an empty one would read as
    unset, so ``--store ""`` would make a faiss index unsaid."""
    from pathatlas.settings import empty_name

    for name in NAMING_OPTIONS:
        if isinstance(value := options.get(name), str) and not value.strip():
            raise BadInputError(empty_name(f"--{name}", name))


def refuse_file_index(settings: Settings) -> None:
    """A file given as the index is said to be one, as ``Index.open`` says it, before a command says what the folder
    lacks: ``index --index FILE`` without paths would say "no PathAtlas index at FILE to index again"."""
    from pathatlas.retrieval.index import not_a_folder

    folder = expanded(settings.index_dir).absolute()
    if folder.exists() and not folder.is_dir():
        raise not_a_folder(folder)


def demo_hint(exc: PathAtlasError, settings: Settings | None) -> str:
    """What the error line of a command that found no index (``settings.index_dir``) adds where ``pathatlas demo``
    built its own: the ``--index`` that reaches it. The help's next step after the demo, ``pathatlas search "your
    words"``, would otherwise say only that the default index is missing. Nothing for another error (a damaged
    index)."""
    from pathatlas.errors import IndexMissingError
    from pathatlas.retrieval.index import META_FILE

    if not isinstance(exc, IndexMissingError) or settings is None:
        return ""
    demo, asked = (settings.home / DEMO_INDEX).absolute(), settings.index_dir.absolute()
    if demo == asked or (asked / META_FILE).is_file() or not (demo / META_FILE).is_file():
        return ""
    return f"; the demo's index is at {demo}: add --index {shlex.quote(str(demo))}"


def print_json(document: Any) -> None:
    """One JSON document on stdout, uncoloured, so ``| jq`` and ``json.loads`` read it as is; in UTF-8 whatever the
    terminal's encoding ("etiología" as written, not escaped), as JSON is exchanged."""
    stream = JSON_STREAM.get() or sys.stdout
    text = strict_json(document) + "\n"
    buffer = getattr(stream, "buffer", None)
    if buffer is None:
        stream.write(text)
    else:
        stream.flush()
        buffer.write(text.encode("utf-8"))
    stream.flush()


def write_json(path: Path | None, document) -> None:
    """A benchmark's document to ``path``, or alone on stdout when ``path`` is ``-``."""
    if path == STDOUT:
        print_json(document)
    elif path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, strict_json(document).encode())  # a second Ctrl-C leaves the last whole file, never half
        console.print(f"wrote {path}")


def check_json_path(path: Path | None) -> None:
    """Refuse a ``--json`` file that cannot be written before a benchmark runs, not after it has measured for an
    hour: a folder, or a file in a folder that cannot be made or written."""
    if path is None or path == STDOUT:
        return
    if path.is_dir():
        raise BadInputError(f"--json {path} is a folder; give a file name")
    folder = next((p for p in path.absolute().parents if p.exists()), None)
    if folder is None or not folder.is_dir() or not os.access(folder, os.W_OK):
        raise BadInputError(f"--json {path}: cannot write in {folder}")
    if path.exists() and not os.access(path, os.W_OK):
        raise BadInputError(f"--json {path} is not writable")


def check_destination(path: Path | None, option: str, folder: bool = False) -> None:
    """Refuse in one line, before the work (a benchmark's run, an export's reading), a destination that could not be
    written once done: a file where a ``folder`` goes or the reverse, a file on the way to it, or a place where no file
    can be made. A scratch file is made and removed in the nearest folder that exists (``os.access`` grants root every
    folder, /proc's too); nothing is left behind, so a refused run makes no folder."""
    if path is None or path == STDOUT:
        return
    if path.exists() and path.is_dir() != folder:
        wanted = "folder" if folder else "file name"
        raise BadInputError(f"{option} {path} is a {'file' if folder else 'folder'}; give a {wanted}")
    parent = path if folder else path.parent
    nearest = next(p for p in (parent, *parent.parents) if p.exists())
    if not nearest.is_dir():
        raise BadInputError(f"{option} {path}: {nearest} is a file, not a folder")
    try:
        tempfile.TemporaryFile(dir=nearest).close()
    except OSError as exc:
        raise BadInputError(f"{option} {path}: cannot write in {nearest} ({exc.strerror or exc})") from None


def strict_json(document: Any) -> str:
    """JSON every parser reads: NaN and infinities (a p-value of two tied methods) become null, as
    ``json.dumps`` would otherwise write the bare ``NaN`` that strict parsers and ``jq`` refuse."""
    return json.dumps(finite(document), indent=2, default=plain_scalar, allow_nan=False, ensure_ascii=False)


def finite(value: Any) -> Any:
    """``value`` with every non-finite float (numpy's too) replaced by None, containers rebuilt."""
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):  # numpy's float64 too; other scalars: plain_scalar
        return None
    return value


def plain_scalar(value):
    """numpy scalars (ranx's p-values and flags) as the Python numbers JSON knows."""
    if hasattr(value, "item"):
        return finite(value.item())
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
