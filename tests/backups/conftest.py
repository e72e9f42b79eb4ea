"""Backup tests run against the session's real Postgres and real SeaweedFS; each test gets its
own database, bucket, age keys and working directories."""

from pathlib import Path

import pytest

from app.ops.backup.settings import BackupSettings
from tests.backups.helpers import backup_settings, make_keypair, new_bucket
from tests.support.s3 import SeaweedS3


@pytest.fixture(scope="session")
def age_keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    return make_keypair(tmp_path_factory.mktemp("age"), "operator")


@pytest.fixture(scope="session")
def other_age_keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    return make_keypair(tmp_path_factory.mktemp("age-other"), "stranger")


@pytest.fixture
def settings(pg_url: str, s3_server: SeaweedS3, age_keys: tuple[Path, str], tmp_path: Path) -> BackupSettings:
    return backup_settings(pg_url, s3_server, new_bucket(s3_server), age_keys, tmp_path)
