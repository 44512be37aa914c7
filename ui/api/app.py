"""The FastAPI application: ``create_app(settings)``; ``pathatlas serve`` runs it with uvicorn."""

from __future__ import annotations

import threading
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse

from pathatlas.errors import BadInputError, IndexMissingError, PathAtlasError
from pathatlas.settings import Settings
from pathatlas.ui.api.deps import EngineDep
from pathatlas.ui.api.engine import Engine
from pathatlas.ui.api.lanes import LaneFullError
from pathatlas.ui.api.routes import ask, library, media, records, search
from pathatlas.ui.api.schemas import Health

try:
    VERSION = version("pathatlas")
except PackageNotFoundError:  # pragma: no cover - running from a plain checkout
    VERSION = "0.0.0"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        engine = Engine(settings)  # the index opens once per process
        # The models load in the background: the service answers at once, and /health says when it is ready.
        threading.Thread(target=engine.warm_up, daemon=True, name="warm-up").start()
        app.state.engine = engine
        yield
        engine.close()

    app = FastAPI(
        title="PathAtlas",
        version=VERSION,
        lifespan=lifespan,
        description="Cross-modal search and agentic RAG over pathology textbooks and cases.",
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["*"], allow_headers=["*"]
        )

    @app.exception_handler(PathAtlasError)
    async def user_error(_: Request, exc: PathAtlasError) -> JSONResponse:
        code = 404 if isinstance(exc, IndexMissingError) else 400 if isinstance(exc, BadInputError) else 422
        return JSONResponse({"detail": str(exc)}, status_code=code)

    @app.exception_handler(LaneFullError)
    async def busy(_: Request, exc: LaneFullError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "1"})

    @app.get("/health", response_model=Health, tags=["service"], summary="Liveness, version and index summary")
    def health(engine: EngineDep) -> Health:
        index = engine.index
        return Health(
            version=VERSION,
            index=str(index.path),
            encoder=index.meta.encoder,
            store=index.meta.store,
            records=index.store.count(),
            ready=engine.ready.is_set(),
        )

    for module in (search, records, ask, library, media):
        app.include_router(module.router)
    return app
