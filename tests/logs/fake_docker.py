"""A stand-in for the `docker` CLI, enough for the two calls `trader logs ship` makes:

    docker ps --all --filter label=com.docker.compose.project=P
                    --filter label=com.docker.compose.service=S --format {{.Names}}
    docker logs --timestamps --since S --until U NAME

The containers come from the JSON file named by FAKE_DOCKER_LOGS:

    {"containers": {"<name>": {"project": "trader", "service": "app",
                               "lines": [["<RFC 3339 ts>", "stdout|stderr", "<line>"], ...]}}}

`ps` prints the names of the containers whose project and service match every label filter (all
of them count as existing: there is no running/stopped state); `logs` of a name not in the file
answers "No such container". Every call is appended to FAKE_DOCKER_CALLS. Installed on PATH as
`docker` by tests/logs/test_ship.py.
"""

import json
import os
import sys
from datetime import datetime

LABELS = {"com.docker.compose.project": "project", "com.docker.compose.service": "service"}


def stamp(text: str) -> datetime:
    whole, _, fraction = text.rstrip("Z").partition(".")
    return datetime.fromisoformat(whole + "." + (fraction + "000000")[:6] + "+00:00")


def unsupported(argv: list[str]) -> int:
    sys.stderr.write(f"fake docker: unsupported call {argv}\n")
    return 2


def ps(argv: list[str], containers: dict[str, dict]) -> int:
    """`ps --all (--filter label=KEY=VALUE)... --format {{.Names}}`, nothing else."""
    if argv[:1] != ["--all"] or argv[-2:] != ["--format", "{{.Names}}"]:
        return unsupported(["ps", *argv])
    filters = argv[1:-2]
    if len(filters) % 2:
        return unsupported(["ps", *argv])
    wanted: dict[str, str] = {}
    for flag, value in zip(filters[::2], filters[1::2], strict=True):
        key, _, expected = value.removeprefix("label=").partition("=")
        if flag != "--filter" or not value.startswith("label=") or key not in LABELS:
            return unsupported(["ps", *argv])
        wanted[LABELS[key]] = expected
    for name, container in containers.items():
        if all(container[field] == expected for field, expected in wanted.items()):
            sys.stdout.write(name + "\n")
    return 0


def logs(argv: list[str], containers: dict[str, dict]) -> int:
    """`logs --timestamps --since S --until U NAME`."""
    if argv[:1] != ["--timestamps"] or argv[1] != "--since" or argv[3] != "--until" or len(argv) != 6:
        return unsupported(["logs", *argv])
    since, until, name = stamp(argv[2]), stamp(argv[4]), argv[5]
    if name not in containers:
        sys.stderr.write(f"Error response from daemon: No such container: {name}\n")
        return 1
    for ts, stream, line in containers[name]["lines"]:
        if since <= stamp(ts) < until:
            (sys.stdout if stream == "stdout" else sys.stderr).write(f"{ts} {line}\n")
    return 0


def main(argv: list[str]) -> int:
    with open(os.environ["FAKE_DOCKER_CALLS"], "a") as calls:
        calls.write(json.dumps(argv) + "\n")
    with open(os.environ["FAKE_DOCKER_LOGS"]) as f:
        containers = json.load(f)["containers"]
    if argv[:1] == ["ps"]:
        return ps(argv[1:], containers)
    if argv[:1] == ["logs"]:
        return logs(argv[1:], containers)
    return unsupported(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
