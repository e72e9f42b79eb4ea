"""Factories for backup tests: settings pointing at the test's Postgres and SeaweedFS, data
written through the service, and an independent checksum of every table."""

import itertools
import subprocess
from pathlib import Path
from typing import Any

import asyncpg

from app.ops.backup.settings import BackupSettings, load_backup_settings
from tests.api.conftest import running, settings_for
from tests.api.factories import feature, log_record, trade
from tests.support.s3 import SeaweedS3

_buckets = itertools.count()


def make_keypair(directory: Path, name: str) -> tuple[Path, str]:
    """A fresh age identity file and its public key (recipient)."""
    identity = directory / f"{name}.agekey"
    subprocess.run(["age-keygen", "-o", str(identity)], check=True, capture_output=True)
    recipient = subprocess.run(
        ["age-keygen", "-y", str(identity)], check=True, capture_output=True, text=True
    ).stdout.strip()
    return identity, recipient


def new_bucket(s3: SeaweedS3) -> str:
    name = f"backups-{next(_buckets)}"
    s3.client().create_bucket(Bucket=name)
    return name


def backup_settings(
    pg_url: str, s3: SeaweedS3, bucket: str, keys: tuple[Path, str], work: Path, **over: Any
) -> BackupSettings:
    identity, recipient = keys
    values: dict[str, Any] = {
        "database_url": pg_url,
        "s3_endpoint": s3.endpoint,
        "s3_region": s3.region,
        "s3_bucket": bucket,
        "s3_access_key_id": s3.access_key,
        "s3_secret_access_key": s3.secret_key,
        "age_recipients": [recipient],
        "age_identity_file": identity,
        "work_dir": work / "work",
        "textfile_dir": work / "textfile",
    }
    return load_backup_settings(**(values | over))


async def write_through_service(pg_url: str, trades: int = 40, features: int = 30, logs: int = 20) -> None:
    """Create the schema and rows the way production does: the app's lifespan migrates, the API writes."""
    async with running(settings_for(pg_url)) as svc:
        for path, factory, n in (
            ("/api/v1/trades", trade, trades),
            ("/api/v1/features", feature, features),
            ("/api/v1/logs", log_record, logs),
        ):
            if n == 0:
                continue
            body = [factory(symbol="MSFT") if path != "/api/v1/logs" else factory() for _ in range(n)]
            response = await svc.client.post(path, json=body)
            assert response.status_code in (200, 201), f"POST {path}: {response.status_code} {response.text}"


async def ordered_digests(url: str) -> dict[str, tuple[int, str]]:
    """Row count and md5 of every user table's rows in primary-key order: computed differently
    from the manifest's checksums, so a bug in those cannot hide a bad restore."""
    conn = await asyncpg.connect(url, server_settings={"TimeZone": "UTC"})
    try:
        tables = [
            r["t"]
            for r in await conn.fetch(
                "select format('%I.%I', schemaname, tablename) as t from pg_tables "
                "where schemaname not in ('pg_catalog', 'information_schema') order by 1"
            )
        ]
        digests = {}
        for table in tables:
            row = await conn.fetchrow(
                f"select count(*) as n, md5(coalesce(string_agg(t::text, E'\\n' order by t::text), '')) as d "
                f"from {table} t"
            )
            digests[table] = (row["n"], row["d"])
        return digests
    finally:
        await conn.close()
