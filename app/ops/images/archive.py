"""Reading and amending docker-archive files (what `docker save` writes and `docker load` reads):
a tar holding `manifest.json` (per image: Config, RepoTags, Layers), the image config as
`<sha256>.json` and each layer as an uncompressed tar whose sha256 is its diff_id in the config.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"


@dataclass
class ArchiveImage:
    manifest: dict  # the archive's one manifest.json entry
    config: dict  # the image config (`docker inspect`'s .Config is config["config"])


def read(path: Path) -> ArchiveImage:
    """The manifest entry and config of a single-image docker-archive."""
    with tarfile.open(path) as tar:
        entries = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
        if len(entries) != 1:
            raise ValueError(f"{path}: manifest.json lists {len(entries)} images, expected 1")
        config = json.load(tar.extractfile(entries[0]["Config"]))  # type: ignore[arg-type]
    return ArchiveImage(entries[0], config)


def member_sha256(path: Path, member: str) -> str:
    sha = hashlib.sha256()
    with tarfile.open(path) as tar:
        stream = tar.extractfile(member)
        if stream is None:
            raise ValueError(f"{path}: {member} is not a regular file")
        while chunk := stream.read(1 << 20):
            sha.update(chunk)
    return sha.hexdigest()


def set_healthcheck(path: Path, healthcheck: dict) -> None:
    """Add Docker's Healthcheck to the archive's image config, renaming the config to its new
    digest (the image ID `docker load` computes) and rewriting manifest.json to point at it."""
    image = read(path)
    image.config.setdefault("config", {})["Healthcheck"] = healthcheck
    config_bytes = json.dumps(image.config, separators=(",", ":")).encode()
    config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
    old_name = image.manifest["Config"]
    manifest_bytes = json.dumps([{**image.manifest, "Config": config_name}]).encode()
    rewritten = path.with_suffix(".rewrite")
    with tarfile.open(path) as src, tarfile.open(rewritten, "w") as dst:
        for member in src:
            if member.name in (old_name, "manifest.json"):
                continue
            dst.addfile(member, src.extractfile(member) if member.isfile() else None)
        for name, data in ((config_name, config_bytes), ("manifest.json", manifest_bytes)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            dst.addfile(info, io.BytesIO(data))
    rewritten.replace(path)


def unpack(path: Path, dest: Path) -> None:
    """Apply the archive's layers in order onto `dest`, as the engine does (whiteouts delete),
    keeping owners, modes and device nodes (needs root)."""
    image = read(path)
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path) as outer, tempfile.TemporaryDirectory() as tmp:
        for layer in image.manifest["Layers"]:
            layer_tar = Path(tmp) / "layer.tar"
            with outer.extractfile(layer) as stream, layer_tar.open("wb") as out:  # type: ignore[union-attr]
                shutil.copyfileobj(stream, out)
            with tarfile.open(layer_tar) as tar:
                members = []
                for member in tar:
                    rel = PurePosixPath(member.name)
                    if rel.name == OPAQUE:
                        _clear(dest / rel.parent)
                    elif rel.name.startswith(WHITEOUT):
                        _remove(dest / rel.parent / rel.name[len(WHITEOUT) :])
                    else:
                        members.append(member)
                # Our own archive, unpacked as an engine would: device nodes, setuid bits and all.
                tar.extractall(dest, members=members, numeric_owner=True, filter="fully_trusted")  # noqa: S202


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _clear(directory: Path) -> None:
    if directory.is_dir():
        for child in directory.iterdir():
            _remove(child)
