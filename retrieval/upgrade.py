"""The index formats this PathAtlas reads and writes, and what of an index an older one wrote it reads differently."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pathatlas.retrieval.terms import TERMS_VERSION

FORMAT_VERSION = 2
"""What ``pathatlas.json`` says every commit of this version wrote (2: BM25 segments as this version writes them, on
which versions that read format 1 only failed with a traceback). Bump it when a commit writes what an older version
would misread."""
READ_FORMATS = (1, 2)
"""The formats this version reads: those of older versions' indexes too, whose files it re-reads in memory where it
must (BM25 of an older terms version), until its first commit writes them in ``FORMAT_VERSION``."""


def entry_reader(entry: Mapping[str, Any]) -> str:
    """The name of the reader that made a manifest entry's records (``reader``), or its kind, a built-in reader's name,
    where the entry was written before readers were recorded."""
    return entry.get("reader") or entry["kind"]


def older_reader(entry: Mapping[str, Any], reader_versions: Mapping[str, int]) -> bool:
    """Whether an older version of its reader (``entry_reader``) than ``reader_versions`` gives read a manifest entry's
    source (its ``records_version``; 0 where not recorded): what ``pathatlas info`` counts, ``Index.upgrade`` lists and
    the service warns of at start. A reader not among them (a plug-in not loaded) tells nothing: False."""
    current = reader_versions.get(entry_reader(entry))
    return current is not None and entry.get("records_version", 0) < current


@dataclass(frozen=True)
class Upgrade:
    """What of an index an older PathAtlas wrote that this one reads differently, and the one command that rewrites it
    in this version's format (README, "Upgrading"): what ``pathatlas info`` tells an operator, and the service at
    start. Without the command an operator would have to work out which paths "PATHS" means."""

    terms_version: int | None
    """The saved BM25's terms version, where older than ``TERMS_VERSION``: read again from the store at each open."""
    older_sources: dict[str, int]
    """Source -> the records version of the reader that read it (0: not recorded), where older than this one's."""
    reader_versions: dict[str, int]
    """Reader (``entry_reader``) -> this PathAtlas's records version of it, for the readers of ``older_sources``."""
    format: int | None
    """The index format, where older than ``FORMAT_VERSION``."""
    command: str | None
    """``pathatlas index --index FOLDER``, naming the sources still on disk where one is not: it re-reads the sources an
    older reader read (reusing the vectors of unchanged images; text is encoded again), only checks the others, and
    commits once even when nothing changed (``Index.needs_rewrite``). None when no source is on disk, or when what is
    older is only in sources that are not (``gone``): run, it would leave them as they are and ``info`` would name it
    again."""
    gone: list[str]
    """Sources an older reader read that are not on disk here: their records stay as it read them until indexed where
    they are now (``pathatlas remove`` then drops the old ones)."""

    def reasons(self) -> list[str]:
        """What is older, one phrase each."""
        found = []
        if self.terms_version is not None:
            found.append(
                f"BM25 of terms version {self.terms_version} (this PathAtlas's: {TERMS_VERSION}), read again from the "
                "store at each open"
            )
        if self.older_sources:
            versions = ", ".join(str(v) if v else "not recorded" for v in sorted(set(self.older_sources.values())))
            current = ", ".join(f"{reader} {version}" for reader, version in self.reader_versions.items())
            found.append(
                f"{len(self.older_sources)} source(s) were read by an older PathAtlas reader (records version "
                f"{versions}; this one's: {current})"
            )
        if self.format is not None:
            found.append(f"index format {self.format} (this PathAtlas writes {FORMAT_VERSION})")
        return found

    def advice(self) -> str:
        """What to do, in one sentence: the command, and what of the sources not on disk it cannot upgrade. A copy is
        advised only where the format changes (an earlier version then refuses the index; else it reads it)."""
        if self.command is None and not self.gone:
            return "none of its sources is on disk here, so it cannot be upgraded: index them again from where they are"
        steps = []
        if self.command is not None:
            copy = "keep a copy of the folder (earlier versions cannot read it once upgraded), then "
            if self.format is None:
                copy = ""
            steps.append(
                f"to upgrade it, {copy}run `{self.command}` (no --force needed; it may run beside searches and the "
                "service)"
            )
        if self.gone:
            steps.append(
                f"{len(self.gone)} source(s) an older reader read are not on disk here ({', '.join(self.gone)}) and "
                "keep the records it made: index each where it is now, then `pathatlas remove` the old one"
            )
        return "; ".join(steps)

    def to_json(self) -> dict[str, Any]:
        return {
            "terms_version": self.terms_version,
            "older_sources": self.older_sources,
            "reader_versions": self.reader_versions,
            "format": self.format,
            "command": self.command,
            "gone": self.gone,
        }
