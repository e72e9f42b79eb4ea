"""Exception -> HTTP answer mapping shared by every route.

A database that is down or restarting is the caller's cue to retry (503 + Retry-After), not a bug;
anything else unexpected is a 500 that is logged with the request id and never leaks internals.
"""

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from app.db.pool import DB_UNAVAILABLE

log = structlog.get_logger(__name__)

DB_RETRY_AFTER_SECONDS = 5


class ErrorBody(BaseModel):
    detail: str = Field(examples=["database unavailable, retry shortly"])
    request_id: str | None = Field(None, description="the X-Request-ID of the failed request")


# Documented on every /api/v1 route behind the token (app/api/router.py).
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "the request body is not valid JSON"},
    401: {"model": ErrorBody, "description": "missing or wrong `Authorization: Bearer $API_TOKEN`"},
    503: {"model": ErrorBody, "description": "database unavailable; retry after `Retry-After` seconds"},
}


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    request.app.state.metrics.db_up.set(0)
    log.warning("database_unavailable", error=type(exc).__name__, detail=str(exc))
    return JSONResponse(
        {"detail": "database unavailable, retry shortly", "request_id": _request_id(request)},
        status_code=503,
        headers={"Retry-After": str(DB_RETRY_AFTER_SECONDS)},
    )


async def unhandled(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled_exception", exc_info=exc, route=request.url.path)
    for hook in request.app.state.unhandled_exception_hooks:
        hook(request, exc)  # e.g. the Discord alert hook; hooks must not raise or block
    return JSONResponse({"detail": "internal error", "request_id": _request_id(request)}, status_code=500)


def install(app: FastAPI) -> None:
    """Register the handlers; `app.state.unhandled_exception_hooks` takes extra callbacks."""
    app.state.unhandled_exception_hooks = []
    for exc_type in DB_UNAVAILABLE:
        app.add_exception_handler(exc_type, database_unavailable)
    app.add_exception_handler(Exception, unhandled)
