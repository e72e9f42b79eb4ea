"""The stack's estimated monthly cost, from the price table kept next to the program
(`prices.toml`, which states the date its prices were taken)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from infra.config import InfraConfig

PRICE_FILE = Path(__file__).with_name("prices.toml")


@dataclass(frozen=True)
class Prices:
    as_of: str
    source: str
    currency: str
    backup_fraction: float
    volume_per_gib: float
    spaces: float
    reserved_ip: float
    droplets: dict[str, float]
    managed_postgres: dict[str, float]


def load_prices(path: Path = PRICE_FILE) -> Prices:
    data = tomllib.loads(path.read_text())
    return Prices(**data)


PRICES = load_prices()


def estimate(cfg: InfraConfig, prices: Prices = PRICES) -> dict:
    """Line items and total in the table's currency; every size the config accepts is priced,
    because config validation only allows sizes present in the table."""
    droplet = prices.droplets[cfg.droplet_size]
    items = {
        f"droplet {cfg.droplet_size}": droplet,
        f"volume {cfg.volume_size_gb} GiB": round(cfg.volume_size_gb * prices.volume_per_gib, 2),
        "spaces subscription": prices.spaces,
        "reserved ip (assigned)": prices.reserved_ip,
    }
    if cfg.backups:
        items["droplet backups (weekly)"] = round(droplet * prices.backup_fraction, 2)
    if cfg.database == "managed":
        node = prices.managed_postgres[cfg.database_size]
        items[f"managed postgres {cfg.database_nodes} x {cfg.database_size}"] = node * cfg.database_nodes
    return {
        "currency": prices.currency,
        "prices_as_of": prices.as_of,
        "source": prices.source,
        "items": items,
        "total": round(sum(items.values()), 2),
    }
