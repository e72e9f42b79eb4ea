"""Fixtures: the Polygon, Tradier and Discord fakes, each served on a free loopback port."""

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg
import httpx
import pytest

from app.db.migrate import migrate_url
from app.metrics import Metrics
from tests.api.conftest import Service, running
from tests.fakes.discord import FakeDiscord
from tests.fakes.polygon import API_KEY as POLYGON_KEY
from tests.fakes.polygon import FakePolygon
from tests.fakes.server import serve
from tests.fakes.tradier import TOKEN as TRADIER_TOKEN
from tests.fakes.tradier import FakeTradier
from tests.providers.helpers import fast_settings


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
def polygon_fake() -> Iterator[tuple[FakePolygon, str]]:
    fake = FakePolygon(plan="free")
    with serve(fake.app) as url:
        yield fake, url


@pytest.fixture
def tradier_fake() -> Iterator[tuple[FakeTradier, str]]:
    fake = FakeTradier()
    with serve(fake.app) as url:
        yield fake, url


@pytest.fixture
def discord_fake() -> Iterator[tuple[FakeDiscord, str]]:
    fake = FakeDiscord()
    with serve(fake.app) as url:
        yield fake, url


@pytest.fixture
async def migrated_pool(pg_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on a fresh database with every migration applied (real Postgres)."""
    await migrate_url(pg_url)
    pool = await asyncpg.create_pool(pg_url, min_size=1, max_size=8)
    yield pool
    await pool.close()


@dataclass
class Stack:
    """The service on a fresh database, wired to the three fakes."""

    service: Service
    polygon: FakePolygon
    tradier: FakeTradier
    discord: FakeDiscord

    @property
    def client(self) -> httpx.AsyncClient:
        return self.service.client


@pytest.fixture
def make_stack(pg_url, polygon_fake, tradier_fake, discord_fake):
    """`async with make_stack(**settings) as stack`: settings override the all-configured default
    (pass e.g. `polygon_api_key=None` to leave a provider out)."""

    @asynccontextmanager
    async def make(**over: object) -> AsyncIterator[Stack]:
        configured: dict[str, object] = {
            "database_url": pg_url,
            "polygon_api_key": POLYGON_KEY,
            "polygon_base_url": polygon_fake[1],
            "TRADIER_ACCESS_TOKEN": TRADIER_TOKEN,
            "tradier_base_url": tradier_fake[1],
            "tradier_account_id": tradier_fake[0].account_id,
            "discord_webhook_url": discord_fake[0].webhook_url(discord_fake[1]),
            "trading_enabled": True,
        }
        settings = fast_settings(**{**configured, **over})
        async with running(settings) as service:
            yield Stack(service, polygon_fake[0], tradier_fake[0], discord_fake[0])

    return make
