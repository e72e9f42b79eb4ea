"""Log-archive tests run against the session's real Postgres and real SeaweedFS; each test gets its
own database, bucket and working directories."""

from pathlib import Path

import pytest

from app.ops.logs.settings import LogsSettings
from tests.logs.helpers import logs_settings, new_bucket
from tests.support.s3 import SeaweedS3


@pytest.fixture
def settings(pg_url: str, s3_server: SeaweedS3, tmp_path: Path) -> LogsSettings:
    return logs_settings(pg_url, s3_server, new_bucket(s3_server), tmp_path)
