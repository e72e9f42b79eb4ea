"""The stack role's Caddyfile, rendered by Ansible with the role's defaults, is one the lab's Caddy
adapts, and routes the API the way the role means it to (tasks/app_update.yml, docs/stack.md)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator

import pytest

from tests.images.helpers import Unpacked
from tests.support.ansible_role import render

UPSTREAM = "trader-app-2"


def _handlers(routes: list[dict]) -> Iterator[dict]:
    for route in routes:
        for handler in route.get("handle", []):
            yield handler
            yield from _handlers(handler.get("routes", []))


@pytest.fixture(scope="module", params=["", "trader.example.com"], ids=["lab", "domain"])
def adapted(request: pytest.FixtureRequest, unpacked: Callable[[str], Unpacked], tmp_path_factory) -> dict:
    """Caddy's JSON config from the rendered Caddyfile, with and without a domain."""
    out = render(
        "stack",
        ["Caddyfile"],
        tmp_path_factory.mktemp("caddyfile"),
        {"stack_domain": request.param, "stack_caddy_upstream": UPSTREAM},
    )
    argv = ["caddy", "adapt", "--config", "/config/Caddyfile", "--adapter", "caddyfile"]
    env = {"ADMIN_USER": "admin", "ADMIN_HASH": "$2a$14$" + "x" * 53}
    command = unpacked("caddy").command(argv, user="0", env=env, binds={"/config": out})
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, f"caddy adapt rejected the rendered Caddyfile:\n{result.stderr}"
    return json.loads(result.stdout)


def test_the_api_goes_to_the_chosen_app_container(adapted: dict) -> None:
    server = next(iter(adapted["apps"]["http"]["servers"].values()))
    proxies = [h for h in _handlers(server["routes"]) if h.get("handler") == "reverse_proxy"]
    app = [p for p in proxies if p["upstreams"] == [{"dial": f"{UPSTREAM}:8000"}]]
    assert len(app) == 1, f"no single reverse_proxy to {UPSTREAM}:8000 in {proxies}"
    # Closing idle upstream connections before uvicorn's 5 s keep-alive does: a request sent down
    # one the app is closing fails, and Caddy does not retry a POST.
    idle = app[0]["transport"]["keep_alive"]["idle_timeout"]
    assert idle < 5_000_000_000, f"upstream keep-alive {idle} ns is not below uvicorn's 5 s"
