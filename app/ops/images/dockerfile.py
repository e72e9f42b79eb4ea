"""The runtime contract of the repository's Dockerfile: what its final stage tells a container
engine (user, ports, health check, command, environment, working directory).

The lab's `app` image is configured from this contract, and tests/images compares the built
archive's config with it, so the production image and the lab image cannot drift apart.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

DOCKERFILE = Path(__file__).resolve().parents[3] / "Dockerfile"
# Docker's PATH for an image that sets none; `$PATH` in an ENV line expands against it.
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_NS = {"ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}


class DockerfileError(ValueError):
    """The Dockerfile uses a form this parser does not read; the message names the line."""


@dataclass
class RuntimeContract:
    user: str = ""
    workdir: str = ""
    env: dict[str, str] = field(default_factory=dict)
    exposed_ports: list[str] = field(default_factory=list)
    entrypoint: list[str] | None = None
    cmd: list[str] | None = None
    # Docker's config form: {"Test": ["CMD", ...], "Interval": ns, "Timeout": ns, ...}
    healthcheck: dict | None = None
    stopsignal: str = ""


def _instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) per instruction, continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, args = line.partition(" ")
        out.append((keyword.upper(), args.strip()))
    return out


def _duration_ns(text: str) -> int:
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise DockerfileError(f"HEALTHCHECK: cannot read the duration {text!r} (use e.g. 10s, 1m30s)")
    return int(sum(float(n) * _NS[u] for n, u in parts))


def _command(args: str) -> list[str]:
    """Exec form (a JSON array) as is; shell form the way Docker runs it."""
    if args.startswith("["):
        return json.loads(args)
    return ["/bin/sh", "-c", args]


def _healthcheck(args: str) -> dict | None:
    options: dict = {}
    words = args.split(" ")
    while words and words[0].startswith("--"):
        name, _, value = words.pop(0)[2:].partition("=")
        if name == "retries":
            options["Retries"] = int(value)
        elif name in ("interval", "timeout", "start-period", "start-interval"):
            key = "".join(p.capitalize() for p in name.split("-"))
            options[key] = _duration_ns(value)
        else:
            raise DockerfileError(f"HEALTHCHECK: unknown option --{name}")
    rest = " ".join(words).strip()
    if rest.upper() == "NONE":
        return None
    if not rest.upper().startswith("CMD "):
        raise DockerfileError(f"HEALTHCHECK must be NONE or CMD ... (got {rest!r})")
    command = _command(rest[4:].strip())
    test = ["CMD", *command] if rest[4:].strip().startswith("[") else ["CMD-SHELL", command[-1]]
    return {"Test": test, **options}


def _env(args: str, env: dict[str, str]) -> None:
    words = shlex.split(args)
    if words and "=" not in words[0]:  # legacy form: ENV KEY value with spaces
        pairs = [(words[0], " ".join(words[1:]))]
    else:
        pairs = [(key, value) for key, _, value in (w.partition("=") for w in words)]
    for key, value in pairs:
        env[key] = re.sub(
            r"\$\{?(\w+)\}?",
            lambda m: env.get(m.group(1), DEFAULT_PATH if m.group(1) == "PATH" else ""),
            value,
        )


def runtime_contract(path: Path = DOCKERFILE) -> RuntimeContract:
    """The contract set by the Dockerfile's final stage (instructions after the last FROM)."""
    instructions = _instructions(path.read_text())
    starts = [i for i, (kw, _) in enumerate(instructions) if kw == "FROM"]
    if not starts:
        raise DockerfileError(f"{path}: no FROM instruction")
    contract = RuntimeContract()
    for keyword, args in instructions[starts[-1] + 1 :]:
        if keyword == "USER":
            contract.user = args
        elif keyword == "WORKDIR":
            contract.workdir = args
        elif keyword == "ENV":
            _env(args, contract.env)
        elif keyword == "EXPOSE":
            contract.exposed_ports += [p if "/" in p else f"{p}/tcp" for p in args.split()]
        elif keyword == "ENTRYPOINT":
            contract.entrypoint = _command(args)
        elif keyword == "CMD":
            contract.cmd = _command(args)
        elif keyword == "HEALTHCHECK":
            contract.healthcheck = _healthcheck(args)
        elif keyword == "STOPSIGNAL":
            contract.stopsignal = args
    return contract
