"""The lab images, built once per session through the same `build()` the lab deploys from (cold
in CI: the first run bootstraps Debian and installs every package), and unpacked on demand."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app.ops.images import BuiltImage, build
from tests.images.helpers import DB_PASSWORD, DbContainer, Netns, Unpacked, unpack

REQUIRED_TOOLS = {"mmdebstrap": "mmdebstrap", "umoci": "umoci", "skopeo": "skopeo", "bwrap": "bubblewrap"}
HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The cold build (≈ 6-8 min, more on a loaded host) runs in the setup of whichever image test
    # comes first: give these tests more than the suite's 900 s per test.
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.timeout(2400))


@pytest.fixture(scope="session")
def built_images() -> dict[str, BuiltImage]:
    missing = [
        f"{tool} (Debian package {pkg})" for tool, pkg in REQUIRED_TOOLS.items() if not shutil.which(tool)
    ]
    assert not missing, f"image tests need: {', '.join(missing)} — run scripts/bootstrap"
    return build()


@pytest.fixture(scope="session")
def unpacked(
    built_images: dict[str, BuiltImage], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[str], Unpacked]]:
    """name -> the image's root filesystem, unpacked from its archive once per session."""
    done: dict[str, Unpacked] = {}
    base = tmp_path_factory.mktemp("rootfs")

    def get(name: str) -> Unpacked:
        if name not in done:
            done[name] = unpack(name, built_images[name].archive, base / name)
        return done[name]

    yield get
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def netns() -> Iterator[Netns]:
    ns = Netns.create()
    try:
        yield ns
    finally:
        ns.delete()


@pytest.fixture
def db(unpacked: Callable[[str], Unpacked], netns: Netns, tmp_path: Path) -> Iterator[DbContainer]:
    """The db image on a fresh, empty volume, configured the way the stack's Compose file does
    (a password file, user and database `trader`); not started yet."""
    image = unpacked("db")
    # A secret file as Compose mounts one: outside the data volume, readable before the user switch.
    secrets = image.rootfs / "run-secrets-test"
    secrets.mkdir(exist_ok=True)
    (secrets / "postgres_password").write_text(DB_PASSWORD)
    volume = tmp_path / "volume"
    volume.mkdir()
    env = {
        "POSTGRES_PASSWORD_FILE": "/run-secrets-test/postgres_password",
        "POSTGRES_USER": "trader",
        "POSTGRES_DB": "trader",
    }
    container = DbContainer(image, netns, tmp_path / "db.log", env, {image.env()["PGDATA"]: volume})
    try:
        yield container
    finally:
        container.stop()
