"""FastAPI dependencies and guards: the shared engine, the write-token check, limits enforced before a body
is read, and the documented error responses."""

from __future__ import annotations

import json
import secrets
from typing import Annotated, Any

from fastapi import Depends, Header, HTTPException, Request, status

from pathatlas.settings import Settings
from pathatlas.ui.api.engine import Engine
from pathatlas.ui.api.schemas import ErrorOut

WRITE_PREFIXES = ("/jobs/", "/sources/")
MULTIPART_SLACK = 1 << 20
"""Bytes a multipart body may carry beyond the file itself (boundaries, headers, form fields)."""

ERROR_TEXT = {
    400: "Bad input (the detail says which)",
    401: "Missing or wrong bearer token",
    403: "Cross-origin write without a configured token",
    404: "Not found",
    409: "Another process is changing the index: try again when it has finished",
    410: "The source file is no longer readable",
    411: "Content-Length required for uploads",
    413: "Too large",
    415: "Unsupported file type",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for error codes, all with the ``ErrorOut`` body."""
    return {code: {"model": ErrorOut, "description": ERROR_TEXT[code]} for code in codes}


def get_engine(request: Request) -> Engine:
    return request.app.state.engine


EngineDep = Annotated[Engine, Depends(get_engine)]


def token_ok(expected: str | None, authorization: str | None) -> bool:
    if not expected:
        return True
    scheme, _, token = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and secrets.compare_digest(token.encode(), expected.encode())


def require_token(engine: EngineDep, authorization: Annotated[str | None, Header()] = None) -> None:
    """Write endpoints need ``Authorization: Bearer <PATHATLAS_API_TOKEN>`` when a token is configured."""
    if not token_ok(engine.settings.api_token, authorization):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"}
        )


class RequestGuard:
    """ASGI middleware: refuses before any body byte is read.

    - writes (``/jobs``, ``/sources``) without the token (401), or cross-origin writes when no token is set
      (403: any web page could otherwise make a visitor's browser upload and index files);
    - bodies without a Content-Length (411) or over the upload limit (413), so nothing big is spooled.
    """

    def __init__(self, app, settings: Settings):
        self.app = app
        self.settings = settings

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and (refusal := self.refusal(scope)):
            code, detail, extra = refusal
            body = json.dumps({"detail": detail}).encode()
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *extra]
            await send({"type": "http.response.start", "status": code, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)

    def refusal(self, scope) -> tuple[int, str, list] | None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        method, path = scope["method"], scope["path"]
        writes = (method == "POST" and path == "/jobs") or (method == "DELETE" and path.startswith(WRITE_PREFIXES))
        if writes and not token_ok(self.settings.api_token, headers.get("authorization")):
            return 401, "missing or wrong bearer token", [(b"www-authenticate", b"Bearer")]
        if writes and not self.settings.api_token and cross_origin(headers, self.settings.cors_origins):
            return 403, "cross-origin writes need PATHATLAS_API_TOKEN (or list the origin in cors_origins)", []
        if method in ("POST", "PUT", "PATCH"):
            length = headers.get("content-length")
            if length is None and headers.get("transfer-encoding"):
                return 411, "send a Content-Length header", []
            limit = (self.settings.max_upload_mb << 20) + MULTIPART_SLACK
            if length is not None and (not length.isdigit() or int(length) > limit):
                return 413, f"upload is over the limit of {self.settings.max_upload_mb} MB", []
        return None


def cross_origin(headers: dict[str, str], allowed: list[str]) -> bool:
    """A browser request from another site (Origin or Sec-Fetch-Site say so) not listed in ``allowed``."""
    origin = headers.get("origin")
    if headers.get("sec-fetch-site") == "cross-site" and origin not in allowed:
        return True
    if not origin or origin in allowed:
        return False
    host = headers.get("host", "")
    return origin.split("://", 1)[-1] != host
