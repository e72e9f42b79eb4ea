"""Bearer-token guard on every /api/v1 route but health; start-up refuses to run without a token."""

import httpx
import pytest

from app.core.config import SettingsError, load_settings
from app.main import create_app
from tests.api.conftest import Service, running, settings_for
from tests.api.factories import TOKEN


def guarded_routes(service: Service) -> list[tuple[str, str]]:
    schema = service.app.openapi()
    return [
        (method.upper(), path)
        for path, ops in schema["paths"].items()
        if path.startswith("/api/v1/") and path != "/api/v1/diag/health"
        for method in ops
    ]


async def test_every_api_route_but_health_needs_the_token(service: Service) -> None:
    routes = guarded_routes(service)
    assert len(routes) >= 6, f"expected the storage routes at least, found {routes}"
    for method, path in routes:
        for headers in ({}, {"Authorization": "Bearer wrong-token-of-some-length"}, {"Authorization": TOKEN}):
            r = await service.anonymous.request(method, path, headers=headers, json={})
            assert r.status_code == 401, f"{method} {path} with {headers or 'no header'} -> {r.status_code}"
            assert r.headers.get("WWW-Authenticate") == "Bearer", f"{method} {path}: no WWW-Authenticate"


async def test_health_and_metrics_need_no_token(service: Service) -> None:
    assert (await service.anonymous.get("/api/v1/diag/health")).status_code == 200
    assert (await service.anonymous.get("/metrics")).status_code == 200


async def test_the_right_token_passes(service: Service) -> None:
    r = await service.anonymous.get("/api/v1/trades", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200, r.text


def test_settings_refuse_a_missing_token_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("API_TOKEN", raising=False)
    monkeypatch.delenv("TRADER_DEV_ALLOW_NO_TOKEN", raising=False)
    with pytest.raises(SettingsError, match="API_TOKEN is not set"):
        load_settings()


async def test_start_up_fails_without_a_token(monkeypatch: pytest.MonkeyPatch, pg_url: str) -> None:
    """`uvicorn app.main:app` loads settings in the lifespan: a missing token stops start-up."""
    monkeypatch.delenv("API_TOKEN", raising=False)
    monkeypatch.delenv("TRADER_DEV_ALLOW_NO_TOKEN", raising=False)
    monkeypatch.setenv("DATABASE_URL", pg_url)
    app = create_app()
    with pytest.raises(SettingsError, match="API_TOKEN"):
        async with app.router.lifespan_context(app):
            pass


async def test_the_dev_flag_runs_without_a_token(pg_url: str) -> None:
    settings = load_settings(database_url=pg_url, api_token=None, TRADER_DEV_ALLOW_NO_TOKEN=True)
    async with running(settings) as svc:
        assert (await svc.anonymous.get("/api/v1/trades")).status_code == 200, "dev mode is open"


async def test_settings_from_the_environment_start_the_service(
    monkeypatch: pytest.MonkeyPatch, pg_url: str
) -> None:
    monkeypatch.setenv("API_TOKEN", TOKEN)
    monkeypatch.setenv("DATABASE_URL", pg_url)
    app = create_app()
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as c:
            r = await c.get("/api/v1/trades", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200, r.text
    assert app.state.settings.database_url == pg_url


def test_settings_for_is_strict() -> None:
    with pytest.raises(SettingsError, match="DATABASE_URL"):
        settings_for("mysql://nope")
