"""The production Dockerfile cannot be built here (no registry), so the lab's app image must keep
its runtime contract: same user, ports, health check, command, environment and working dir."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from app.ops.images import BuiltImage
from app.ops.images.archive import read
from app.ops.images.dockerfile import DEFAULT_PATH, DOCKERFILE, RuntimeContract, runtime_contract
from tests.images.helpers import Unpacked


def _which(image: Unpacked, program: str) -> Path | None:
    """Where the image's PATH finds `program`, as a path inside the unpacked root."""
    for directory in image.env()["PATH"].split(":"):
        candidate = image.rootfs / directory.lstrip("/") / program
        if candidate.is_file() or candidate.is_symlink():
            return candidate
    return None


def test_dockerfile_pins_its_base_and_builds_in_stages() -> None:
    text = DOCKERFILE.read_text()
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.MULTILINE)
    assert base, "Dockerfile: ARG PYTHON_IMAGE=<image:tag> names the base once for both stages"
    assert re.fullmatch(r"python:3\.13\.\d+-slim-trixie(@sha256:[0-9a-f]{64})?", base.group(1)), (
        f"Dockerfile: base {base.group(1)!r} is not pinned to an exact python 3.13 slim trixie tag"
    )
    stages = re.findall(r"^FROM (\S+)", text, re.MULTILINE)
    assert stages == ["${PYTHON_IMAGE}"] * 2, (
        f"Dockerfile: expected a builder and a runtime stage, got {stages}"
    )
    assert "from=builder" in text, "Dockerfile: the runtime stage does not take the builder's wheels"


def test_dockerfile_contract_is_complete() -> None:
    contract = runtime_contract()
    uid = contract.user.split(":")[0]
    assert uid.isdigit() and int(uid) != 0, f"Dockerfile USER {contract.user!r} must be a non-root uid"
    assert contract.exposed_ports == ["8000/tcp"], f"Dockerfile EXPOSE {contract.exposed_ports}"
    assert contract.cmd and contract.cmd[:2] == ["trader", "serve"], f"Dockerfile CMD {contract.cmd}"
    assert "--port" in contract.cmd and contract.cmd[contract.cmd.index("--port") + 1] == "8000"
    assert contract.healthcheck and contract.healthcheck["Test"][0] == "CMD", (
        "Dockerfile: exec-form HEALTHCHECK"
    )
    assert "/api/v1/diag/health" in " ".join(contract.healthcheck["Test"]), "HEALTHCHECK must ask /health"
    assert not any(w in ("curl", "wget") for w in contract.healthcheck["Test"]), (
        "HEALTHCHECK must not need curl"
    )


def test_lab_app_image_config_equals_the_dockerfile_contract(built_images: dict[str, BuiltImage]) -> None:
    contract = runtime_contract()
    config = read(built_images["app"].archive).config["config"]
    found = RuntimeContract(
        user=config.get("User", ""),
        workdir=config.get("WorkingDir", ""),
        env={k: v for k, v in (e.split("=", 1) for e in config.get("Env", [])) if k in contract.env},
        exposed_ports=sorted(config.get("ExposedPorts", {})),
        entrypoint=config.get("Entrypoint"),
        cmd=config.get("Cmd"),
        healthcheck=config.get("Healthcheck"),
        stopsignal=config.get("StopSignal", ""),
    )
    assert found == contract, (
        f"lab app image config drifted from {DOCKERFILE}:\n lab: {found}\n Dockerfile: {contract}"
    )


def test_lab_app_image_honours_the_contract(unpacked: Callable[[str], Unpacked]) -> None:
    app = unpacked("app")
    contract = runtime_contract()
    uid, _ = app.ids(contract.user)
    workdir = app.rootfs / contract.workdir.lstrip("/")
    assert workdir.is_dir() and workdir.stat().st_uid == uid, f"WORKDIR {contract.workdir} not owned by {uid}"
    for program in (contract.cmd[0], contract.healthcheck["Test"][1]):  # type: ignore[index]
        assert _which(app, program), f"{program} is not on the lab app image's PATH {app.env()['PATH']}"


def test_parser_reads_the_final_stage_in_every_form(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        'FROM a AS builder\nUSER builder\nCMD ["make"]\n'
        'FROM b\n# a comment\nENV LEGACY some value\nENV PATH=/x/bin:$PATH A="1 2"\n'
        "EXPOSE 80 443/udp\nHEALTHCHECK --interval=1m30s --retries=2 \\\n  CMD wget -q localhost\n"
        "ENTRYPOINT /entry.sh\nSTOPSIGNAL SIGINT\n"
    )
    contract = runtime_contract(dockerfile)
    assert contract == RuntimeContract(
        user="",
        env={"LEGACY": "some value", "PATH": f"/x/bin:{DEFAULT_PATH}", "A": "1 2"},
        exposed_ports=["80/tcp", "443/udp"],
        entrypoint=["/bin/sh", "-c", "/entry.sh"],
        healthcheck={"Test": ["CMD-SHELL", "wget -q localhost"], "Interval": 90 * 10**9, "Retries": 2},
        stopsignal="SIGINT",
    ), f"parsed {contract}"
