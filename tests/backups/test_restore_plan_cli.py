"""TimescaleDB restore order (no TimescaleDB package here: the plan is checked, see docs/backups.md)
and the command line's exits and messages."""

from typer.testing import CliRunner

from app.cli import cli
from app.ops.backup.manifest import Manifest
from app.ops.backup.restore import restore_plan
from app.ops.backup.settings import BackupSettings


def manifest_with(extensions: dict[str, str]) -> Manifest:
    return Manifest("20261125T020000Z", "trader", "2026-11-25T02:00:00+00:00", 170000, 17, extensions, {})


def test_timescaledb_restore_creates_the_extension_then_wraps_pg_restore() -> None:
    plan = restore_plan(manifest_with({"plpgsql": "1.0", "timescaledb": "2.17.2"}), jobs=4)
    assert plan.before == [
        "create extension if not exists timescaledb version '2.17.2'",
        "select timescaledb_pre_restore()",
    ], f"wrong order before pg_restore: {plan.before}"
    assert plan.after == ["select timescaledb_post_restore()"], plan.after
    assert plan.jobs == 1, "TimescaleDB restores run pg_restore with one job"


def test_plain_postgres_restore_has_no_extra_steps() -> None:
    plan = restore_plan(manifest_with({"plpgsql": "1.0"}), jobs=3)
    assert (plan.before, plan.after, plan.jobs) == ([], [], 3)


def env_of(settings: BackupSettings) -> dict[str, str]:
    assert settings.s3_access_key_id and settings.s3_secret_access_key
    return {
        "DATABASE_URL": settings.database_url,
        "BACKUP_S3_ENDPOINT": str(settings.s3_endpoint),
        "BACKUP_S3_BUCKET": str(settings.s3_bucket),
        "BACKUP_S3_ACCESS_KEY_ID": settings.s3_access_key_id.get_secret_value(),
        "BACKUP_S3_SECRET_ACCESS_KEY": settings.s3_secret_access_key.get_secret_value(),
        "BACKUP_AGE_RECIPIENTS": ",".join(settings.age_recipients),
        "BACKUP_AGE_IDENTITY_FILE": str(settings.age_identity_file),
        "BACKUP_WORK_DIR": str(settings.work_dir),
        "BACKUP_TEXTFILE_DIR": str(settings.textfile_dir),
        "BACKUP_ALLOW_EMPTY": "true",
    }


def test_cli_run_list_and_a_declined_restore(settings: BackupSettings) -> None:
    import asyncio

    from app.db.migrate import migrate_url

    asyncio.run(migrate_url(settings.database_url))
    runner = CliRunner()
    env = env_of(settings)
    ran = runner.invoke(cli, ["backup", "run"], env=env)
    assert ran.exit_code == 0, ran.output
    assert "now latest" in ran.output, ran.output
    listed = runner.invoke(cli, ["backup", "list"], env=env, terminal_width=200)
    assert listed.exit_code == 0 and "latest" in listed.output, listed.output
    name = settings.database_url.rsplit("/", 1)[1]
    declined = runner.invoke(cli, ["backup", "restore", "--to", name], env=env, input="n\n")
    assert declined.exit_code == 1, f"declining must fail the command: {declined.output}"
    assert "not confirmed" in declined.output, declined.output


def test_cli_names_missing_settings() -> None:
    result = CliRunner().invoke(
        cli, ["backup", "run"], env={"BACKUP_S3_BUCKET": "", "BACKUP_AGE_RECIPIENTS": ""}
    )
    assert result.exit_code == 1, result.output
    assert "BACKUP_AGE_RECIPIENTS" in result.output, result.output
