"""Log-archive tests run against the session's real Postgres and real SeaweedFS; each test gets its
own database, bucket and working directories."""

from pathlib import Path

import pytest

from app.ops.logs.settings import LogsSettings
from tests.logs.helpers import logs_settings, new_bucket
from tests.providers.conftest import discord_fake, make_stack, polygon_fake, tradier_fake
from tests.support.s3 import SeaweedS3

# the service wired to the provider fakes (tests/providers), for the request-log test
__all__ = ["discord_fake", "make_stack", "polygon_fake", "tradier_fake"]


@pytest.fixture
def settings(pg_url: str, s3_server: SeaweedS3, tmp_path: Path) -> LogsSettings:
    return logs_settings(pg_url, s3_server, new_bucket(s3_server), tmp_path)
