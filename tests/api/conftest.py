"""A service per test: its own app (own metrics registry) on its own fresh database, driven
in-process through httpx's ASGI transport with the lifespan run for real."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from app.core.config import Settings, load_settings
from app.main import create_app
from tests.api.factories import AUTH, TOKEN


@dataclass
class Service:
    app: FastAPI
    client: httpx.AsyncClient  # sends the bearer token
    anonymous: httpx.AsyncClient  # sends no token


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[Service]:
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://app", headers=AUTH) as client,
        httpx.AsyncClient(transport=transport, base_url="http://app") as anonymous,
    ):
        yield Service(app, client, anonymous)


def settings_for(database_url: str, **over: object) -> Settings:
    return load_settings(database_url=database_url, api_token=TOKEN, log_json=True, **over)


@pytest.fixture
async def service(pg_url: str) -> AsyncIterator[Service]:
    async with running(settings_for(pg_url)) as svc:
        yield svc


@pytest.fixture
def client(service: Service) -> httpx.AsyncClient:
    return service.client
