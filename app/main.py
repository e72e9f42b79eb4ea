"""The ASGI application (`uvicorn app.main:app`): assembled by `create_app` from a Settings object.

`create_app()` touches neither the environment nor the database; settings are loaded (when none
were given) and validated, and the pool opened and the schema migrated, in the lifespan. So tests
build their own app against their own throwaway database, and a bad variable fails start-up with
a message naming it.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator

import structlog
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from prometheus_fastapi_instrumentator import Instrumentator
from prometheus_fastapi_instrumentator import metrics as http_metrics

from app import __version__
from app.alerts.hooks import unhandled_exception_hook
from app.api import errors
from app.api.middleware import RequestLogMiddleware
from app.api.openapi import DESCRIPTION, TAGS
from app.api.router import api_router
from app.core.config import Settings, load_settings
from app.db.pool import bind_pool_metrics, housekeeping, open_database
from app.logging import configure_logging
from app.loops.runner import start_loops
from app.loops.stream import StreamHub
from app.metrics import Metrics
from app.providers.registry import open_providers

log = structlog.get_logger(__name__)

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = app.state.given_settings or load_settings()
    configure_logging(settings.log_level, settings.log_json)
    if settings.api_token is None:
        log.warning("auth_disabled", detail="TRADER_DEV_ALLOW_NO_TOKEN=1: /api/v1 is open to anyone")
    app.state.settings = settings
    metrics: Metrics = app.state.metrics
    pool, app.state.timescale = await open_database(settings)
    app.state.pool = pool
    bind_pool_metrics(pool, metrics)
    prober = asyncio.create_task(housekeeping(pool, metrics, settings))
    # --- providers (Polygon, Tradier, Discord): opened here, closed below; owned by app/providers ---
    app.state.providers = await open_providers(settings, pool, metrics)
    app.state.unhandled_exception_hooks.append(unhandled_exception_hook(app.state.providers.notifier))
    # --- snapshot loop, alert poller (each only when enabled), live stream: app/loops ---
    app.state.stream = StreamHub(settings.ws_queue_size, metrics)
    loops = start_loops(settings, pool, app.state.providers, metrics, app.state.stream)
    log.info("started", version=__version__, timescale=app.state.timescale)
    try:
        yield
    finally:
        await loops.aclose()
        await app.state.providers.aclose()
        prober.cancel()
        # a probe cut short by the cancel may fail its connection reset: nothing to act on now
        await asyncio.gather(prober, return_exceptions=True)
        await pool.close()
        log.info("stopped")


def create_app(settings: Settings | None = None, *, instrument: bool = True) -> FastAPI:
    """`instrument=False` leaves out the HTTP metrics middleware and /metrics (the benchmark's
    baseline for what instrumentation costs)."""
    app = FastAPI(
        title="Solo Trader Stack API",
        version=__version__,
        description=DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=lifespan,
    )
    app.state.given_settings = settings
    app.state.metrics = Metrics()
    errors.install(app)
    app.include_router(api_router)
    if instrument:
        registry = app.state.metrics.registry
        instrumentator = Instrumentator(registry=registry, excluded_handlers=["^/metrics$"])
        # Only the two series monitoring/ reads (names and labels as the default set has them):
        # the default also keeps two size summaries and a 21-bucket histogram per request.
        instrumentator.add(
            http_metrics.requests(registry=registry),
            http_metrics.latency(should_include_status=False, buckets=LATENCY_BUCKETS, registry=registry),
        )
        instrumentator.instrument(app).expose(
            app,
            tags=["diag"],
            summary="Prometheus metrics (text exposition format)",
            response_class=PlainTextResponse,
        )
    app.add_middleware(RequestLogMiddleware)
    return app


app = create_app()
