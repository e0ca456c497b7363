"""Which route answers a question: the one the caller names, else the router's first matching rule, else
the configured default; `auto` means hybrid once a fine-tuned answer-style model is live, rag before."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from freshrag.answers.model import AskRequest, Route
from freshrag.settings import RouteRule

AUTO = "auto"


class UnknownRouteError(ValueError):
    """A route a caller asked for that does not exist; the message names the field `route`."""


@dataclass(frozen=True)
class Chosen:
    route: Route
    rule: int | None  # the router rule that chose it


def parse_route(value: str | None) -> Route | None:
    """`value` as a route, None for auto; raises `UnknownRouteError` naming the field `route`."""
    if value is None or value.strip().lower() == AUTO:
        return None
    try:
        return Route(value.strip().lower())
    except ValueError:
        names = [AUTO, *(route.value for route in Route)]
        raise UnknownRouteError(f"route: {value[:40]!r} is not a route; use one of {names}") from None


def matching_rule(rules: Sequence[RouteRule], request: AskRequest) -> int | None:
    """The index of the first rule whose pattern is found in the question and whose filter fields the
    request's filter all has."""
    for index, rule in enumerate(rules):
        if rule.pattern is not None and re.search(rule.pattern, request.question) is None:
            continue
        if rule.filter and any((request.filter or {}).get(k) != v for k, v in rule.filter.items()):
            continue
        return index
    return None


def choose_route(
    request: AskRequest, default: str, rules: Sequence[RouteRule], fine_tuned_live: bool
) -> Chosen:
    """The route of `request`. Hybrid needs a live fine-tuned answer model: without one it is rag."""
    asked = parse_route(request.route)
    rule = None
    if asked is None:
        rule = matching_rule(rules, request)
        asked = Route(rules[rule].route) if rule is not None else parse_route(default)
    if asked is None:
        asked = Route.HYBRID if fine_tuned_live else Route.RAG
    if asked is Route.HYBRID and not fine_tuned_live:
        asked = Route.RAG
    return Chosen(asked, rule)
