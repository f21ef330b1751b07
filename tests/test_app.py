"""Health endpoints, offline API docs, problem+json for unknown routes."""

from __future__ import annotations


async def test_health_live_and_ready(client):
    assert (await client.get("/health/live")).json() == {"status": "ok"}
    ready = await client.get("/health/ready")
    assert ready.status_code == 200 and ready.json()["database"] == "ok"


async def test_docs_render_from_packaged_assets(client):
    page = await client.get("/docs")
    assert page.status_code == 200
    assert "/static/swagger-ui/swagger-ui-bundle.js" in page.text
    assert "cdn" not in page.text.lower()
    js = await client.get("/static/swagger-ui/swagger-ui-bundle.js")
    assert js.status_code == 200 and len(js.content) > 100_000
    css = await client.get("/static/swagger-ui/swagger-ui.css")
    assert css.status_code == 200
    spec = await client.get("/openapi.json")
    assert "/api/v1/patients/search" in spec.json()["paths"]


async def test_unknown_route_is_problem_json(client):
    resp = await client.get("/api/v1/nothing-here")
    assert resp.status_code == 404
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert resp.json()["status"] == 404
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert resp.headers["x-request-id"]
