"""Typed dependencies every route uses: settings, pool, metrics, and the bearer-token guard.

All are `async def` although none awaits: FastAPI runs plain `def` dependencies in a thread pool,
a thread hop per dependency per request."""

import hmac
from typing import Annotated

import asyncpg
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.core.config import Settings
from app.metrics import Metrics
from app.providers.registry import Providers


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_pool(request: Request) -> asyncpg.Pool:
    return request.app.state.pool


async def get_metrics(request: Request) -> Metrics:
    return request.app.state.metrics


async def get_providers(request: Request) -> Providers:
    return request.app.state.providers


SettingsDep = Annotated[Settings, Depends(get_settings)]
PoolDep = Annotated[asyncpg.Pool, Depends(get_pool)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
ProvidersDep = Annotated[Providers, Depends(get_providers)]

_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer $API_TOKEN`")


async def require_token(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Every /api/v1 route except health: `Authorization: Bearer $API_TOKEN`, compared in constant
    time. Without API_TOKEN (only possible with TRADER_DEV_ALLOW_NO_TOKEN=1) the guard is open."""
    if settings.api_token is None:
        return
    expected = settings.api_token.get_secret_value().encode()
    given = credentials.credentials.encode() if credentials else b""
    if not hmac.compare_digest(given, expected):
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="missing or wrong bearer token: send `Authorization: Bearer $API_TOKEN`",
            headers={"WWW-Authenticate": "Bearer"},
        )


AUTHENTICATED = [Depends(require_token)]
