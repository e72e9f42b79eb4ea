"""PostgreSQL client binaries and connection details for pg_dump/pg_restore.

pg_dump must be at least the server's major version and pg_restore at least the dump's; the same
major as the server is what Debian's /usr/lib/postgresql/<major>/bin gives, so that is preferred.
The password travels in PGPASSWORD, never on a command line (`ps` shows those to every user).
"""

import os
import re
import subprocess
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from app.ops.backup import BackupError

DEBIAN_PG_ROOT = Path("/usr/lib/postgresql")


def client_bindir(server_major: int, configured: Path | None) -> Path:
    """BACKUP_PG_BINDIR if set, else Debian's bindir of the server's major, else the newest newer one."""
    if configured is not None:
        if not (configured / "pg_dump").exists():
            raise BackupError(f"BACKUP_PG_BINDIR={configured} has no pg_dump: point it at a PostgreSQL bin/")
        return configured
    installed = sorted(
        (int(p.parent.parent.name), p.parent)
        for p in DEBIAN_PG_ROOT.glob("*/bin/pg_dump")
        if p.parent.parent.name.isdigit()
    )
    for major, bindir in installed:
        if major == server_major:
            return bindir
    newer = [bindir for major, bindir in installed if major > server_major]
    if newer:
        return newer[-1]
    raise BackupError(
        f"no pg_dump for PostgreSQL {server_major} under {DEBIAN_PG_ROOT}: install the Debian package "
        f"postgresql-client-{server_major} or set BACKUP_PG_BINDIR"
    )


def tool_major(bindir: Path, tool: str) -> int:
    out = subprocess.run([str(bindir / tool), "--version"], capture_output=True, text=True, check=True).stdout
    match = re.search(r"(\d+)(?:\.\d+)?", out)
    if not match:
        raise BackupError(f"cannot read the version of {bindir / tool}: {out!r}")
    return int(match.group(1))


def libpq_args(url: str) -> tuple[str, dict[str, str]]:
    """The URL without its password (for `-d`) and an environment carrying the password."""
    parts = urlsplit(url)
    env = dict(os.environ)
    netloc = parts.netloc
    if parts.password is not None:
        env["PGPASSWORD"] = unquote(parts.password)
        userinfo, _, hostport = netloc.rpartition("@")
        netloc = f"{userinfo.partition(':')[0]}@{hostport}"
    return urlunsplit(parts._replace(netloc=netloc)), env


def with_database(url: str, dbname: str) -> str:
    """The same server and credentials, another database."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{dbname}"))


def database_name(url: str) -> str:
    name = urlsplit(url).path.lstrip("/")
    if not name:
        raise BackupError("DATABASE_URL names no database (postgresql://user@host:port/DBNAME)")
    return unquote(name)
