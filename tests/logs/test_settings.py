"""Settings of the log archive: one retention variable for the service and the tool, the bucket
shared with the backups, and errors that name the variable to fix."""

import pytest

from app.core.config import SettingsError, load_settings
from app.ops.logs import LogsError
from app.ops.logs.settings import load_logs_settings
from tests.api.factories import TOKEN


def test_the_tool_reads_the_backup_bucket_when_no_logs_bucket_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BACKUP_S3_BUCKET", "shared-bucket")
    monkeypatch.setenv("BACKUP_S3_ACCESS_KEY_ID", "DO00BACKUP")
    monkeypatch.setenv("LOGS_S3_ACCESS_KEY_ID", "DO00LOGS")
    monkeypatch.setenv("LOGS_RETENTION_DAYS", "30")
    settings = load_logs_settings()
    assert (settings.s3_bucket, settings.retention_days) == ("shared-bucket", 30), settings
    assert settings.s3_access_key_id and settings.s3_access_key_id.get_secret_value() == "DO00LOGS", (
        "a LOGS_* variable wins over its BACKUP_* twin"
    )
    assert load_settings(api_token=TOKEN).logs_retention_days == 30, "the service reads the same variable"


def test_a_zero_retention_is_refused_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGS_RETENTION_DAYS", "0")
    with pytest.raises(LogsError, match="LOGS_RETENTION_DAYS"):
        load_logs_settings()


def test_timescale_retention_must_outlive_the_archive_window() -> None:
    with pytest.raises(
        SettingsError, match=r"TIMESCALE_RETENTION_DAYS \(10\) must be at least LOGS_RETENTION_DAYS"
    ):
        load_settings(api_token=TOKEN, timescale_retention_days=10)
    assert load_settings(api_token=TOKEN, timescale_retention_days=16).timescale_retention_days == 16


def test_commands_name_the_missing_bucket_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.ops.logs.store import LogStore

    for name in ("LOGS_S3_BUCKET", "BACKUP_S3_BUCKET", "LOGS_S3_ACCESS_KEY_ID", "BACKUP_S3_ACCESS_KEY_ID"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(LogsError, match="LOGS_S3_BUCKET, LOGS_S3_ACCESS_KEY_ID"):
        LogStore(load_logs_settings())
