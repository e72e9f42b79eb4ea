"""Each image's entrypoint runs from its unpacked root, as its configured user (bubblewrap +
the image's own setpriv): the binaries the lab's Compose services call exist and work."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from tests.images.helpers import Unpacked

# image -> (argv appended to the entrypoint, or a whole argv when it has none; output pattern)
VERSION_CHECKS = {
    "prometheus": (["--version"], r"prometheus, version 2\.\d+"),
    "alertmanager": (["--version"], r"alertmanager, version 0\.\d+"),
    "node-exporter": (["--version"], r"node_exporter, version 1\.\d+"),
    "postgres-exporter": (["--version"], r"postgres_exporter, version 0\.\d+"),
    "caddy": (["caddy", "version"], r"^v?2\.\d+\.\d+"),
}


@pytest.mark.parametrize("name", list(VERSION_CHECKS))
def test_entrypoint_runs_as_the_image_user(unpacked: Callable[[str], Unpacked], name: str) -> None:
    image = unpacked(name)
    args, expected = VERSION_CHECKS[name]
    argv = [*(image.runtime.get("Entrypoint") or []), *args]
    result = image.run(argv)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{name}: {argv} exited {result.returncode}:\n{output}"
    assert re.search(expected, output, re.MULTILINE), f"{name}: {argv} printed no {expected!r}:\n{output}"


@pytest.mark.parametrize("name", ["prometheus", "alertmanager", "caddy"])
def test_default_config_is_valid(unpacked: Callable[[str], Unpacked], name: str) -> None:
    """The default CMD points at a config file the image ships, so `docker run` alone works."""
    image = unpacked(name)
    checks = {
        "prometheus": ["promtool", "check", "config", "/etc/prometheus/prometheus.yml"],
        "alertmanager": ["amtool", "check-config", "/etc/alertmanager/alertmanager.yml"],
        "caddy": ["caddy", "validate", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"],
    }
    result = image.run(checks[name])
    assert result.returncode == 0, f"{name}: {checks[name]} failed:\n{result.stdout}{result.stderr}"


def test_health_checks_written_for_official_images_find_wget(unpacked: Callable[[str], Unpacked]) -> None:
    for name in ("prometheus", "alertmanager", "node-exporter", "postgres-exporter", "caddy"):
        result = unpacked(name).run(["wget", "--help"])
        assert "Usage: wget" in result.stdout + result.stderr, f"{name}: no working wget on PATH"


def test_app_venv_imports_the_service_and_runs_trader(unpacked: Callable[[str], Unpacked]) -> None:
    app = unpacked("app")
    result = app.run(["python", "-c", "import app.main, sys; print(sys.prefix)"])
    assert result.returncode == 0, f"app: importing app.main failed:\n{result.stderr}"
    assert result.stdout.strip() == "/opt/venv", f"app: python on PATH is not the venv's: {result.stdout}"
    result = app.run(["trader", "--help"])
    assert result.returncode == 0 and "serve" in result.stdout, (
        f"app: trader --help:\n{result.stdout}{result.stderr}"
    )
    result = app.run(["id", "-u"])
    assert result.stdout.strip() == app.runtime["User"].split(":")[0], f"app runs as uid {result.stdout}"


def test_app_starts_from_its_bytecode(unpacked: Callable[[str], Unpacked]) -> None:
    """Every module the service imports loads from a .pyc the image ships. A .pyc that does not
    match its source is compiled again on each start and never saved (read-only to the app's
    user): on the lab guest the app then took 61 s to start instead of 32 (docs/images.md)."""
    result = unpacked("app").run(["python", "-v", "-c", "import app.main"])
    assert result.returncode == 0, f"app: importing app.main failed:\n{result.stderr[-2000:]}"
    from_source = re.findall(r"^# code object from '?(\S+?\.py)'?$", result.stderr, re.MULTILINE)
    assert not from_source, f"app: {len(from_source)} modules compiled at import, e.g. {from_source[:5]}"


def test_app_ships_no_installer_and_no_test_suites(unpacked: Callable[[str], Unpacked]) -> None:
    """pip and numpy's and pandas' own test suites were a quarter of the app layer, unpacked and
    hashed by every `docker load` for nothing the service runs (docs/images.md)."""
    venv = unpacked("app").rootfs / "opt/venv"
    site = next(venv.glob("lib/python3*/site-packages"))
    shipped = [p.relative_to(venv) for p in (site / "pip", venv / "bin/pip") if p.exists()]
    shipped += [p.relative_to(venv) for lib in ("numpy", "pandas") for p in (site / lib).rglob("tests")]
    assert (site / "pandas").is_dir() and (site / "numpy").is_dir(), "app: numpy/pandas not where expected"
    assert not shipped, f"app: {len(shipped)} paths the service never runs, e.g. {shipped[:5]}"


@pytest.mark.parametrize("name", ["app", "db", "caddy"])
def test_nothing_from_the_build_host_reaches_a_layer(unpacked: Callable[[str], Unpacked], name: str) -> None:
    """The build binds apt's lists, the package cache, pip's cache, the sources and the host's
    resolv.conf and CA bundle into the sandbox: none of them may end up in the image."""
    root = unpacked(name).rootfs
    leaked = [
        rel
        for rel in (
            "etc/resolv.conf",
            "etc/hostname",
            "src",
            "root/.cache",
            "run/host-ca.crt",
            "usr/sbin/policy-rc.d",
        )
        if (root / rel).exists() or (root / rel).is_symlink()
    ]
    leaked += [f"var/lib/apt/lists/{p.name}" for p in (root / "var/lib/apt/lists").glob("*_Packages")]
    leaked += [f"var/cache/apt/archives/{p.name}" for p in (root / "var/cache/apt/archives").glob("*.deb")]
    assert not leaked, f"{name}: build-host files in the image: {leaked}"
