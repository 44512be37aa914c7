"""FastAPI dependencies: the shared engine and the write-token check."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, status

from pathatlas.ui.api.engine import Engine


def get_engine(request: Request) -> Engine:
    return request.app.state.engine


EngineDep = Annotated[Engine, Depends(get_engine)]


def require_token(engine: EngineDep, authorization: Annotated[str | None, Header()] = None) -> None:
    """Write endpoints need ``Authorization: Bearer <PATHATLAS_API_TOKEN>`` when a token is configured."""
    expected = engine.settings.api_token
    if not expected:
        return
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not secrets.compare_digest(token, expected):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"}
        )
