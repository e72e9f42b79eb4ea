"""A stand-in for the `docker` CLI, enough for `docker logs --timestamps --since S --until U NAME`
(the only call `trader logs ship` makes). The container logs come from the JSON file named by
FAKE_DOCKER_LOGS: {"<container>": [["<RFC 3339 ts>", "stdout|stderr", "<line>"], ...]}; every
call is appended to FAKE_DOCKER_CALLS. Installed on PATH as `docker` by tests/logs/test_ship.py.
"""

import json
import os
import sys
from datetime import datetime


def stamp(text: str) -> datetime:
    whole, _, fraction = text.rstrip("Z").partition(".")
    return datetime.fromisoformat(whole + "." + (fraction + "000000")[:6] + "+00:00")


def main(argv: list[str]) -> int:
    with open(os.environ["FAKE_DOCKER_CALLS"], "a") as calls:
        calls.write(json.dumps(argv) + "\n")
    if argv[:2] != ["logs", "--timestamps"] or argv[2] != "--since" or argv[4] != "--until":
        sys.stderr.write(f"fake docker: unsupported call {argv}\n")
        return 2
    since, until, name = stamp(argv[3]), stamp(argv[5]), argv[6]
    with open(os.environ["FAKE_DOCKER_LOGS"]) as f:
        logs = json.load(f)
    if name not in logs:
        sys.stderr.write(f"Error response from daemon: No such container: {name}\n")
        return 1
    for ts, stream, line in logs[name]:
        if since <= stamp(ts) < until:
            (sys.stdout if stream == "stdout" else sys.stderr).write(f"{ts} {line}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
