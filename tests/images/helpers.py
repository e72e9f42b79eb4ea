"""Run an unpacked image the way a container engine would, without one: bubblewrap over the
image's root filesystem with the image config's Env, WorkingDir and User (setpriv from the
image itself drops root), in fresh pid/ipc/uts namespaces."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from app.ops.images import archive


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
