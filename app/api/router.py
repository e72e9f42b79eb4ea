"""`/api/v1`: health is public, every other route module is behind the bearer-token guard."""

from fastapi import APIRouter

from app.api.deps import AUTHENTICATED
from app.api.errors import COMMON_RESPONSES
from app.api.routes import assistant, diag, features, logs, market, trades

api_router = APIRouter(prefix="/api/v1")
api_router.include_router(diag.router)
for module in (trades, features, logs, market, assistant):
    api_router.include_router(module.router, dependencies=AUTHENTICATED, responses=COMMON_RESPONSES)
