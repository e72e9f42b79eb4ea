"""Review tests: a migrated database per test, the local OpenAI-compatible fake, settings aimed at it."""

import os
from collections.abc import AsyncIterator, Callable, Iterator
from decimal import Decimal

import asyncpg
import pytest

from app.db.migrate import migrate_url
from app.ops.review.settings import ReviewSettings, load_review_settings
from tests.fakes.openai import FakeOpenAI

AMBIENT = ("OPENAI_", "CHATDATA_", "REVIEW_", "DATABASE_URL")


@pytest.fixture(autouse=True)
def _no_ambient_model_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """A key or model in the developer's shell must not leak into (or out of) the tests."""
    for name in [n for n in os.environ if n.startswith(AMBIENT)]:
        monkeypatch.delenv(name)


@pytest.fixture
async def db_url(pg_url: str) -> str:
    await migrate_url(pg_url)
    return pg_url


@pytest.fixture
async def conn(db_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(db_url)
    yield connection
    await connection.close()


@pytest.fixture
def fake() -> FakeOpenAI:
    return FakeOpenAI()


@pytest.fixture
def fake_url(fake: FakeOpenAI) -> Iterator[str]:
    with fake.running() as base_url:
        yield base_url


@pytest.fixture
def settings_for(db_url: str, fake: FakeOpenAI, fake_url: str) -> Callable[..., ReviewSettings]:
    """Settings aimed at the fake, fast to fail: 0.5 s timeout, no pause between attempts."""

    def build(**overrides: object) -> ReviewSettings:
        values: dict[str, object] = {
            "database_url": db_url,
            "openai_api_key": fake.api_key,
            "base_url": fake_url,
            "timeout_seconds": 0.5,
            "retry_delay_seconds": 0,
            "run_cap_usd": Decimal("0.05"),
        }
        values.update(overrides)
        return load_review_settings(**values)

    return build
