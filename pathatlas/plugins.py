"""The ``py:package.module.Class`` escape hatch shared by every registry, and the checks on what a plug-in hands back:
a plug-in's mistake is one line naming it, never a traceback from deep inside the stores."""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import numpy as np

from pathatlas.errors import EncoderError, MissingExtraError, PathAtlasError, UnknownNameError
from pathatlas.settings import ENVIRONMENT_ERRORS

T = TypeVar("T")

GUARDED = frozenset({"store"})
"""Registries whose plug-ins' protocol calls are guarded here (``guarded``): an encoder's calls are checked where they
are made (``encoded``), an answerer's by its base class (``checked_answers``), a source's failure fails its source."""


def import_plugin(name: str, base: type, what: str) -> type:
    """Import ``py:module.Class`` and check it is a concrete ``base`` subclass; ``what`` names the registry in errors,
    which say why (the module's own import error, the abstract methods it leaves out) in one line. A plug-in of a
    ``GUARDED`` registry comes back as its ``guarded`` subclass."""
    dotted = name.removeprefix("py:")
    module_name, _, class_name = dotted.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError, ValueError, SyntaxError) as exc:
        raise UnknownNameError(f"{what} {name!r}: cannot import {dotted} ({cause(exc)})") from None
    if not (isinstance(cls, type) and issubclass(cls, base)):
        article = "an" if base.__name__[0] in "AEIOU" else "a"
        raise UnknownNameError(f"{what} {name!r}: {dotted} is not {article} {base.__name__} subclass")
    if inspect.isabstract(cls):
        missing = ", ".join(sorted(cls.__abstractmethods__))
        raise UnknownNameError(f"{what} {name!r}: {dotted} does not define {missing} (abstract in {base.__name__})")
    return guarded(cls, base, lambda call: f"{what} {name!r}: {call}") if what in GUARDED else cls


@functools.cache
def public_calls(base: type) -> frozenset[str]:
    """The calls a plug-in's ``base`` declares for its callers (its public methods), which a plug-in's failures are
    named by and an attribute may not hide (``VectorStore.__setattr__``)."""
    return frozenset(call for call, member in vars(base).items() if callable(member) and not call.startswith("_"))


def guarded(cls: type, base: type, named: Callable[[str], str | Callable[..., str]], **members: Any) -> type:
    """``cls`` with each public call ``base`` declares guarded (``guarded_call``, ``named(call)`` starting its line),
    so that a plug-in's failure (a store's connection reset mid-search, a source's parser) is one line naming it
    wherever the call is made, not a traceback from inside it; ``members`` set beside them. A subclass, not a wrapper:
    its attributes, ``isinstance`` and its own calls to itself stay as they are, and so do its name and module."""
    calls = {call: guarded_call(getattr(cls, call), named(call)) for call in public_calls(base)}
    return type(
        cls.__name__, (cls,), {**calls, **members, "__module__": cls.__module__, "__qualname__": cls.__qualname__}
    )


def guarded_call(call: Callable[..., Any], named: str | Callable[..., str]) -> Callable[..., Any]:
    """``call`` whose failures, and those of the iterator it returns (``scan``'s, a source's ``records``), are
    ``failures_named``; ``named`` the line's start, or a function of the call's arguments making it (a source's names
    the path it was called on)."""

    @functools.wraps(call)
    def checked(*args: Any, **kwargs: Any) -> Any:
        said = named(*args) if callable(named) else named
        with failures_named(said):
            returned = call(*args, **kwargs)
        return guarded_items(returned, said) if isinstance(returned, Iterator) else returned

    return checked


def guarded_items(items: Iterator[T], named: str) -> Iterator[T]:
    with failures_named(named):
        yield from items


@contextmanager
def failures_named(named: str) -> Iterator[None]:
    """Whatever a plug-in's call raises as one ``PathAtlasError`` line starting with ``named`` ("store 'py:x.Y':
    search"); passed as raised: its own ``PathAtlasError``, ``NotImplementedError`` (the protocol's idiom for a call a
    plug-in cannot make, which its caller names) and an OS error the machine must fix (a full disk), which the
    caller names with its path."""
    try:
        yield
    except (PathAtlasError, NotImplementedError):
        raise
    except Exception as exc:  # noqa: BLE001 - whatever a plug-in raises, the user reads one line naming it
        if isinstance(exc, OSError) and exc.errno in ENVIRONMENT_ERRORS:
            raise
        raise PathAtlasError(f"{named} failed: {cause(exc)}") from exc


def started(name: str, what: str, build: Callable[[], T]) -> T:
    """``build()``, a plug-in's constructor: its failure (a model file missing) is one line naming the plug-in, as is
    an encoder without usable ``dims`` (``checked_dims``)."""
    try:
        built = build()
    except PathAtlasError:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever a plug-in raises, the user reads one line naming it
        raise PathAtlasError(f"{what} {name!r} failed to start: {cause(exc)}") from exc
    if what == "encoder":
        checked_dims(name, built)
    return built


def checked_dims(name: str, encoder: Any) -> None:
    """Refuse, in one line naming it, an encoder whose ``dims`` do not give each space it declares a positive int
    size: an index records them when it is made and sizes its store by them, where a missing or odd one would be an
    AttributeError from inside ``Index.open`` or a store that cannot hold a vector."""
    dims = getattr(encoder, "dims", None)
    spaces = {*encoder.text_spaces, *encoder.image_spaces}
    sized = isinstance(dims, Mapping) and spaces <= set(dims)
    if not sized or not all(type(size) is int and size > 0 for size in dims.values()):
        given = "it sets none" if dims is None else f"not {dims!r}"
        declared = ", ".join(map(repr, sorted(spaces))) or "none"
        raise EncoderError(
            f"encoder {name!r}: dims must map each space it declares ({declared}) to a positive int; {given}"
        )


def encoded(
    encoder: str, encode: Callable[[list], object], batch: list, spaces: Sequence[str], dims: Mapping[str, int]
) -> dict[str, np.ndarray]:
    """``encode(batch)``, one of an encoder's calls (``encode_text``, ``encode_query``, ``encode_image``), as the
    ``Encoder`` protocol promises its vectors (``checked_vectors``); whatever it raises (a GPU out of memory, a
    plug-in's bug) is one line naming the encoder as the index records it, not a traceback from inside it."""
    call = getattr(encode, "__name__", "encode")
    try:
        returned = encode(batch)
    except (PathAtlasError, OSError):  # an OSError names its file: the caller's handling says which (an unusable home)
        raise
    except Exception as exc:  # noqa: BLE001 - whatever an encoder raises, the user reads one line naming it
        raise EncoderError(f"encoder {encoder!r}: {call} failed: {cause(exc)}") from exc
    return checked_vectors(returned, len(batch), spaces, dims, encoder, call)


def cause(exc: BaseException) -> str:
    """An exception as one line: its type and message ("SyntaxError: expected ':' (brokensyntax.py, line 2)")."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def checked_vectors(
    returned: object, rows: int, spaces: Sequence[str], dims: Mapping[str, int], encoder: str, call: str
) -> dict[str, np.ndarray]:
    """What an encoder's ``call`` (``encode_text``, ``encode_image``) returned for ``rows`` inputs, as float32 arrays,
    once it is what the ``Encoder`` protocol promises: a dict of spaces among ``spaces`` (those it declares for that
    input) to finite arrays of shape (rows, dims[space]), rows of unit length (``unit_rows``). Anything else is refused
    in one line naming the encoder (as the index records it) and what it returned, before a store holds it: a wrong
    width, a missing row or a NaN would otherwise break every later search, or be stored under no space at all."""
    named = f"encoder {encoder!r}: {call}"
    if not isinstance(returned, Mapping):
        raise EncoderError(f"{named} returned {type(returned).__name__}, not a dict of space name to vectors")
    checked = {}
    for space, vectors in returned.items():
        if space not in spaces:
            declared = ", ".join(map(repr, spaces)) or "none"
            raise EncoderError(f"{named} returned space {space!r}, which it does not declare (declared: {declared})")
        try:
            array = np.asarray(vectors, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise EncoderError(f"{named} returned {space!r} vectors that are not numbers ({cause(exc)})") from None
        if array.shape != (rows, dims[space]):
            raise EncoderError(
                f"{named} returned {space!r} vectors of shape {array.shape} for {rows} inputs; expected "
                f"({rows}, {dims[space]})"
            )
        if not np.isfinite(array).all():
            raise EncoderError(f"{named} returned {space!r} vectors holding NaN or infinite values")
        checked[space] = unit_rows(array)
    return checked


UNIT_TOLERANCE = 1e-3
"""How far from 1 a row's length may be and the row kept as given: the built-in encoders' rows are within 3e-7 of it
(float32 rounding after their own normalising), a plug-in's that were never normalised are off by far more."""


def unit_rows(array: np.ndarray) -> np.ndarray:
    """``array`` with each row longer or shorter than 1 (beyond ``UNIT_TOLERANCE``) scaled to unit length; a row of
    zeros, which has no direction, stays as it is. Scaled, not refused: the direction is what a vector says, so the
    rows of a plug-in that forgot to normalise mean the same once scaled, where their lengths had made every score of
    its spaces grow with them (1e6 for rows of length 1000) and outweigh the other spaces in a fused ranking. Rows
    already unit are kept bit for bit, so the built-in encoders' vectors, and the copies a re-index makes of them,
    are as they gave them."""
    lengths = np.linalg.norm(array.astype(np.float64), axis=1, keepdims=True)  # no overflow from float32's squares
    off = (np.abs(lengths - 1) > UNIT_TOLERANCE) & (lengths > 0)
    if not off.any():
        return array
    return np.where(off, array / np.where(off, lengths, 1), array).astype(np.float32)


def require(module: str, extra: str):
    """Import an optional dependency, or fail with the one line that says which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(f"{module} is not installed: pip install 'pathatlas[{extra}]'") from exc
