"""The ``py:package.module.Class`` escape hatch shared by every registry, and the checks on what a plug-in hands back:
a plug-in's mistake is one line naming it, never a traceback from deep inside the stores."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

import numpy as np

from pathatlas.errors import EncoderError, MissingExtraError, PathAtlasError, UnknownNameError

T = TypeVar("T")


def import_plugin(name: str, base: type, what: str) -> type:
    """Import ``py:module.Class`` and check it is a concrete ``base`` subclass; ``what`` names the registry in errors,
    which say why (the module's own import error, the abstract methods it leaves out) in one line."""
    dotted = name.removeprefix("py:")
    module_name, _, class_name = dotted.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError, ValueError, SyntaxError) as exc:
        raise UnknownNameError(f"{what} {name!r}: cannot import {dotted} ({cause(exc)})") from None
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise UnknownNameError(f"{what} {name!r}: {dotted} is not a {base.__name__} subclass")
    if inspect.isabstract(cls):
        missing = ", ".join(sorted(cls.__abstractmethods__))
        raise UnknownNameError(f"{what} {name!r}: {dotted} does not define {missing} (abstract in {base.__name__})")
    return cls


def started(name: str, what: str, build: Callable[[], T]) -> T:
    """``build()``, a plug-in's constructor: its failure (a model file missing) is one line naming the plug-in."""
    try:
        return build()
    except PathAtlasError:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever a plug-in raises, the user reads one line naming it
        raise PathAtlasError(f"{what} {name!r} failed to start: {cause(exc)}") from exc


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
    input) to finite arrays of shape (rows, dims[space]). Anything else is refused in one line naming the encoder (as
    the index records it) and what it returned, before a store holds it: a wrong width, a missing row or a NaN would
    otherwise break every later search, or be stored under no space at all."""
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
        checked[space] = array
    return checked


def require(module: str, extra: str):
    """Import an optional dependency, or fail with the one line that says which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(f"{module} is not installed: pip install 'pathatlas[{extra}]'") from exc
