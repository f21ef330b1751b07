"""Route matching that skips unreachable routers (hms.core.routing): every path of the
app, every method, and paths of no route resolve exactly as FastAPI resolves them
unguarded, and a router whose routes cannot match a path is not searched for it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.routing import _EffectiveRouteContext, _IncludedRouter
from starlette.routing import Match

import hms.main
from hms.core import routing

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _build(monkeypatch: pytest.MonkeyPatch, settings, *, guard: bool):
    with monkeypatch.context() as patch:
        if not guard:
            patch.setattr(hms.main, "skip_unreachable_routers", lambda app: 0)
        return hms.main.create_app(settings)


def _effective_paths(routes: list[Any]) -> list[str]:
    paths: list[str] = []
    for route in routes:
        if isinstance(route, _IncludedRouter):
            paths += _effective_paths(route.effective_candidates())
        elif isinstance(route, _EffectiveRouteContext) or hasattr(route, "path"):
            paths.append(route.path)
    return paths


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "0b5f0e2c-1d2e-4f00-9a00-000000000001", path)


def _resolve(app, path: str, method: str) -> tuple[Match, str | None, dict[str, Any]]:
    """What the app's router selects for ``method path``: the first full match, else the
    first partial one (Starlette's order), with the matched route's path and params."""
    scope = {"type": "http", "path": path, "root_path": "", "method": method,
             "headers": []}
    partial = None
    for node in app.router.routes:
        match, child = node.matches(scope)
        if match is Match.NONE:
            continue
        if isinstance(node, _IncludedRouter):
            match, child, route, _ = node._match(scope)
        else:
            route = node
        found = (match, getattr(route, "path", None), child.get("path_params", {}))
        if match is Match.FULL:
            return found
        partial = partial or found
    return partial or (Match.NONE, None, {})


def test_every_path_resolves_as_unguarded(monkeypatch, settings):
    plain = _build(monkeypatch, settings, guard=False)
    guarded = _build(monkeypatch, settings, guard=True)
    # The comparison is between two different route tables (a check on every router node
    # of one, none on the other).
    nodes = [(p, g) for p, g in zip(plain.router.routes, guarded.router.routes, strict=True)
             if isinstance(g, _IncludedRouter)]
    assert nodes and all("matches" not in vars(p) and "matches" in vars(g) for p, g in nodes)
    paths = sorted({_concrete(p) for p in _effective_paths(plain.router.routes)})
    assert len(paths) > 80  # the whole table (89 distinct paths on 2026-12-07)
    # Trailing slashes (the redirect), unknown paths and near misses of real prefixes.
    extra = [p + "/" for p in paths] + [
        "/", "/api", "/api/v1", "/api/v1/", "/api/v1/nothing-here", "/api/v1/patient",
        "/api/v1/patientsx", "/api/v1/auth", "/fhir", "/fhir/R4/Nothing/1"]
    compared = 0
    for path in paths + extra:
        for method in METHODS:
            assert _resolve(guarded, path, method) == _resolve(plain, path, method), (
                method, path)
            compared += 1
    full = [p for p in paths if _resolve(guarded, p, "GET")[0] is Match.FULL]
    assert len(full) > 60 and compared == len(paths + extra) * len(METHODS)


def test_routers_that_cannot_match_are_not_searched(monkeypatch, settings):
    app = _build(monkeypatch, settings, guard=True)
    searched: list[str] = []
    for node in app.router.routes:
        if isinstance(node, _IncludedRouter):
            prefixes = routing.literal_prefixes(node)
            inner = node._match

            def counting(scope, inner=inner, prefixes=prefixes):
                searched.append(prefixes[0])
                return inner(scope)

            node._match = counting
    match, route, params = _resolve(app, "/api/v1/patients/PT-20250101-0001", "GET")
    assert (match, route, params) == (Match.FULL, "/api/v1/patients/{patient_ssn}",
                                      {"patient_ssn": "PT-20250101-0001"})
    # Only the patients router is searched (once to match, once to select): not the
    # authentication, administration and organisation routers mounted before it.
    assert searched and all(p.startswith("/api/v1/patients") for p in searched)


def test_literal_prefixes_of_a_router(monkeypatch, settings):
    app = _build(monkeypatch, settings, guard=True)
    found = [routing.literal_prefixes(node) for node in app.router.routes
             if isinstance(node, _IncludedRouter)]
    assert None not in found
    auth = next(p for p in found if "/api/v1/auth/login" in p)
    assert all(p.startswith("/api/v1/auth/") for p in auth)
    # "/api/v1/auth/sessions/{session_id}" adds nothing to "/api/v1/auth/sessions".
    assert "/api/v1/auth/sessions" in auth and "/api/v1/auth/sessions/" not in auth
    # A router of several resources keeps a start per resource.
    organization = next(p for p in found if "/api/v1/departments" in p)
    assert set(organization) == {"/api/v1/departments", "/api/v1/insurance-providers"}
