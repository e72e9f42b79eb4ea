"""`trader migrate`, `trader serve` and `trader dev` as a person runs them."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.ops.ports import free_port

TRADER = str(Path(sys.executable).with_name("trader"))


def test_migrate_applies_once_and_reports(pg_url: str) -> None:
    first = CliRunner().invoke(cli, ["migrate", "--database-url", pg_url])
    assert first.exit_code == 0, first.output
    assert "applied 0001_core" in first.output and "absent (plain Postgres)" in first.output, first.output
    again = CliRunner().invoke(cli, ["migrate"], env={"DATABASE_URL": pg_url})
    assert again.exit_code == 0 and "0 migration(s) applied" in again.output, again.output


def test_migrate_names_database_url_when_unreachable() -> None:
    url = f"postgresql://trader@127.0.0.1:{free_port()}/nope"
    r = CliRunner().invoke(cli, ["migrate", "--database-url", url])
    assert r.exit_code == 1 and "DATABASE_URL" in r.output, r.output


def test_serve_refuses_to_start_without_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("API_TOKEN", raising=False)
    monkeypatch.delenv("TRADER_DEV_ALLOW_NO_TOKEN", raising=False)
    r = CliRunner().invoke(cli, ["serve"])
    assert r.exit_code == 2 and "API_TOKEN is not set" in r.output, r.output


def test_dev_serves_with_a_printed_token_and_cleans_up_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    err = tmp_path / "dev.err"
    with err.open("w") as stderr:
        proc = subprocess.Popen(
            [TRADER, "dev", "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env=os.environ.copy(),
        )
    try:
        base, token = f"http://127.0.0.1:{port}", None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            found = re.search(r"shown once\): (\S+)", err.read_text())
            if found:
                token = found.group(1)
                try:
                    if httpx.get(f"{base}/api/v1/diag/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
            time.sleep(0.3)
        assert token, f"trader dev printed no token:\n{err.read_text()}"
        data_dir = re.search(r"data in (\S+),", err.read_text()).group(1)
        auth = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"{base}/api/v1/trades").status_code == 401, "dev mode must still require the token"
        assert httpx.get(f"{base}/api/v1/trades", headers=auth).status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=60)
    assert code == 0, f"trader dev exited {code}:\n{err.read_text()}"
    assert not Path(data_dir).exists(), f"Ctrl-C left the throwaway cluster at {data_dir}"
