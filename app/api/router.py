"""`/api/v1`: health is public, every other route module is behind the bearer-token guard."""

from fastapi import APIRouter

from app.api.deps import AUTHENTICATED
from app.api.errors import COMMON_RESPONSES
from app.api.routes import alerts, assistant, diag, features, logs, market, stream, trades

api_router = APIRouter(prefix="/api/v1")
api_router.include_router(diag.router)
for module in (trades, features, logs, market, assistant, alerts):
    api_router.include_router(module.router, dependencies=AUTHENTICATED, responses=COMMON_RESPONSES)
# a WebSocket: checks the bearer token itself, before accepting (HTTPBearer reads HTTP requests only)
api_router.include_router(stream.router)
