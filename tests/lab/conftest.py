"""Fixtures for the VM tests: ONE lab VM for the whole session carrying every role's checks.

Order of events: probe namespace + tap -> the lab's container images start building in the
background (from Debian packages, cached) -> cached guest image -> boot -> the built images and a
Discord-compatible receiver on the host's loopback (the guest reaches it at 10.0.2.2) -> site.yml
(host layer, then the stack) twice -> the tests look at the guest from outside. Measured figures
go to reports/lab/host-layer.json and reports/lab/stack.json (tests/benchmarks/lab_host_layer.py
and lab_stack.py fold them into docs/benchmarks.md); a site.yml run's time is split between them
by role (profile_roles). Any failing test gets the guest's console log attached to its report.
"""

from __future__ import annotations

import io
import json
import os
import shlex
import ssl
import subprocess
import tarfile
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from app.ops.lab.archives import serve_archives
from app.ops.lab.image import ensure_image
from app.ops.lab.inventory import write_inventory
from app.ops.lab.stack import image_archives, stack_vars, write_stack_vars
from app.ops.lab.vm import HOST_FROM_GUEST, LabVM
from tests.fakes.discord import FakeDiscord
from tests.fakes.server import serve
from tests.lab.playbook import PlaybookRun, run_playbook
from tests.lab.probe import ProbeNet

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "reports" / "lab" / "host-layer.json"
STACK_RESULTS = REPO / "reports" / "lab" / "stack.json"
PUBLISHED_PORT = 8080
GUEST_CMD_TIMEOUT_S = 900

_running: dict[str, LabVM] = {}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The lynis audit (`-m lynis`) goes after the other VM tests, alone: fork-heavy, it slowed
    everything it ran beside under TCG (started beside the re-run, it had not finished 50 min later)."""
    lynis = [item for item in items if item.name == "test_lynis_reports_a_hardening_index"]
    if lynis:
        items.remove(lynis[0])
        here = Path(__file__).parent
        last = max(i for i, item in enumerate(items) if item.path.parent == here)
        items.insert(last + 1, lynis[0])


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    vm = _running.get("vm")
    if report.failed and vm is not None and item.path.is_relative_to(Path(__file__).parent):
        report.sections.append((f"guest console ({vm.console_log})", vm.console_tail(80)))


def _results(path: Path) -> Iterator[dict]:
    results: dict = {}
    yield results
    path.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(path.read_text()) if path.exists() else {}
    path.write_text(json.dumps({**previous, **results}, indent=2, sort_keys=True))


@pytest.fixture(scope="session")
def lab_results() -> Iterator[dict]:
    yield from _results(RESULTS)


@pytest.fixture(scope="session")
def stack_results() -> Iterator[dict]:
    yield from _results(STACK_RESULTS)


@pytest.fixture(scope="session")
def probe_net() -> Iterator[ProbeNet]:
    net = ProbeNet.create()
    yield net
    net.destroy()


@pytest.fixture(scope="session")
def lab_vm(request: pytest.FixtureRequest, lab_results: dict) -> Iterator[LabVM]:
    # Development only: TRADER_LAB_VM=NAME runs the tests against a VM `trader lab up --name NAME`
    # started (and leaves it running); it has no probe network, so run only tests/lab/test_stack.py.
    reuse = os.environ.get("TRADER_LAB_VM")
    if reuse:
        existing = LabVM.load(reuse)
        if existing is None or not existing.running():
            pytest.fail(
                f"TRADER_LAB_VM={reuse}: no running lab VM of that name (`trader lab up --name {reuse}`)"
            )
        yield existing
        return
    probe_net: ProbeNet = request.getfixturevalue("probe_net")
    request.getfixturevalue("lab_images")  # builds while the guest image is made and boots
    start = time.monotonic()
    image = ensure_image()
    lab_results["image_s"] = round(time.monotonic() - start, 1)
    vm = LabVM(name=f"pytest-{os.getpid()}", image_dir=str(image.dir), probe_tap=probe_net.tap)
    _running["vm"] = vm
    try:
        start = time.monotonic()
        vm.start()
        lab_results["boot_s"] = round(time.monotonic() - start, 1)
        probe_net.attach()
        yield vm
    finally:
        _running.pop("vm", None)
        vm.stop()


@pytest.fixture(scope="session")
def lab_inventory(lab_vm: LabVM, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_inventory(lab_vm, tmp_path_factory.mktemp("inventory") / "hosts.yml")


HOST_LAYER_ROLES = ("base", "hardening", "docker")


def _record_times(run: PlaybookRun, key: str, lab_results: dict, stack_results: dict) -> None:
    roles = run.role_seconds()
    if set(HOST_LAYER_ROLES) | {"stack"} <= roles.keys():
        lab_results[key] = round(sum(roles[role] for role in HOST_LAYER_ROLES), 1)
        stack_results[key] = round(roles["stack"], 1)
    stack_results[f"site_{key}"] = round(run.seconds, 1)


@pytest.fixture(scope="session")
def first_converge(
    lab_vm: LabVM, lab_inventory: Path, stack_vars_file: Path, lab_results: dict, stack_results: dict
) -> PlaybookRun:
    """site.yml on the fresh VM: it must succeed for anything to follow."""
    first = run_playbook(lab_inventory, "-e", f"@{stack_vars_file}", vm=lab_vm)
    if first.returncode != 0:
        pytest.fail(
            f"site.yml failed on the fresh lab VM (exit {first.returncode}) at:\n{first.failing_step()}"
        )
    _record_times(first, "converge_s", lab_results, stack_results)
    return first


@pytest.fixture(scope="session")
def converged(
    first_converge: PlaybookRun,
    lab_vm: LabVM,
    lab_inventory: Path,
    stack_vars_file: Path,
    lab_results: dict,
    stack_results: dict,
) -> tuple[PlaybookRun, PlaybookRun]:
    """The first site.yml run, then once more."""
    second = run_playbook(lab_inventory, "-e", f"@{stack_vars_file}", vm=lab_vm)
    if second.returncode == 0:  # a run that stopped early would report a flattering time
        _record_times(second, "rerun_s", lab_results, stack_results)
        lab_results["rerun_changed"] = stack_results["rerun_changed"] = second.recap("changed")
    return first_converge, second


def guest_ok(vm: LabVM, command: str) -> str:
    """guest(), asserting that the command succeeded; its standard output."""
    result = guest(vm, command)
    assert result.returncode == 0, (
        f"`{command}` failed in the guest: {result.stderr.decode(errors='replace')}"
    )
    return result.stdout.decode()


def guest(
    vm: LabVM, command: str, stdin: bytes | None = None, timeout: float = GUEST_CMD_TIMEOUT_S
) -> subprocess.CompletedProcess[bytes]:
    """Run a command on the guest as the deploy user (over the forwarded loopback port)."""
    return subprocess.run(
        vm.ssh_command("deploy", command),
        input=stdin,
        capture_output=True,
        check=False,
        timeout=timeout,
    )


def _busybox_rootfs() -> bytes:
    """A container image rootfs from the host's static busybox: no registry involved."""
    busybox = Path("/bin/busybox")
    if not busybox.exists():
        raise RuntimeError("/bin/busybox missing: install the Debian package busybox-static")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(busybox, arcname="bin/busybox")
        page = b"published-probe\n"
        info = tarfile.TarInfo("www/index.html")
        info.size = len(page)
        tar.addfile(info, io.BytesIO(page))
    return buf.getvalue()


@pytest.fixture(scope="session")
def published_container(converged: tuple, lab_vm: LabVM) -> int:
    """A container that publishes PUBLISHED_PORT the careless way (`-p 8080:80`, no address)."""
    imported = guest(lab_vm, "sudo docker import - trader-lab/busybox:probe", stdin=_busybox_rootfs())
    assert imported.returncode == 0, f"docker import in the guest failed: {imported.stderr.decode()}"
    run = guest(
        lab_vm,
        f"sudo docker run -d --name published-probe -p {PUBLISHED_PORT}:80 trader-lab/busybox:probe "
        "/bin/busybox httpd -f -p 80 -h /www",
    )
    assert run.returncode == 0, f"docker run in the guest failed: {run.stderr.decode()}"
    return PUBLISHED_PORT


@pytest.fixture(scope="session")
def fake_discord() -> Iterator[tuple[FakeDiscord, str]]:
    """The Discord stand-in on the host's loopback, and its webhook URL as the guest sees it."""
    discord = FakeDiscord()
    with serve(discord.app) as base_url:
        yield discord, discord.webhook_url(base_url.replace("127.0.0.1", HOST_FROM_GUEST))


@pytest.fixture(scope="session")
def lab_images(stack_results: dict) -> Iterator[Future]:
    """`trader images build` in the background: from a cold cache it takes minutes (about 3 on an
    idle host), which the guest image's build and the boot would otherwise wait behind."""
    from app.ops.images import build

    def timed() -> dict:
        start = time.monotonic()
        images = build()
        stack_results["images_s"] = round(time.monotonic() - start, 1)
        return images

    with ThreadPoolExecutor(1, thread_name_prefix="lab-images") as pool:
        yield pool.submit(timed)


@pytest.fixture(scope="session")
def stack_vars_file(
    lab_images: Future, fake_discord: tuple[FakeDiscord, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """The lab's stack variables, with its image archives served to the guest for the session."""
    images = lab_images.result()
    archives = image_archives(images)
    with serve_archives(archives) as urls:
        # One archive (the smallest) as a path, so the role's copy-over-SSH branch runs too.
        sources = {**urls, "postgres_exporter": str(archives["postgres_exporter"])}
        variables = stack_vars(images, sources, discord_webhook_url=fake_discord[1])
        yield write_stack_vars(variables, tmp_path_factory.mktemp("stack") / "stack-vars.json")


def run_stack(vm: LabVM, inventory: Path, vars_file: Path, *extra: str) -> PlaybookRun:
    """stack.yml alone: what an update re-runs once the host layer is in place."""
    return run_playbook(inventory, "-e", f"@{vars_file}", *extra, playbook="stack.yml", vm=vm)


STACK_DIR = "/opt/trader"
COMPOSE = f"sudo docker compose --project-directory {STACK_DIR} -f {STACK_DIR}/compose.yml"
PSQL = f"{COMPOSE} exec -T db psql -U trader -d trader -At -c"
CADDY_ROOT_CA = f"{STACK_DIR}/data/caddy/caddy/pki/authorities/local/root.crt"
HEALTH = "/api/v1/diag/health"


def https_client(vm: LabVM, tls: ssl.SSLContext) -> httpx.Client:
    """A client to Caddy through the VM's forwarded 443."""
    # `localhost` is the lab's site address: the certificate names it and SNI carries it.
    return httpx.Client(base_url=f"https://localhost:{vm.https_port}", verify=tls, timeout=20)


@dataclass
class Stack:
    """The deployed stack as its user reaches it: HTTPS through Caddy, and the guest for psql."""

    vm: LabVM
    client: httpx.Client
    token: str
    admin: tuple[str, str]
    tls: ssl.SSLContext  # trusts only Caddy's internal root CA

    def connect(self) -> httpx.Client:
        """Another client like `client`, with its own connection."""
        return https_client(self.vm, self.tls)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def psql(self, sql: str) -> str:
        return guest_ok(self.vm, f"{PSQL} {shlex.quote(sql)}")

    def app_container(self) -> dict:
        """`docker inspect` of the one app container Compose runs."""
        name = guest_ok(self.vm, f"{COMPOSE} ps -q app").split()
        assert len(name) == 1, f"expected one app container, found {name}"
        return json.loads(guest_ok(self.vm, f"sudo docker inspect {name[0]}"))[0]


@pytest.fixture(scope="session")
def stack(converged, lab_vm: LabVM, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """HTTPS to Caddy through the VM's forwarded port, trusting only Caddy's internal root CA."""
    ca = tmp_path_factory.mktemp("caddy") / "root.crt"
    ca.write_text(guest_ok(lab_vm, f"sudo cat {CADDY_ROOT_CA}"))
    token = guest_ok(lab_vm, f"sudo cat {STACK_DIR}/secrets/api_token").strip()
    password = guest_ok(lab_vm, f"sudo cat {STACK_DIR}/secrets/admin_password").strip()
    tls = ssl.create_default_context(cafile=ca)
    with https_client(lab_vm, tls) as client:
        yield Stack(lab_vm, client, token, ("admin", password), tls)
