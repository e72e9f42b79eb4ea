"""Run an unpacked image the way a container engine would, without one: bubblewrap over the
image's root filesystem with the image config's Env, WorkingDir and User (setpriv from the
image itself drops root), in fresh pid/ipc/uts namespaces; containers that serve the network run
in a network namespace the test creates (`Netns`), reached from the host over a veth pair."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from app.ops.images import archive

DB_PASSWORD = "lab-db-password-7f3a"


@dataclass
class Unpacked:
    name: str
    rootfs: Path
    config: dict  # the archive's image config; .Config of `docker inspect` is config["config"]

    @property
    def runtime(self) -> dict:
        return self.config["config"]

    def env(self) -> dict[str, str]:
        return dict(e.split("=", 1) for e in self.runtime.get("Env", []))

    def ids(self, user: str) -> tuple[int, int]:
        """uid and gid for a Docker USER value (name or number, optional :group) in this image."""
        name, _, group = user.partition(":")
        passwd = [line.split(":") for line in (self.rootfs / "etc/passwd").read_text().splitlines()]
        groups = [line.split(":") for line in (self.rootfs / "etc/group").read_text().splitlines()]
        entry = next((p for p in passwd if name in (p[0], p[2])), None)
        assert entry is not None, f"{self.name}: USER {user!r} has no /etc/passwd entry in the image"
        gid = int(entry[3])
        if group:
            match = next((g for g in groups if group in (g[0], g[2])), None)
            assert match is not None, f"{self.name}: group of USER {user!r} missing from /etc/group"
            gid = int(match[2])
        return int(entry[2]), gid

    def command(
        self,
        argv: list[str] | None = None,
        user: str | None = None,
        env: dict[str, str] | None = None,
        binds: dict[str, Path] | None = None,
    ) -> list[str]:
        """bwrap argv running `argv` (default: Entrypoint + Cmd) as `user` (default: config User),
        with `env` over the config's Env and host directories bound like volumes."""
        argv = (
            argv
            if argv is not None
            else [*(self.runtime.get("Entrypoint") or []), *(self.runtime.get("Cmd") or [])]
        )
        user = self.runtime.get("User") or "0" if user is None else user
        uid, gid = self.ids(user)
        cmd = [
            "bwrap", "--bind", str(self.rootfs), "/", "--dev", "/dev", "--proc", "/proc",
            "--tmpfs", "/tmp", "--tmpfs", "/run",  # noqa: S108 - the sandbox's own /tmp
            "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--die-with-parent", "--cap-add", "ALL",
            "--chdir", self.runtime.get("WorkingDir") or "/", "--clearenv",
        ]  # fmt: skip
        for key, value in {**self.env(), **(env or {})}.items():
            cmd += ["--setenv", key, value]
        for target, source in (binds or {}).items():
            cmd += ["--bind", str(source), target]
        if uid != 0:
            cmd += ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups"]
        return [*cmd, *argv]

    def run(
        self,
        argv: list[str] | None,
        user: str | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess:
        return subprocess.run(
            self.command(argv, user, env), capture_output=True, text=True, timeout=timeout, check=False
        )


def unpack(name: str, archive_path: Path, dest: Path) -> Unpacked:
    archive.unpack(archive_path, dest)
    return Unpacked(name, dest, archive.read(archive_path).config)


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while we looked
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return sorted(found)


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


@dataclass
class Netns:
    """A network namespace with one veth to the host: the container side is `server_addr`."""

    name: str
    host_if: str
    server_addr: str

    @classmethod
    def create(cls) -> Netns:
        tag = os.getpid() % 250 + 1
        ns = cls(f"trimg{os.getpid()}", f"trimg{tag}h", f"10.214.{tag}.2")
        _ip("netns", "add", ns.name)
        try:
            _ip("link", "add", ns.host_if, "type", "veth", "peer", "name", f"trimg{tag}c")
            _ip("link", "set", f"trimg{tag}c", "netns", ns.name)
            _ip("addr", "add", f"10.214.{tag}.1/30", "dev", ns.host_if)
            _ip("link", "set", ns.host_if, "up")
            _ip("-n", ns.name, "addr", "add", f"{ns.server_addr}/30", "dev", f"trimg{tag}c")
            _ip("-n", ns.name, "link", "set", f"trimg{tag}c", "up")
            _ip("-n", ns.name, "link", "set", "lo", "up")
        except BaseException:
            ns.delete()
            raise
        return ns

    def delete(self) -> None:
        subprocess.run(["ip", "link", "del", self.host_if], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, check=False)


class Container:
    """An image's Entrypoint + Cmd started as Docker would (root, then the image's User) inside
    the namespace, output to `log`."""

    def __init__(
        self,
        image: Unpacked,
        netns: Netns,
        log: Path,
        env: dict[str, str],
        binds: dict[str, Path] | None = None,
    ) -> None:
        self.image, self.netns, self.log, self.env, self.binds = image, netns, log, env, binds or {}
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        cmd = self.image.command(env=self.env, binds=self.binds)
        with self.log.open("a") as log:
            self.proc = subprocess.Popen(
                ["ip", "netns", "exec", self.netns.name, *cmd], stdout=log, stderr=log
            )

    def exec(self, argv: list[str], timeout: float = 30) -> subprocess.CompletedProcess:
        """Run `argv` in the container's image and network namespace, as its user."""
        cmd = ["ip", "netns", "exec", self.netns.name, *self.image.command(argv, env=self.env)]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def main_pid(self) -> int | None:
        """Host pid of the image's main process: the first one under bubblewrap's own two."""
        pid = self.proc.pid if self.proc else None
        while pid is not None and Path(f"/proc/{pid}/comm").read_text().strip() == "bwrap":
            pid = next(iter(_children(pid)), None)
        return pid

    def stop(self) -> None:
        """As `docker stop`: the image's StopSignal (else SIGTERM) to the main process, then kill."""
        if not self.running():
            return
        signame = self.image.runtime.get("StopSignal") or "SIGTERM"
        main = self.main_pid()
        if main is not None:
            os.kill(main, signal.Signals[signame])
        try:
            self.proc.wait(timeout=30)  # type: ignore[union-attr]
        except subprocess.TimeoutExpired:
            self.proc.kill()  # type: ignore[union-attr]
            self.proc.wait(timeout=30)  # type: ignore[union-attr]


class DbContainer(Container):
    @property
    def data(self) -> Path:
        return self.binds[self.image.env()["PGDATA"]]

    async def connect(self, password: str, wait: float = 90) -> asyncpg.Connection:
        """Connect from the host as soon as the server accepts; fail with its log otherwise."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        user, db = self.env["POSTGRES_USER"], self.env["POSTGRES_DB"]
        while True:
            try:
                return await asyncpg.connect(
                    host=self.netns.server_addr,
                    port=5432,
                    user=user,
                    password=password,
                    database=db,
                    timeout=5,
                )
            except (TimeoutError, OSError, asyncpg.CannotConnectNowError):
                assert self.running(), f"db exited early:\n{self.log.read_text()}"
                assert loop.time() < deadline, (
                    f"db did not accept connections in {wait}s:\n{self.log.read_text()}"
                )
                await asyncio.sleep(0.5)
