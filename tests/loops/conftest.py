"""Fixtures: the Polygon fake (a paid plan: live snapshots), the Discord fake, and a migrated
database with the service's pool and provider clients wired to them."""

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import asyncpg
import pytest

from app.core.config import Settings
from app.db.pool import open_database
from app.metrics import Metrics
from app.providers.registry import Providers, open_providers
from tests.fakes.discord import FakeDiscord
from tests.fakes.polygon import API_KEY as POLYGON_KEY
from tests.fakes.polygon import FakePolygon
from tests.fakes.server import serve
from tests.providers.helpers import fast_settings


@pytest.fixture
def polygon() -> Iterator[tuple[FakePolygon, str]]:
    fake = FakePolygon(plan="starter")
    with serve(fake.app) as url:
        yield fake, url


@pytest.fixture
def discord() -> Iterator[tuple[FakeDiscord, str]]:
    fake = FakeDiscord()
    with serve(fake.app) as url:
        yield fake, url


@pytest.fixture
def settings(pg_url: str, polygon, discord) -> Settings:
    return fast_settings(
        database_url=pg_url,
        polygon_api_key=POLYGON_KEY,
        polygon_base_url=polygon[1],
        discord_webhook_url=discord[0].webhook_url(discord[1]),
        polygon_cache_seconds=0,  # every cycle asks Polygon: the requests are what the tests count
    )


@dataclass
class Wired:
    pool: asyncpg.Pool
    providers: Providers
    metrics: Metrics
    polygon: FakePolygon
    discord: FakeDiscord


@pytest.fixture
async def wired(settings: Settings, polygon, discord) -> AsyncIterator[Wired]:
    """The service's pool (migrated, JSON codecs) and provider clients, without the HTTP app."""
    metrics = Metrics()
    pool, _ = await open_database(settings)
    providers = await open_providers(settings, pool, metrics)
    try:
        yield Wired(pool, providers, metrics, polygon[0], discord[0])
    finally:
        await providers.aclose()
        await pool.close()
