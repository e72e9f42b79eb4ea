"""A throwaway PostgreSQL cluster on loopback, for `trader dev` and the test suite.

Uses Debian's server binaries (the `postgresql` package). initdb refuses to run as root, so as root
the cluster is created and run as the `postgres` system user that the package creates.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from app.ops.ports import free_port


class PostgresUnavailable(RuntimeError):
    pass


def find_bindir() -> Path:
    """The newest Debian PostgreSQL server bindir, or PG_BINDIR when set."""
    if os.environ.get("PG_BINDIR"):
        return Path(os.environ["PG_BINDIR"])
    initdbs = Path("/usr/lib/postgresql").glob("*/bin/initdb")
    versions = sorted(initdbs, key=lambda p: int(p.parent.parent.name))
    if not versions:
        raise PostgresUnavailable(
            "no PostgreSQL server binaries under /usr/lib/postgresql: install the Debian package "
            "`postgresql` (scripts/bootstrap does) or set PG_BINDIR"
        )
    return versions[-1].parent


class PostgresServer:
    """initdb + pg_ctl start on a free loopback port; `stop()` removes everything."""

    def __init__(self, port: int | None = None, base_dir: Path | None = None) -> None:
        self.bindir = find_bindir()
        self.port = port or free_port()
        self.base = Path(base_dir or tempfile.mkdtemp(prefix="trader-pg-"))
        self.datadir = self.base / "data"
        self.sockdir = self.base / "sock"
        self.logfile = self.base / "postgres.log"
        self.user = "trader"
        self._as_postgres = os.geteuid() == 0

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, check=True, capture_output=True, text=True)

    def start(self) -> PostgresServer:
        self.base.mkdir(parents=True, exist_ok=True)
        self.sockdir.mkdir(exist_ok=True)
        if self._as_postgres:
            shutil.chown(self.base, "postgres")
            shutil.chown(self.sockdir, "postgres")
        fresh = not (self.datadir / "PG_VERSION").exists()
        if fresh:
            self._run(
                "initdb",
                "-D",
                str(self.datadir),
                "-U",
                self.user,
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            )
        opts = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.sockdir} -c fsync=off "
            "-c max_connections=200 -c shared_buffers=128MB"
        )
        try:
            self._run(
                "pg_ctl",
                "-D",
                str(self.datadir),
                "-l",
                str(self.logfile),
                "-o",
                opts,
                "-w",
                "-t",
                "60",
                "start",
            )
        except subprocess.CalledProcessError as exc:
            log = self.logfile.read_text() if self.logfile.exists() else ""
            raise PostgresUnavailable(f"postgres did not start: {exc.stderr}\n{log}") from exc
        if fresh:  # a restart after `stop()` keeps the data, database included
            self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, "trader")
        return self

    def stop(self, mode: str = "fast") -> None:
        """Stop the server, keeping the data directory (see `start` to bring it back)."""
        self._run("pg_ctl", "-D", str(self.datadir), "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        if (self.datadir / "postmaster.pid").exists():
            self.stop("immediate")
        shutil.rmtree(self.base, ignore_errors=True)

    def url(self, dbname: str = "trader") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{dbname}"

    def createdb(self, name: str, template: str = "template1") -> str:
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, "-T", template, name)
        return self.url(name)
