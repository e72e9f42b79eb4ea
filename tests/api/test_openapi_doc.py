"""The OpenAPI document is complete: every operation summarised, bodies with examples, errors
documented, the bearer scheme declared."""

from app.main import create_app

SCHEMA = create_app().openapi()


def operations() -> list[tuple[str, str, dict]]:
    return [(method.upper(), path, op) for path, ops in SCHEMA["paths"].items() for method, op in ops.items()]


def resolve(ref: str) -> dict:
    return SCHEMA["components"]["schemas"][ref.rsplit("/", 1)[-1]]


def test_every_operation_has_a_summary_and_a_tag() -> None:
    for method, path, op in operations():
        assert op.get("summary") and op.get("tags"), f"{method} {path} lacks a summary or tag"


def test_every_request_body_model_has_an_example() -> None:
    for method, path, op in operations():
        media = op.get("requestBody", {}).get("content", {}).get("application/json", {})
        body = media.get("schema")
        if body is None:
            continue
        if media.get("examples"):  # examples on the body itself (one per variant) are enough
            continue
        refs = [s["$ref"] for s in body.get("oneOf", [body]) if "$ref" in s]
        refs += [s["items"]["$ref"] for s in body.get("oneOf", []) if "$ref" in s.get("items", {})]
        for ref in refs or [body.get("$ref")]:
            assert ref and resolve(ref).get("examples"), f"{method} {path}: body {ref} has no example"


def test_guarded_operations_document_401_and_503_and_use_the_bearer_scheme() -> None:
    assert SCHEMA["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    for method, path, op in operations():
        if not path.startswith("/api/v1/") or path == "/api/v1/diag/health":
            continue
        assert {"401", "503"} <= set(op["responses"]), f"{method} {path} documents {sorted(op['responses'])}"
        assert op.get("security") == [{"HTTPBearer": []}], (
            f"{method} {path} does not declare the bearer scheme"
        )


def test_storage_posts_document_the_idempotency_header() -> None:
    for table in ("trades", "features", "logs"):
        op = SCHEMA["paths"][f"/api/v1/{table}"]["post"]
        names = {p["name"] for p in op["parameters"] if p["in"] == "header"}
        assert "Idempotency-Key" in names, f"POST /api/v1/{table} headers: {names}"
