"""Free loopback ports for the servers the lab and the tests start and bind later (PostgreSQL,
SeaweedFS, Prometheus, QEMU's port forwards)."""

from __future__ import annotations

import random
import socket
from pathlib import Path

EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
LOWEST = 15000  # above the usual fixed service ports (5432, 8080, 9090, ...)


def free_port() -> int:
    """A loopback TCP port nothing is bound to, below the kernel's ephemeral range.

    The caller binds it some time later (a server it starts): a port from the ephemeral range
    could meanwhile go to any outgoing connection, and with tests running in parallel (several
    SeaweedFS and PostgreSQL servers talking to themselves) it did.
    """
    ephemeral_low = int(EPHEMERAL_RANGE.read_text().split()[0])
    if ephemeral_low <= LOWEST + 1000:
        raise RuntimeError(
            f"the ephemeral port range starts at {ephemeral_low} (sysctl net.ipv4.ip_local_port_range): "
            f"free ports are chosen from {LOWEST} up to it; raise its start above {LOWEST + 1000}"
        )
    for _ in range(200):
        port = random.randrange(LOWEST, ephemeral_low)  # noqa: S311 - spreads choices, not a secret
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:  # in use, or lingering in TIME_WAIT
                continue
            return port
    raise RuntimeError(f"no free loopback port found between {LOWEST} and {ephemeral_low}")
