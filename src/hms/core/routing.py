"""Route matching that skips the routers a request's path cannot reach.

Since FastAPI 0.137 ``include_router`` keeps each included router as one node of the app's
route table (``fastapi.routing._IncludedRouter``), and the app matches a request by asking
each node in turn, which tries every route of its router (a regular expression each)
without first checking that the path could be under that router at all. A request to a
late router paid for every route of every router before it: routing was 9-13% of a patient
read's Python time (py-spy, 2026-12-07; 18 included routers, 142 routes). With the check,
resolving a patient read's path takes 10.7 us instead of 51.2, a nursing assessment's 18.4
instead of 146.8, an audit or FHIR path about 9 instead of 175 (``process_time`` over
20,000 resolutions each). FastAPI pull request #16159 (open) proposes the same check
upstream for include prefixes; hms's routers carry their prefix on the router itself, so
the check here is made from the routes' full paths.

A route's path pattern only matches paths that start with its literal part (the text
before its first ``{param}``: Starlette compiles the rest to a regular expression anchored
at both ends, with the literal parts escaped), so a router none of whose routes' literal
parts starts the path can match neither fully nor partly (a wrong method is a partial
match, and needs the path to match too). Skipping it changes no answer, 404 and 405 and
the trailing-slash redirect included.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.routing import _EffectiveRouteContext, _IncludedRouter
from starlette._utils import get_route_path
from starlette.routing import Match
from starlette.types import Scope

Matcher = Callable[[Scope], tuple[Match, Scope]]


def literal_prefixes(included: _IncludedRouter) -> tuple[str, ...] | None:
    """The literal starts of the full paths of every route under ``included`` (nested
    routers included), shortest first and none starting with another; None when some
    route has no path to read (then the router is always asked)."""
    starts: set[str] = set()
    for candidate in included.effective_candidates():
        if isinstance(candidate, _IncludedRouter):
            nested = literal_prefixes(candidate)
            if nested is None:
                return None
            starts.update(nested)
        elif isinstance(candidate, _EffectiveRouteContext) and isinstance(
                candidate.path, str):
            starts.add(candidate.path.split("{", 1)[0])
        else:
            return None
    kept: list[str] = []
    for start in sorted(starts, key=len):
        if not any(start.startswith(shorter) for shorter in kept):
            kept.append(start)
    return tuple(kept)


def _guarded(matches: Matcher, prefixes: tuple[str, ...]) -> Matcher:
    def guarded_matches(scope: Scope) -> tuple[Match, Scope]:
        if not get_route_path(scope).startswith(prefixes):
            return Match.NONE, {}
        return matches(scope)

    return guarded_matches


def skip_unreachable_routers(app: FastAPI) -> int:
    """Make every included router of ``app`` (nested ones too) answer "no match" at once
    to a path none of its routes can match, without trying its routes. Call after the
    last ``include_router``; routes added to a router later must be added before this.

    Returns how many routers were guarded (a router with a route of no readable path is
    left as it is)."""
    guarded = 0
    pending: list[Any] = list(app.router.routes)
    while pending:
        route = pending.pop()
        if not isinstance(route, _IncludedRouter):
            continue
        pending.extend(route.effective_candidates())
        prefixes = literal_prefixes(route)
        if prefixes is None:
            continue
        # An instance attribute: FastAPI calls ``route.matches(scope)`` on the node.
        route.matches = _guarded(route.matches, prefixes)  # type: ignore[method-assign,assignment]
        guarded += 1
    return guarded
