"""The lab's archive server (no VM: fetched from the host's loopback, where QEMU sends the guest's
requests for HOST_FROM_GUEST)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import httpx
import pytest

from app.ops.lab.archives import serve_archives
from app.ops.lab.vm import HOST_FROM_GUEST


def _on_loopback(url: str) -> str:
    assert url.startswith(f"http://{HOST_FROM_GUEST}:"), url
    return url.replace(HOST_FROM_GUEST, "127.0.0.1")


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    path = tmp_path / "app-0123.tar"
    path.write_bytes(os.urandom(3 << 20))  # more than one 1 MiB write
    return path


def test_each_archive_is_served_whole_under_its_service_key(archive: Path):
    with serve_archives({"app": archive}) as urls:
        assert set(urls) == {"app"}
        answer = httpx.get(_on_loopback(urls["app"]))
    assert answer.status_code == 200
    assert answer.headers["content-length"] == str(archive.stat().st_size)
    assert hashlib.sha256(answer.content).digest() == hashlib.sha256(archive.read_bytes()).digest()


def test_nothing_else_is_served(archive: Path):
    with serve_archives({"app": archive}) as urls:
        base = _on_loopback(urls["app"]).rsplit("/", 1)[0]
        for path in ("/", f"/{archive.name}", "/app", "/app.tar/", "/db.tar"):
            assert httpx.get(base + path).status_code == 404, path


def test_the_server_stops_with_the_block(archive: Path):
    with serve_archives({"app": archive}) as urls:
        url = _on_loopback(urls["app"])
    with pytest.raises(httpx.ConnectError):
        httpx.get(url)
