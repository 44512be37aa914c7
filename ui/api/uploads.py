"""Uploaded files: size-limited, stored under names PathAtlas chooses, zip members kept inside their folder."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from fastapi import HTTPException, UploadFile, status

CHUNK = 1 << 20


def safe_name(name: str | None, default: str) -> str:
    """A client's file name reduced to a plain base name of safe characters; it never becomes a path."""
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name or "").name).strip("._")
    return base[:100] or default


async def read_limited(upload: UploadFile, limit_bytes: int) -> bytes:
    data = bytearray()
    while chunk := await upload.read(CHUNK):
        data.extend(chunk)
        if len(data) > limit_bytes:
            raise HTTPException(
                status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, f"upload is over the limit of {limit_bytes // (1 << 20)} MB"
            )
    return bytes(data)


def extract_zip(archive: Path, target: Path) -> None:
    """Extract a case-folder zip, refusing members that would land outside ``target``."""
    try:
        with zipfile.ZipFile(archive) as zipped:
            for member in zipped.infolist():
                destination = (target / member.filename).resolve()
                if not destination.is_relative_to(target.resolve()):
                    raise HTTPException(
                        status.HTTP_400_BAD_REQUEST, f"zip member {member.filename!r} leaves the archive"
                    )
            zipped.extractall(target)
    except zipfile.BadZipFile as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "the upload is not a valid zip file") from exc
