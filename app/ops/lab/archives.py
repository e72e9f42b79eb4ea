"""The lab's image archives served to its guest over plain HTTP while a playbook runs.

Copied over SSH (Ansible's `copy`) the 1.4 GB of archives crossed at about 5 MB/s: the guest's
emulated CPU decrypting the stream was the limit. From the host's loopback, which QEMU's user
network shows the guest as HOST_FROM_GUEST, the guest downloads them about five times faster.
Only the listed files are served, and only on 127.0.0.1.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from app.ops.lab.vm import HOST_FROM_GUEST
from app.ops.ports import free_port


class _ArchiveHandler(BaseHTTPRequestHandler):
    def __init__(self, *args, files: Mapping[str, Path], **kwargs) -> None:
        self.files = files
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:
        path = self.files.get(self.path.lstrip("/"))
        if path is None:
            self.send_error(404, "not one of the lab's image archives")
            return
        with path.open("rb") as archive:
            self.send_response(200)
            self.send_header("Content-Type", "application/x-tar")
            self.send_header("Content-Length", str(path.stat().st_size))
            self.end_headers()
            # A guest that gave up mid-download: get_url reports that on its side.
            with suppress(BrokenPipeError, ConnectionResetError):
                shutil.copyfileobj(archive, self.wfile, 1 << 20)

    def log_message(self, format: str, *args: object) -> None:
        pass  # Ansible's output says what was downloaded


@contextmanager
def serve_archives(archives: Mapping[str, Path]) -> Iterator[dict[str, str]]:
    """Serve each archive while the block runs; yield the URL of each as the guest reaches it."""
    files = {f"{key}.tar": Path(path) for key, path in archives.items()}
    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), partial(_ArchiveHandler, files=files))
    thread = threading.Thread(target=server.serve_forever, name=f"lab-archives-{port}", daemon=True)
    thread.start()
    try:
        yield {key: f"http://{HOST_FROM_GUEST}:{port}/{key}.tar" for key in archives}
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
