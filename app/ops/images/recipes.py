"""What goes into each lab image: one shared Debian 13 base, then one layer per image made of
Debian packages, a setup script and files, with the runtime config of the official image it
stands in for (entrypoint = the binary, same ports, user and data paths).

Every field of a recipe is part of its hash (see build.py): change anything here and the image is
rebuilt; change nothing and the cached archive is reused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from app.ops.images.dockerfile import DEFAULT_PATH, runtime_contract
from app.ops.lab.image import MIRROR, SECURITY_MIRROR

FILES = Path(__file__).parent / "files"
TAG_PREFIX = "solo-trader-lab"
PG_MAJOR = "17"

BASE: dict = {
    "suite": "trixie",
    "variant": "minbase",
    "sources": [
        f"deb {MIRROR} trixie main",
        f"deb {MIRROR} trixie-updates main",
        f"deb {SECURITY_MIRROR} trixie-security main",
    ],
    # Kept in the base's /etc so the per-image apt runs obey them too: no recommends, and no
    # manuals, docs (copyright files stay) or translations, as in Docker's slim Debian images.
    "aptopts": ['APT::Install-Recommends "false"'],
    "dpkgopts": [
        "path-exclude=/usr/share/man/*",
        "path-exclude=/usr/share/doc/*",
        "path-include=/usr/share/doc/*/copyright",
        "path-exclude=/usr/share/locale/*",
        "path-exclude=/usr/share/info/*",
    ],
    # The engine provides these at run time; the build host's copies must not ship.
    "hooks": ['rm -f "$1/etc/resolv.conf" "$1/etc/hostname"'],
}

# The official Prometheus-family and Caddy images are busybox/Alpine based, so health checks
# written for them call `wget`; busybox's keeps those checks working against the lab images.
_WGET = "ln -s /bin/busybox /usr/local/bin/wget"


@dataclass(frozen=True)
class Recipe:
    name: str
    packages: tuple[str, ...]
    # Docker image config fields (User, Env, Entrypoint, Cmd, WorkingDir, ExposedPorts, Volumes,
    # StopSignal, Healthcheck), as `docker inspect` shows them under .Config.
    config: dict
    # Shell run as root in the image after the packages are installed.
    setup: str = ""
    # Path in the image -> file under files/, written before the packages are installed.
    files: dict[str, str] = field(default_factory=dict)
    # Installs this repository (copied to /src during the build); its sources join the hash.
    with_source: bool = False

    @property
    def exposed_ports(self) -> list[str]:
        return self.config.get("ExposedPorts", [])


def _env(path: str = DEFAULT_PATH, **extra: str) -> list[str]:
    return [f"{k}={v}" for k, v in {"PATH": path, "LANG": "C.UTF-8", **extra}.items()]


def _app() -> Recipe:
    contract = runtime_contract()
    env = {"PATH": DEFAULT_PATH, "LANG": "C.UTF-8", **contract.env}
    config = {
        "User": contract.user,
        "WorkingDir": contract.workdir,
        "Env": [f"{k}={v}" for k, v in env.items()],
        "ExposedPorts": contract.exposed_ports,
        "Entrypoint": contract.entrypoint,
        "Cmd": contract.cmd,
        "Healthcheck": contract.healthcheck,
        "StopSignal": contract.stopsignal,
    }
    uid, _, gid = contract.user.partition(":")
    # Not shipped: pip (nothing installs at run time) and numpy's and pandas' own test suites,
    # 4,200 of the layer's 12,400 files and a quarter of its bytes, which `docker load` unpacks
    # and hashes on every host. Bytecode is checked by hash, not by the source's mtime: umoci's
    # layer rounds mtimes to the second while a .pyc records them truncated, so pip's .pyc files
    # went stale (172 of the modules app.main imports) and every start compiled them again
    # (docs/images.md). The layer never changes, hence unchecked.
    setup = f"""
groupadd --system --gid {gid or uid} trader
useradd --system --uid {uid} --gid {gid or uid} --home-dir {contract.workdir} --shell /usr/sbin/nologin trader
mkdir -p {contract.workdir} && chown {uid}:{gid or uid} {contract.workdir}
python3 -m venv /opt/venv
/opt/venv/bin/pip install --disable-pip-version-check --quiet --no-compile /src
/opt/venv/bin/pip uninstall --yes --quiet pip
find /opt/venv/lib/python3*/site-packages/numpy /opt/venv/lib/python3*/site-packages/pandas \\
  -depth -type d -name tests -exec rm -r {{}} +
/opt/venv/bin/python -m compileall -q -j 0 --invalidation-mode unchecked-hash /opt/venv/lib
"""
    return Recipe(
        "app", ("python3", "python3-venv", "ca-certificates"), config, setup=setup, with_source=True
    )


def _db() -> Recipe:
    pgdata = "/var/lib/postgresql/data"
    sample = f"/usr/share/postgresql/{PG_MAJOR}/postgresql.conf.sample"
    # As the official image does: initdb copies the sample, so every new cluster listens on all
    # interfaces of the container; the grep fails the build if the sed stops matching.
    setup = f"""
sed -ri "s!^#?(listen_addresses)\\s*=\\s*\\S+.*!\\1 = '*'!" {sample}
grep -q "^listen_addresses = '\\*'" {sample}
mkdir -p /docker-entrypoint-initdb.d {pgdata} /var/run/postgresql
chown postgres:postgres {pgdata} /var/run/postgresql
chmod 3777 /var/run/postgresql
"""
    config = {
        # The official image puts the server binaries on PATH too (postgres, initdb, pg_ctl).
        "Env": _env(f"{DEFAULT_PATH}:/usr/lib/postgresql/{PG_MAJOR}/bin", PG_MAJOR=PG_MAJOR, PGDATA=pgdata),
        "Entrypoint": ["docker-entrypoint.sh"],
        "Cmd": ["postgres"],
        "ExposedPorts": ["5432/tcp"],
        "Volumes": [pgdata],
        "StopSignal": "SIGINT",
    }
    return Recipe(
        "db",
        (f"postgresql-{PG_MAJOR}",),
        config,
        setup=setup,
        files={
            "etc/postgresql-common/createcluster.d/no-main-cluster.conf": "no-main-cluster.conf",
            "usr/local/bin/docker-entrypoint.sh": "db-entrypoint.sh",
        },
    )


def _exporter(name: str, package: str, binary: str, port: int, cmd: list[str], data: str = "") -> Recipe:
    """A Prometheus-family image: the official one's /bin/<binary> entrypoint, as `nobody`."""
    setup = [_WGET]
    if binary != package:
        setup.append(f"ln -s {package} /usr/bin/{binary}")
    if data:
        setup.append(f"mkdir -p {data} && chown nobody:nogroup {data}")
    config = {
        "User": "nobody",
        "Env": _env(),
        "Entrypoint": [f"/bin/{binary}"],
        "Cmd": cmd,
        "ExposedPorts": [f"{port}/tcp"],
        "WorkingDir": data,
        "Volumes": [data] if data else [],
    }
    return Recipe(name, (package, "busybox"), config, setup="\n".join(setup))


def _alertmanager() -> Recipe:
    recipe = _exporter(
        "alertmanager",
        "prometheus-alertmanager",
        "alertmanager",
        9093,
        ["--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager"],
        data="/alertmanager",
    )
    # The official image reads /etc/alertmanager/; Debian keeps the default under /etc/prometheus/.
    setup = recipe.setup + "\nmkdir -p /etc/alertmanager\n"
    setup += "cp /etc/prometheus/alertmanager.yml /etc/alertmanager/alertmanager.yml"
    return Recipe(recipe.name, recipe.packages, recipe.config, setup=setup)


def _caddy() -> Recipe:
    config = {
        "Env": _env(XDG_CONFIG_HOME="/config", XDG_DATA_HOME="/data"),
        "Cmd": ["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"],
        "ExposedPorts": ["80/tcp", "443/tcp", "443/udp", "2019/tcp"],
        "WorkingDir": "/srv",
        "Volumes": ["/config", "/data"],
    }
    return Recipe(
        "caddy", ("caddy", "busybox"), config, setup=f"mkdir -p /config/caddy /data/caddy /srv\n{_WGET}"
    )


def recipes() -> dict[str, Recipe]:
    """Every lab image by name, in build order."""
    all_recipes = [
        _app(),
        _db(),
        _exporter(
            "prometheus",
            "prometheus",
            "prometheus",
            9090,
            ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"],
            data="/prometheus",
        ),
        _alertmanager(),
        _exporter("node-exporter", "prometheus-node-exporter", "node_exporter", 9100, []),
        _exporter("postgres-exporter", "prometheus-postgres-exporter", "postgres_exporter", 9187, []),
        _caddy(),
    ]
    return {r.name: r for r in all_recipes}
