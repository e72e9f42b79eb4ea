"""Build the lab's container images as `docker load`-able archives, without any registry.

mmdebstrap makes ONE Debian 13 minbase root filesystem; umoci turns it into the base layer of an
OCI layout. Each image unpacks that base, installs its packages with apt inside a bubblewrap
sandbox, and `umoci repack` records the difference as the image's one layer; `umoci config` sets
its entrypoint, user and ports; `skopeo copy` writes the docker-archive. Every image therefore
shares the same base layer (same digest), which the guest's Docker stores once.

Everything lives under `images_home()`: the OCI layout, apt's lists and downloaded packages and
pip's cache (bound into the sandbox, never into a layer), the archives and `manifest.json`.
An archive's name carries the hash of its recipe, so an unchanged recipe is never rebuilt.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from app.ops.images import archive
from app.ops.images.recipes import BASE, FILES, TAG_PREFIX, Recipe, recipes
from app.ops.lab.image import LabError, _require, _run

REPO = Path(__file__).resolve().parents[3]
# Bump when the way an image is put together changes (sandbox, cleanup, export): every image
# is rebuilt, as with a recipe change.
BUILDER_VERSION = 1
# What the app image installs from this repository: the package's sources and its metadata.
SOURCE_PARTS = ("pyproject.toml", "README.md", "app", "infra", "backtests", "scripts")
# Copied for the build (pyproject names it as the package's readme) but left out of the hash:
# editing prose must not rebuild the image.
UNHASHED = ("README.md",)
# Written by apt/dpkg/ldconfig on every run; they would make each layer differ for nothing.
_BUILD_LEFTOVERS = """
rm -rf /var/log/apt/* /var/log/dpkg.log /var/log/alternatives.log /var/cache/debconf/*-old \
  /var/lib/dpkg/*-old /var/cache/ldconfig/aux-cache /var/cache/apt/*.bin /tmp/* /var/tmp/* \
  /usr/sbin/policy-rc.d
"""


class ImageError(LabError):
    """The request or the build host is unusable; failed build steps raise LabError (the lab's
    step runner) naming the step and its log."""


@dataclass(frozen=True)
class BuiltImage:
    name: str
    tag: str
    archive: Path
    bytes: int
    cached: bool


def images_home() -> Path:
    """`$XDG_CACHE_HOME/solo-trader/images` (default `~/.cache/...`); `TRADER_IMAGES_HOME` overrides."""
    if os.environ.get("TRADER_IMAGES_HOME"):
        return Path(os.environ["TRADER_IMAGES_HOME"])
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "solo-trader" / "images"


def _digest(data: object) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def _source_files(root: Path = REPO) -> list[Path]:
    files: list[Path] = []
    for part in SOURCE_PARTS:
        path = root / part
        found = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        files += [p for p in found if "__pycache__" not in p.parts]
    return files


def _source_digest(root: Path = REPO) -> str:
    sha = hashlib.sha256()
    for path in _source_files(root):
        if str(path.relative_to(root)) in UNHASHED:
            continue
        sha.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return sha.hexdigest()


def _snapshot_sources(dest: Path) -> None:
    """Copy what the app image installs, so the hash and the build see the same files even while
    the working tree changes."""
    for path in _source_files():
        target = dest / path.relative_to(REPO)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)


def base_hash() -> str:
    return _digest(BASE)[:16]


def recipe_hash(recipe: Recipe, source_root: Path = REPO) -> str:
    """Covers the base, the recipe, the contents of its files and, for `app`, the repository's
    sources (or a snapshot of them at `source_root`)."""
    data = {
        "builder": BUILDER_VERSION,
        "leftovers": _BUILD_LEFTOVERS,
        "base": base_hash(),
        "recipe": asdict(recipe),
        "files": {dest: (FILES / src).read_text() for dest, src in recipe.files.items()},
        "source": _source_digest(source_root) if recipe.with_source else None,
    }
    return _digest(data)[:12]


class _Builder:
    def __init__(self, home: Path, report: Callable[[str], None]) -> None:
        self.home = home
        self.report = report
        self.layout = home / "oci"
        self.logs = home / "logs"
        self.lists = home / "apt" / "lists"
        self.debs = home / "apt" / "archives"
        self.pip_cache = home / "pip"
        self.lists_fresh = False
        for d in (self.logs, self.lists / "partial", self.debs / "partial", self.pip_cache):
            d.mkdir(parents=True, exist_ok=True)

    def _tags(self) -> set[str]:
        index = self.layout / "index.json"
        if not index.exists():
            return set()
        manifests = json.loads(index.read_text()).get("manifests", [])
        return {m.get("annotations", {}).get("org.opencontainers.image.ref.name") for m in manifests}

    def base(self) -> str:
        """The OCI tag of the shared base layer, bootstrapping it when missing."""
        tag = f"base-{base_hash()}"
        if tag in self._tags():
            return tag
        log = self.logs / f"{tag}.log"
        with tempfile.TemporaryDirectory(dir=self.home) as tmp:
            rootfs_tar = Path(tmp) / "rootfs.tar"
            self.report("bootstrapping the Debian 13 base with mmdebstrap (about a minute)")
            _run("mmdebstrap", [
                "mmdebstrap", "--mode=root", f"--variant={BASE['variant']}",
                *[f"--aptopt={o}" for o in BASE["aptopts"]],
                *[f"--dpkgopt={o}" for o in BASE["dpkgopts"]],
                # apt's lists leave with the chroot so the per-image installs need no download.
                f"--customize-hook=sync-out /var/lib/apt/lists {self.lists}",
                *[f"--customize-hook={h}" for h in BASE["hooks"]],
                BASE["suite"], str(rootfs_tar), *BASE["sources"],
            ], log)  # fmt: skip
            self.lists_fresh = True
            self.report("importing the base layer (umoci)")
            if not (self.layout / "index.json").exists():
                _run("umoci init", ["umoci", "init", "--layout", str(self.layout)], log)
            _run("umoci new", ["umoci", "new", "--image", f"{self.layout}:{tag}"], log)
            _run("umoci raw add-layer", [
                "umoci", "raw", "add-layer", "--image", f"{self.layout}:{tag}",
                "--history.created_by", f"mmdebstrap --variant={BASE['variant']} {BASE['suite']}",
                str(rootfs_tar),
            ], log)  # fmt: skip
        return tag

    def _sandbox(
        self, rootfs: Path, script: str, log: Path, step: str, binds: Iterable[tuple[Path, str]]
    ) -> None:
        """Run `script` as root in the image's root filesystem (bubblewrap: own pid/ipc/uts)."""
        cmd = [
            "bwrap", "--bind", str(rootfs), "/", "--dev", "/dev", "--proc", "/proc",
            "--bind", str(self.lists), "/var/lib/apt/lists",
            "--bind", str(self.debs), "/var/cache/apt/archives",
            "--ro-bind", "/etc/resolv.conf", "/etc/resolv.conf",
            # The build host's CA bundle on a tmpfs, never in a layer: pip inside reaches PyPI
            # through whatever TLS-inspecting proxy the host trusts.
            "--tmpfs", "/run", "--ro-bind", _host_ca_bundle(), "/run/host-ca.crt",
            "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--die-with-parent", "--cap-add", "ALL",
            "--clearenv", "--setenv", "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "--setenv", "HOME", "/root", "--setenv", "LANG", "C.UTF-8",
            "--setenv", "DEBIAN_FRONTEND", "noninteractive", "--setenv", "PIP_CERT", "/run/host-ca.crt",
        ]  # fmt: skip
        for source, target in binds:
            cmd += ["--bind", str(source), target]
        _run(step, [*cmd, "/bin/sh", "-euxc", script], log)

    def image(self, base_tag: str, recipe: Recipe, digest: str, target: Path, sources: Path) -> None:
        tag = f"{recipe.name}-{digest}"
        log = self.logs / f"{tag}.log"
        log.write_text("")
        with tempfile.TemporaryDirectory(dir=self.home) as tmp:
            bundle = Path(tmp) / "bundle"
            rootfs = bundle / "rootfs"
            self.report(f"{recipe.name}: unpacking the base")
            _run(
                "umoci unpack", ["umoci", "unpack", "--image", f"{self.layout}:{base_tag}", str(bundle)], log
            )
            (rootfs / "usr/sbin/policy-rc.d").write_text(
                "#!/bin/sh\n# no daemons start in a build\nexit 101\n"
            )
            (rootfs / "usr/sbin/policy-rc.d").chmod(0o755)
            for dest, src in recipe.files.items():
                path = rootfs / dest
                path.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(FILES / src, path)
            binds = [(self.pip_cache, "/root/.cache/pip")]
            if recipe.with_source:
                binds.append((sources, "/src"))
            update = "" if self.lists_fresh else "apt-get update -q\n"
            script = (
                f"{update}apt-get install -y -q {' '.join(recipe.packages)}\n"
                f"{recipe.setup}\n{_BUILD_LEFTOVERS}"
            )
            self.report(f"{recipe.name}: installing {', '.join(recipe.packages)}")
            self._sandbox(rootfs, script, log, f"{recipe.name}: apt-get install and setup", binds)
            self.lists_fresh = True
            # Mount points bubblewrap created for the build's binds are no part of the image.
            for leftover in ("src", "root/.cache", "etc/resolv.conf"):
                path = rootfs / leftover
                if path.is_dir():
                    shutil.rmtree(path)
                elif path.exists():
                    path.unlink()
            self.report(f"{recipe.name}: writing its layer (umoci repack)")
            _run("umoci repack", [
                "umoci", "repack", "--image", f"{self.layout}:{tag}",
                "--history.created_by", f"trader images build {recipe.name}", str(bundle),
            ], log)  # fmt: skip
        _run(
            "umoci config", ["umoci", "config", "--image", f"{self.layout}:{tag}", *_config_args(recipe)], log
        )
        self.report(f"{recipe.name}: exporting the docker archive (skopeo)")
        partial = target.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        _run("skopeo copy", [
            "skopeo", "copy", "--quiet", f"oci:{self.layout}:{tag}",
            f"docker-archive:{partial}:{TAG_PREFIX}/{recipe.name}:{digest}",
        ], log)  # fmt: skip
        if recipe.config.get("Healthcheck"):
            # OCI image configs have no health check (a Docker extension): add it to the archive.
            archive.set_healthcheck(partial, recipe.config["Healthcheck"])
        partial.rename(target)
        # The archive is the product: drop the tag and its blobs, keep the base.
        _run("umoci rm", ["umoci", "rm", "--image", f"{self.layout}:{tag}"], log)
        _run("umoci gc", ["umoci", "gc", "--layout", str(self.layout)], log)


def _host_ca_bundle() -> str:
    return os.environ.get("SSL_CERT_FILE") or "/etc/ssl/certs/ca-certificates.crt"


def _config_args(recipe: Recipe) -> list[str]:
    config = recipe.config
    args = ["--clear=config.env", "--clear=config.entrypoint", "--clear=config.cmd"]
    args += [f"--config.env={e}" for e in config.get("Env", [])]
    args += [f"--config.entrypoint={a}" for a in config.get("Entrypoint") or []]
    args += [f"--config.cmd={a}" for a in config.get("Cmd") or []]
    args += [f"--config.exposedports={p}" for p in config.get("ExposedPorts", [])]
    args += [f"--config.volume={v}" for v in config.get("Volumes", [])]
    for key, flag in (("User", "user"), ("WorkingDir", "workingdir"), ("StopSignal", "stopsignal")):
        if config.get(key):
            args.append(f"--config.{flag}={config[key]}")
    return args


def _prune(home: Path, name: str, keep: Path) -> None:
    """Keep the newest other archive of an image (the one to roll back to), delete older ones."""
    ours = re.compile(rf"{re.escape(name)}-[0-9a-f]{{12}}")
    others = sorted(
        (p for p in home.glob(f"{name}-*.tar") if p != keep and ours.fullmatch(p.stem)),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for old in others[1:]:
        old.unlink()


def build(
    names: Iterable[str] | None = None, report: Callable[[str], None] = lambda _msg: None
) -> dict[str, BuiltImage]:
    """Build (or reuse) the named lab images, all of them by default; write `manifest.json`."""
    available = recipes()
    wanted = list(names) if names else list(available)
    unknown = [n for n in wanted if n not in available]
    if unknown:
        raise ImageError(f"unknown image {', '.join(unknown)}: choose from {', '.join(available)}")
    for tool, package in (("mmdebstrap", "mmdebstrap"), ("umoci", "umoci"), ("skopeo", "skopeo"),
                          ("bwrap", "bubblewrap")):  # fmt: skip
        _require(tool, package)
    if os.geteuid() != 0:
        raise ImageError("building images needs root (mmdebstrap --mode=root, umoci unpack, apt in bwrap)")
    home = images_home()
    home.mkdir(parents=True, exist_ok=True)
    built: dict[str, BuiltImage] = {}
    # One builder at a time (tests and the end-to-end lab may build at once); later ones reuse.
    with (home / ".lock").open("w") as lock, tempfile.TemporaryDirectory(dir=home) as sources:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _snapshot_sources(Path(sources))
        builder = _Builder(home, report)
        for name in wanted:
            recipe = available[name]
            digest = recipe_hash(recipe, Path(sources))
            target = home / f"{name}-{digest}.tar"
            cached = target.exists()
            if not cached:
                builder.image(builder.base(), recipe, digest, target, Path(sources))
                _prune(home, name, target)
            built[name] = BuiltImage(
                name, f"{TAG_PREFIX}/{name}:{digest}", target, target.stat().st_size, cached
            )
        manifest_path = home / "manifest.json"
        manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
        manifest = {k: v for k, v in manifest.items() if k in available and Path(v["archive"]).exists()}
        for image in built.values():
            manifest[image.name] = {"tag": image.tag, "archive": str(image.archive), "bytes": image.bytes}
        manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return built
