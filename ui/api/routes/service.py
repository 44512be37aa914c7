"""The service itself: /health (liveness, version, index summary) and /ready (readiness for a load balancer)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from pathatlas import __version__
from pathatlas.errors import PathAtlasError
from pathatlas.retrieval.index import Index
from pathatlas.ui.api.deps import EngineDep
from pathatlas.ui.api.engine import Engine
from pathatlas.ui.api.schemas import Health, Readiness, ServiceLimits

router = APIRouter(tags=["service"])


@router.get(
    "/health",
    operation_id="health",
    response_model=Health,
    summary="Liveness, version and index summary",
    description="200 while the service warms up (`ready` false) and once it is ready; 503, with `problem`, when "
    "its models could not be loaded (searches and asks are refused with that line until it is fixed and the "
    "service restarted) or when the index's vectors are gone (a Qdrant collection or the index folder deleted while "
    "serving).",
    responses={503: {"model": Health, "description": "The service cannot search; `problem` says why"}},
)
def health(engine: EngineDep, response: Response) -> Health:
    index, settings = engine.index, engine.settings
    is_ready, problem = readiness(engine)
    if problem is not None:
        response.status_code = 503
    return Health(
        status="ok" if problem is None else "failing",
        version=__version__,
        index=index.path.name,
        encoder=index.meta.encoder,
        store=index.meta.store,
        records=index.store.count(),
        generation=index.generation.number,
        index_created=index_created(index),
        ready=is_ready,
        problem=problem,
        limits=ServiceLimits(
            max_upload_mb=settings.max_upload_mb,
            max_query_image_mb=settings.max_query_image_mb,
            max_jobs=settings.max_jobs,
            max_image_pixels=settings.max_image_pixels,
            max_query_chars=settings.max_query_chars,
        ),
    )


def index_created(index: Index) -> float | None:
    """When ``index`` was made (Unix time); None while it is not on disk, where its meta is made anew at each open."""
    return None if index.unwritten else index.meta.created


def generation_tag(index: Index, generation: int | None = None) -> str:
    """An ETag naming the committed state of ``index`` as this version answers it: its generation (/health's
    ``generation`` and ``index_created``; ``generation``: the one an answer was made from, where the index may have
    moved on since) and the PathAtlas version, whose answers for one generation may differ."""
    number = index.generation.number if generation is None else generation
    return f'"{__version__}-{index_created(index)}-{number}"'


@router.get(
    "/ready",
    operation_id="ready",
    response_model=Readiness,
    summary="Readiness: 200 once searches answer at full speed",
    description="503 while the models load, and while the service cannot search (`problem` says why); 200 once "
    "they are loaded. A load balancer sends traffic on this; /health is the liveness check.",
    responses={503: {"model": Readiness, "description": "Not ready yet, or cannot search: `problem` says why"}},
)
def ready(engine: EngineDep, response: Response) -> Readiness:
    is_ready, problem = readiness(engine)
    if not is_ready:
        response.status_code = 503
    return Readiness(ready=is_ready, problem=problem)


def readiness(engine: Engine) -> tuple[bool, str | None]:
    """Whether the service answers searches at full speed, and why it cannot search at all (None while it can): what
    /health and /ready both say, so that they never disagree (a 503 /health once said "ready": true)."""
    problem = engine.problem or store_problem(engine)
    return problem is None and engine.ready.is_set(), problem


def store_problem(engine: Engine) -> str | None:
    """Why the open index's store cannot serve any more, as clients read it (its folder gone from disk: ``index_gone``);
    None while it can."""
    if gone := engine.index_gone():
        return gone
    try:
        engine.index.raw_store.check()
    except PathAtlasError as exc:
        return engine.client_message(exc)
    return None
