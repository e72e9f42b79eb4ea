"""The TLS expiry alert's data source: the committed blackbox module, run by the real blackbox
exporter against a local HTTPS server whose certificate expires in 10 days, scraped by the
committed `blackbox-tls` job, makes TraderTlsCertificateExpiringSoon pending."""

from __future__ import annotations

import http.server
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.monitoring.helpers import (
    MONITORING,
    Daemon,
    free_port,
    prometheus_config,
    prometheus_query,
    run_tool,
    start_prometheus,
    wait_until,
)

BLACKBOX_CONFIG = MONITORING / "blackbox" / "blackbox.yml"
CERT_DAYS = 10


def test_blackbox_exporter_accepts_the_committed_modules() -> None:
    result = run_tool("prometheus-blackbox-exporter", "--config.check", f"--config.file={BLACKBOX_CONFIG}")
    assert result.returncode == 0, f"{BLACKBOX_CONFIG} rejected:\n{result.stdout}{result.stderr}"


class _Healthz(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def https_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """An HTTPS endpoint on 127.0.0.1 with a self-signed certificate valid for CERT_DAYS days."""
    work = tmp_path_factory.mktemp("https")
    cert, key = work / "cert.pem", work / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", str(CERT_DAYS), "-subj",
         "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), _Healthz)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}/healthz", cert
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def probed(
    tmp_path_factory: pytest.TempPathFactory, https_url: tuple[str, Path]
) -> Iterator[tuple[str, str]]:
    url, cert = https_url
    work = tmp_path_factory.mktemp("blackbox")
    # The committed module, trusting the test certificate (the real one is publicly trusted).
    modules = yaml.safe_load(BLACKBOX_CONFIG.read_text())
    modules["modules"]["https_2xx"]["http"]["tls_config"] = {"ca_file": str(cert)}
    (work / "blackbox.yml").write_text(yaml.safe_dump(modules))
    blackbox_port, prometheus_port = free_port(), free_port()
    config = prometheus_config(work, {"blackbox-tls": f"127.0.0.1:{blackbox_port}"})
    (config.parent / "targets").mkdir()
    (config.parent / "targets" / "tls.yml").write_text(yaml.safe_dump([{"targets": [url]}]))
    daemons = [
        Daemon(
            "blackbox-exporter",
            [
                "prometheus-blackbox-exporter",
                f"--config.file={work / 'blackbox.yml'}",
                f"--web.listen-address=127.0.0.1:{blackbox_port}",
            ],
            work,
        ),
        start_prometheus(work, config, prometheus_port),
    ]
    prometheus = f"http://127.0.0.1:{prometheus_port}"
    try:
        daemons[0].wait_http(f"http://127.0.0.1:{blackbox_port}/metrics")
        daemons[1].wait_http(f"{prometheus}/-/ready")
        wait_until(
            lambda: prometheus_query(prometheus, 'probe_success{job="blackbox-tls"} == 1'),
            30,
            f"a successful probe of {url} (see blackbox-exporter.log in {work})",
        )
        yield prometheus, url
    finally:
        for daemon in daemons:
            daemon.stop()


def test_the_probe_reports_the_certificate_expiry(probed: tuple[str, str]) -> None:
    prometheus, url = probed
    result = prometheus_query(prometheus, 'probe_ssl_earliest_cert_expiry{job="blackbox-tls"} - time()')
    assert [r["metric"].get("instance") for r in result] == [url], f"expiry series: {result}"
    days_left = float(result[0]["value"][1]) / 86400
    assert CERT_DAYS - 1 < days_left <= CERT_DAYS, (
        f"probe says {days_left:.2f} days left, cert has {CERT_DAYS}"
    )


def test_a_certificate_expiring_in_10_days_makes_the_alert_pending(probed: tuple[str, str]) -> None:
    prometheus, url = probed

    def pending() -> list[dict]:
        return prometheus_query(prometheus, 'ALERTS{alertname="TraderTlsCertificateExpiringSoon"}')

    alerts = wait_until(pending, 20, "TraderTlsCertificateExpiringSoon to become pending")
    assert [(a["metric"]["instance"], a["metric"]["alertstate"]) for a in alerts] == [(url, "pending")], (
        f"want the alert pending (for: 1h) for {url}, got {alerts}"
    )
