"""The archives are what `docker load` reads (docker-archive format): checked member by member,
digest by digest, since no engine runs on this host (the VM's Docker loads them in tests/lab)."""

from __future__ import annotations

import hashlib
import json
import tarfile

import pytest

from app.ops.images import BuiltImage, build, images_home
from app.ops.images.archive import member_sha256, read
from app.ops.images.build import recipe_hash
from app.ops.images.recipes import TAG_PREFIX, recipes

NAMES = list(recipes())


@pytest.mark.parametrize("name", NAMES)
def test_archive_follows_the_docker_archive_layout(built_images: dict[str, BuiltImage], name: str) -> None:
    image = built_images[name]
    entry = read(image.archive).manifest
    assert entry["RepoTags"] in ([image.tag], [f"docker.io/{image.tag}"]), (
        f"{name}: RepoTags {entry['RepoTags']}"
    )
    with tarfile.open(image.archive) as tar:
        config_bytes = tar.extractfile(entry["Config"]).read()  # type: ignore[union-attr]
    assert entry["Config"] == hashlib.sha256(config_bytes).hexdigest() + ".json", (
        f"{name}: config file is not named by its sha256 (the image ID docker load computes)"
    )
    config = json.loads(config_bytes)
    assert config["os"] == "linux" and config["architecture"] == "amd64", f"{name}: platform {config}"
    diff_ids = config["rootfs"]["diff_ids"]
    assert len(entry["Layers"]) == len(diff_ids) == 2, f"{name}: expected base + one layer, got {diff_ids}"
    for layer, diff_id in zip(entry["Layers"], diff_ids, strict=True):
        assert f"sha256:{member_sha256(image.archive, layer)}" == diff_id, (
            f"{name}: layer {layer} does not hash to its diff_id {diff_id}"
        )
    layer_history = [h for h in config["history"] if not h.get("empty_layer")]
    assert len(layer_history) == len(diff_ids), f"{name}: history does not describe every layer"


def test_every_image_shares_one_base_layer(built_images: dict[str, BuiltImage]) -> None:
    bases = {name: read(img.archive).config["rootfs"]["diff_ids"][0] for name, img in built_images.items()}
    assert len(set(bases.values())) == 1, f"base layers differ between images: {bases}"
    tops = {name: read(img.archive).config["rootfs"]["diff_ids"][1] for name, img in built_images.items()}
    assert len(set(tops.values())) == len(tops), f"two images have the same top layer: {tops}"


def test_manifest_names_every_archive_with_its_tag_and_size(built_images: dict[str, BuiltImage]) -> None:
    manifest = json.loads((images_home() / "manifest.json").read_text())
    for name, image in built_images.items():
        entry = manifest.get(name)
        assert entry is not None, f"manifest.json has no entry for {name}"
        assert entry["tag"] == image.tag and entry["tag"].startswith(f"{TAG_PREFIX}/{name}:"), (
            f"{name}: {entry}"
        )
        assert entry["archive"] == str(image.archive) and image.archive.is_absolute(), f"{name}: {entry}"
        assert entry["bytes"] == image.archive.stat().st_size, f"{name}: bytes {entry['bytes']} != file size"


def test_unchanged_recipes_are_not_rebuilt(built_images: dict[str, BuiltImage]) -> None:
    # Another change to the repository since the session's build legitimately rebuilds `app`
    # (its hash covers the sources): only recipes whose hash is unchanged must come from the cache.
    unchanged = [n for n, img in built_images.items() if img.tag.endswith(f":{recipe_hash(recipes()[n])}")]
    assert set(built_images) - {"app"} <= set(unchanged), f"non-app recipes changed mid-session: {unchanged}"
    mtimes = {name: built_images[name].archive.stat().st_mtime_ns for name in unchanged}
    again = build(unchanged)
    rebuilt = [n for n, img in again.items() if not img.cached or img.archive != built_images[n].archive]
    assert not rebuilt, f"rebuilt although the recipe did not change: {rebuilt}"
    touched = [n for n, img in again.items() if img.archive.stat().st_mtime_ns != mtimes[n]]
    assert not touched, f"archives rewritten on a cached build: {touched}"
