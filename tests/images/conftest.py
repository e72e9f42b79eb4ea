"""The lab images, built once per session through the same `build()` the lab deploys from (cold
in CI: the first run bootstraps Debian and installs every package), and unpacked on demand."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator

import pytest

from app.ops.images import BuiltImage, build
from tests.images.helpers import Unpacked, unpack

REQUIRED_TOOLS = {"mmdebstrap": "mmdebstrap", "umoci": "umoci", "skopeo": "skopeo", "bwrap": "bubblewrap"}


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
