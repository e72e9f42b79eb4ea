"""The deployment's env file (ansible/roles/stack/templates/app.env.j2) carries the loop, poller
and stream settings: rendered by Ansible's own template module with the role's defaults, then
read by the app's settings loader. Real: Ansible and the app's Settings; no host involved."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from app.core.config import load_settings

ROLE = Path(__file__).resolve().parents[2] / "ansible/roles/stack"
ANSIBLE = Path(sys.executable).parent / "ansible"


def render_app_env(tmp_path: Path, **role_vars: object) -> dict[str, str]:
    if not ANSIBLE.exists():
        raise AssertionError(f"ansible is missing from the venv ({ANSIBLE}): pip install -e '.[dev]'")
    extra = {
        "ansible_python_interpreter": sys.executable,  # the module runs here, in this venv
        "stack_database_url": "postgresql://trader@127.0.0.1/trader",
        "stack_secret": {"api_token": "a-rendered-test-token-0123456789"},
        **role_vars,
    }
    (tmp_path / "vars.json").write_text(json.dumps(extra))
    out = tmp_path / "app.env"
    cmd = [str(ANSIBLE), "localhost", "-i", "localhost,", "-c", "local", "-m", "template"]
    cmd += ["-a", f"src={ROLE / 'templates/app.env.j2'} dest={out}"]
    cmd += ["-e", f"@{ROLE / 'defaults/main.yml'}", "-e", f"@{tmp_path / 'vars.json'}"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"ansible template failed:\n{done.stdout}\n{done.stderr}"
    env = {}
    for line in out.read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key] = value.strip("'")
    return env


def settings_from(env: dict[str, str], monkeypatch: pytest.MonkeyPatch):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return load_settings()


def test_the_role_defaults_leave_every_loop_off(tmp_path, monkeypatch) -> None:
    env = render_app_env(tmp_path)
    assert env["ENABLE_BACKGROUND_LOOPS"] == env["ENABLE_ALERTS_POLLER"] == "false"
    settings = settings_from(env, monkeypatch)
    assert not settings.enable_background_loops and not settings.enable_alerts_poller
    assert (settings.watchlist_symbols, settings.watchlist_horizons) == ([], ["1d"])
    assert (settings.snapshot_interval_minutes, settings.loop_rate_reserve) == (15, 2)
    assert (settings.alerts_poll_seconds, settings.ws_ping_sec, settings.ws_queue_size) == (60, 20, 100)


def test_role_variables_reach_the_app(tmp_path, monkeypatch) -> None:
    env = render_app_env(
        tmp_path,
        stack_polygon_api_key="polygon-test-key-0123456789",
        stack_enable_background_loops="yes",  # as -e passes it: a string Ansible reads as a bool
        stack_enable_alerts_poller=True,
        stack_watchlist_symbols=["SPY", "QQQ"],
        stack_watchlist_horizons=["1d", "1m"],
        stack_snapshot_interval_minutes=30,
        stack_loop_rate_reserve=1,
        stack_alerts_poll_seconds=15,
        stack_ws_ping_sec=5,
        stack_ws_queue_size=50,
    )
    settings = settings_from(env, monkeypatch)
    assert settings.enable_background_loops and settings.enable_alerts_poller
    assert (settings.watchlist_symbols, settings.watchlist_horizons) == (["SPY", "QQQ"], ["1d", "1m"])
    assert (settings.snapshot_interval_minutes, settings.loop_rate_reserve) == (30, 1)
    assert (settings.alerts_poll_seconds, settings.ws_ping_sec, settings.ws_queue_size) == (15, 5, 50)
