"""The Dockerfile's HEALTHCHECK, run in the lab app image next to the lab db image (one network
namespace, as one Compose network): healthy with the database, unhealthy without it. This is the
signal the stack's health-gated update relies on."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from pathlib import Path

from tests.images.helpers import DB_PASSWORD, Container, DbContainer, Unpacked


async def _wait_for(container: Container, argv: list[str], want_ok: bool, wait: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while True:
        result = container.exec(argv)
        if (result.returncode == 0) == want_ok:
            return
        assert container.running(), f"app exited:\n{container.log.read_text()}"
        wanted = "0" if want_ok else "non-zero"
        assert loop.time() < deadline, (
            f"health check still exits {result.returncode} after {wait}s (wanted {wanted}):"
            f"\n{result.stderr}\napp log:\n{container.log.read_text()}"
        )
        await asyncio.sleep(1)


async def test_health_check_follows_the_database(
    unpacked: Callable[[str], Unpacked], db: DbContainer, tmp_path: Path
) -> None:
    db.start()
    await (await db.connect(DB_PASSWORD)).close()
    image = unpacked("app")
    env = {
        "DATABASE_URL": f"postgresql://trader:{DB_PASSWORD}@127.0.0.1:5432/trader",
        "API_TOKEN": secrets.token_hex(32),
    }
    app = Container(image, db.netns, tmp_path / "app.log", env)
    healthcheck = image.runtime["Healthcheck"]["Test"][1:]  # after "CMD"
    app.start()
    try:
        await _wait_for(app, healthcheck, want_ok=True, wait=120)
        db.stop()
        await _wait_for(app, healthcheck, want_ok=False, wait=60)
    finally:
        app.stop()
