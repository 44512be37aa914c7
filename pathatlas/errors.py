"""Errors a user can act on. Each message is one line naming the file, option or value at fault."""

from collections.abc import Sequence


def first_few(texts: Sequence[str], shown: int = 3, between: str = ", ") -> str:
    """The first ``shown`` of ``texts``, saying how many more there are: what a one-line refusal lists."""
    return between.join(texts[:shown]) + (f" (+{len(texts) - shown} more)" if len(texts) > shown else "")


class PathAtlasError(Exception):
    """Base class; the CLI prints ``error: <message>`` and exits with status 1 (the REST API answers 400)."""


class BadInputError(PathAtlasError):
    """A file, image, query or option the user gave cannot be used."""


class IndexMissingError(PathAtlasError):
    """No usable index at the given folder."""


class IndexBusyError(PathAtlasError):
    """Another process is changing the index (an indexing run, a removal, a server's job)."""


class UnknownSourceError(PathAtlasError):
    """An index holds no source, or no chapter, of that name or id (the REST API answers 404)."""


class EncoderMismatchError(PathAtlasError):
    """An index was opened with a different encoder than the one that built it."""


class EncoderError(PathAtlasError):
    """An encoder raised or broke its protocol (a wrong width, a NaN): the server's model, not the request, failed
    (the REST API answers 500 with the one line naming it)."""


class UnknownNameError(PathAtlasError):
    """A registry (encoder, store, source, answerer) has no entry of that name."""


class MissingExtraError(PathAtlasError):
    """An optional dependency is not installed; the message names the extra that installs it."""


class MissingProgramError(PathAtlasError):
    """A system program an option needs is not installed; the message says how to install it."""
