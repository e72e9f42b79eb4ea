"""App updates on the deployed stack, under a request loop through Caddy (after test_stack.py, on
the same lab VM): a new image replaces the live container with no failed request, stack.yml then
re-runs with nothing to change, and an image that never turns healthy is rolled back while the old
container keeps serving.

A new image is made in the guest with `docker commit` from the running one (no registry, no build):
it differs only by a label, which is enough for a new image ID.
"""

from __future__ import annotations

import json
import secrets
import shlex
import subprocess
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from app.ops.lab.vm import LabVM
from tests.lab.conftest import COMPOSE, HEALTH, PSQL, Stack, guest, guest_ok, run_stack
from tests.lab.playbook import PlaybookRun

pytestmark = [pytest.mark.lab, pytest.mark.timeout(9000)]

BROKEN_HEALTH_TIMEOUT_S = 30
LOOP_T0 = datetime(2026, 1, 4, 15, 4, 5, tzinfo=UTC)  # POST n carries LOOP_T0 + n s


@dataclass
class RequestLoop:
    """GET health and POST a trade in a loop through Caddy on its own keep-alive connection,
    counting every failure.

    One exception, the one RFC 9112 §9.3.1 makes for every client: a request the server closed
    the connection on without a response may be sent again when it is idempotent or when the
    client can tell it was never applied. Caddy's graceful reload closes an idle HTTP/1.1
    connection, and a request written to it at that instant meets the close (docs/stack.md). A
    GET is sent again; a POST only once the database shows no trade with its symbol (one per loop)
    and timestamp (one per POST), else it is a lost response, a failure.
    """

    stack: Stack
    symbol: str = field(default_factory=lambda: f"LOOP-{secrets.token_hex(4).upper()}")
    ok: int = 0
    failures: list[str] = field(default_factory=list)
    sent_again: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def _send(self, client: httpx.Client, method: str, n: int) -> httpx.Response:
        if method == "GET":
            return client.get(HEALTH)
        trade = {"ts": self._ts(n).isoformat(), "symbol": self.symbol, "side": "buy", "type": "market",
                 "qty": "1", "avg_price": "1"}  # fmt: skip
        return client.post("/api/v1/trades", json=trade, headers=self.stack.auth)

    @staticmethod
    def _ts(n: int) -> datetime:
        return LOOP_T0 + timedelta(seconds=n)

    def _applied(self, n: int) -> str:
        """How many trades POST n left in the database ('0' = never applied), or why that could
        not be told: the query's connection (ssh, docker exec) is tried three times."""
        sql = f"select count(*) from trades where symbol = '{self.symbol}' and ts = '{self._ts(n)}'"
        error = ""
        for _ in range(3):
            try:
                result = guest(self.stack.vm, f"{PSQL} {shlex.quote(sql)}")
            except subprocess.TimeoutExpired as exc:
                error = str(exc)
            else:
                if result.returncode == 0:
                    return result.stdout.decode().strip()
                error = result.stderr.decode()[-300:]
            time.sleep(2)
        return f"unknown, the query failed: {error}"

    def _run(self, client: httpx.Client) -> None:
        n = 0
        while not self._stop.is_set():
            n += 1
            method = "GET" if n % 2 else "POST"
            try:
                try:
                    answer = self._send(client, method, n)
                except httpx.RemoteProtocolError as exc:
                    if "without sending a response" not in str(exc):
                        raise
                    applied = self._applied(n) if method == "POST" else "0"
                    if applied != "0":
                        self.failures.append(
                            f"{method} {n} closed without a response; trades it left: {applied}"
                        )
                        continue
                    self.sent_again.append(f"{method} {exc}")
                    answer = self._send(client, method, n)
                if answer.status_code == (200 if method == "GET" else 201):
                    self.ok += 1
                else:
                    self.failures.append(f"{method} {answer.status_code} {answer.text[:120]}")
            except httpx.HTTPError as exc:
                self.failures.append(f"{method} {type(exc).__name__}: {exc}")
            time.sleep(0.1)

    def __enter__(self) -> RequestLoop:
        self._client = self.stack.connect()
        self._thread = threading.Thread(target=self._run, args=(self._client,), daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)
        self._client.close()


def _new_app_image(stack: Stack, tag: str, *changes: str) -> str:
    """A new image ID from the running app image (`docker commit`, no registry, no build)."""
    image = stack.app_container()["Config"]["Image"]
    container = guest_ok(stack.vm, f"sudo docker create {image}").strip()
    flags = " ".join(f"--change {shlex.quote(c)}" for c in (f"LABEL lab.update={tag}", *changes))
    guest_ok(stack.vm, f"sudo docker commit {flags} {container} {tag} && sudo docker rm {container}")
    return tag


def _vars_with_app(vars_file: Path, tag: str, tmp_path: Path) -> Path:
    variables = json.loads(vars_file.read_text())
    variables["stack_images"]["app"] = tag
    variables["stack_image_archives"].pop("app")  # the new tag exists only in the guest
    path = tmp_path / "vars.json"
    path.write_text(json.dumps(variables))
    path.chmod(0o600)
    return path


@dataclass
class Update:
    run: PlaybookRun
    loop: RequestLoop
    tag: str
    replaced: str  # the app container that served before
    vars_file: Path


@pytest.fixture(scope="module")
def updated(
    stack: Stack,
    lab_vm: LabVM,
    lab_inventory: Path,
    stack_vars_file: Path,
    stack_results: dict,
    tmp_path_factory: pytest.TempPathFactory,
) -> Update:
    """stack.yml with a new app image, under the request loop."""
    tag = _new_app_image(stack, "solo-trader-lab/app:update-test")
    replaced = stack.app_container()["Name"]
    vars_file = _vars_with_app(stack_vars_file, tag, tmp_path_factory.mktemp("update"))
    with RequestLoop(stack) as loop:
        run = run_stack(lab_vm, lab_inventory, vars_file)
        time.sleep(3)
    stack_results["update_s"] = round(run.seconds, 1)
    stack_results["update_requests"] = loop.ok + len(loop.failures)
    stack_results["update_failed_requests"] = len(loop.failures)
    stack_results["update_requests_sent_again"] = len(loop.sent_again)
    return Update(run, loop, tag, replaced, vars_file)


def test_app_update_under_load_fails_no_request(stack: Stack, updated: Update):
    assert updated.run.returncode == 0, f"the update run failed at:\n{updated.run.failing_step()}"
    live = stack.app_container()
    assert live["Config"]["Image"] == updated.tag and live["Name"] != updated.replaced, (
        f"the app still runs {live['Config']['Image']}"
    )
    loop = updated.loop
    assert loop.ok > 20, f"the request loop made only {loop.ok} good requests: it measured nothing"
    assert not loop.failures, (
        f"{len(loop.failures)} of {loop.ok + len(loop.failures)} failed: {loop.failures[:5]}"
    )
    # The loop keeps one connection alive and the update reloads Caddy once: more than one
    # request closed unanswered is not that reload's race.
    assert len(loop.sent_again) <= 1, f"requests closed without a response: {loop.sent_again}"


def test_rerun_after_the_update_changes_nothing(
    updated: Update, lab_vm: LabVM, lab_inventory: Path, stack_results: dict
):
    assert updated.run.returncode == 0, "the update failed: nothing to re-run"
    rerun = run_stack(lab_vm, lab_inventory, updated.vars_file)
    assert rerun.returncode == 0, f"stack.yml after the update failed at:\n{rerun.failing_step()}"
    stack_results["update_rerun_changed"] = rerun.recap("changed")
    changed = [line for line in rerun.output.splitlines() if line.startswith("changed:")]
    assert rerun.recap("changed") == 0, f"stack.yml is not idempotent after an update:\n{changed}"


def test_broken_image_rolls_back(
    stack: Stack, lab_vm: LabVM, lab_inventory: Path, stack_vars_file: Path, tmp_path: Path
):
    # Runs, but never answers its health check. It would stay "starting" for the whole start period
    # (300 s): the gate's own timeout, shortened here, is the path that ends it.
    tag = _new_app_image(stack, "solo-trader-lab/app:broken-test", 'CMD ["sleep", "3600"]')
    serving = stack.app_container()
    with RequestLoop(stack) as loop:
        run = run_stack(
            lab_vm,
            lab_inventory,
            _vars_with_app(stack_vars_file, tag, tmp_path),
            "-e",
            f"stack_app_health_timeout={BROKEN_HEALTH_TIMEOUT_S}",
        )
    assert run.returncode != 0 and "ROLLED BACK" in run.output, (
        f"the broken update did not fail loudly:\n{run.output[-3000:]}"
    )
    live = stack.app_container()
    assert live["Id"] == serving["Id"], "the app container serving before the broken update is gone"
    assert not loop.failures, f"requests failed during the rollback: {loop.failures[:5]}"
    apps = guest_ok(stack.vm, f"{COMPOSE} ps -q app").split()
    assert len(apps) == 1, f"the failed container was left behind: {apps}"
    assert stack.client.get(HEALTH).status_code == 200
