"""Fixtures: the Polygon, Tradier and Discord fakes, each served on a free loopback port."""

from collections.abc import Iterator

import pytest

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
