"""Fixtures: the Polygon, Tradier and Discord fakes, each served on a free loopback port."""

from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest

from app.db.migrate import migrate_url
from app.metrics import Metrics
from tests.fakes.discord import FakeDiscord
from tests.fakes.polygon import FakePolygon
from tests.fakes.server import serve
from tests.fakes.tradier import FakeTradier


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
