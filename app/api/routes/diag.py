"""`/api/v1/diag/health`: liveness, database reachability, configured providers, version.

Public (no token), so a load balancer or uptime check can call it; it reveals no secrets, only
whether each provider is configured.
"""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from app import __version__
from app.api.deps import MetricsDep, PoolDep, SettingsDep
from app.db.pool import probe

router = APIRouter(prefix="/diag", tags=["diag"])

PROBE_TIMEOUT_SECONDS = 2.0


class DatabaseHealth(BaseModel):
    reachable: bool
    latency_ms: float | None = Field(examples=[0.4])
    error: str | None = Field(None, description="exception type when unreachable", examples=[None])
    timescale: bool = Field(description="TimescaleDB hypertables and policies active")


class Health(BaseModel):
    status: str = Field(description="`ok`, or `degraded` when the database is unreachable", examples=["ok"])
    version: str = Field(examples=[__version__])
    database: DatabaseHealth
    providers: dict[str, bool] = Field(
        description="which providers are configured",
        examples=[{"polygon": True, "tradier": True, "discord": False}],
    )


@router.get(
    "/health",
    response_model=Health,
    summary="Liveness and readiness",
    responses={503: {"model": Health, "description": "the database is unreachable"}},
)
async def health(request: Request, settings: SettingsDep, pool: PoolDep, metrics: MetricsDep) -> JSONResponse:
    up, latency_ms, error = await probe(pool, metrics, PROBE_TIMEOUT_SECONDS)
    body = Health(
        status="ok" if up else "degraded",
        version=__version__,
        database=DatabaseHealth(
            reachable=up, latency_ms=latency_ms, error=error, timescale=request.app.state.timescale
        ),
        providers={
            "polygon": settings.polygon_api_key is not None,
            "tradier": settings.tradier_access_token is not None,
            "discord": settings.discord_webhook_url is not None,
        },
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if up else 503)
