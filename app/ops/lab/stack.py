"""The stack role's variables for the lab: 5A's image archives instead of registry images, no
Grafana (no image can be built here), and the lab's Discord-compatible receiver."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# `trader images build` names -> the stack role's service keys (stack_images in its defaults).
SERVICE_KEYS = {
    "app": "app",
    "db": "db",
    "prometheus": "prometheus",
    "alertmanager": "alertmanager",
    "node-exporter": "node_exporter",
    "postgres-exporter": "postgres_exporter",
    "caddy": "caddy",
}
GRAFANA_NOTE = "Grafana is left out of the lab: no Grafana image can be built here (production runs it)."


def _check_complete(images: Mapping[str, Any]) -> None:
    missing = sorted(set(SERVICE_KEYS) - set(images))
    if missing:
        raise ValueError(f"lab images missing: {', '.join(missing)}: run `trader images build`")


def image_archives(images: Mapping[str, Any]) -> dict[str, Path]:
    """The archive of each service's image, from `app.ops.images.build()`'s result (name -> BuiltImage)."""
    _check_complete(images)
    return {SERVICE_KEYS[name]: Path(images[name].archive) for name in SERVICE_KEYS}


def stack_vars(
    images: Mapping[str, Any], archive_urls: Mapping[str, str], discord_webhook_url: str = ""
) -> dict[str, Any]:
    """Extra vars for stack.yml: the built images' tags, and where the guest downloads each archive
    (`archives.serve_archives` over image_archives(images))."""
    _check_complete(images)
    return {
        "stack_images": {SERVICE_KEYS[name]: images[name].tag for name in SERVICE_KEYS},
        "stack_image_archives": dict(archive_urls),
        "stack_grafana_enabled": False,
        "stack_discord_webhook_url": discord_webhook_url,
    }


def write_stack_vars(variables: Mapping[str, Any], path: Path) -> Path:
    """0600: the webhook URL is a secret."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(json.dumps(variables, indent=2))
    return path
