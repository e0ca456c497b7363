"""One module per platform: how its deliveries read as entry changes. `INTERPRETERS` maps source names to
them; every one raises `PayloadError` naming the field when the body is not what the platform sends."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from freshrag.webhooks.config import WebhookSource
from freshrag.webhooks.model import Delivery, Interpretation
from freshrag.webhooks.platforms import (
    contentful,
    directus,
    generic,
    ghost,
    github,
    sanity,
    strapi,
    wordpress,
)

Interpreter = Callable[[Delivery, Any, WebhookSource], Interpretation]

INTERPRETERS: dict[str, Interpreter] = {
    "generic": generic.interpret,
    "strapi": strapi.interpret,
    "contentful": contentful.interpret,
    "sanity": sanity.interpret,
    "ghost": ghost.interpret,
    "wordpress": wordpress.interpret,
    "directus": directus.interpret,
    "github": github.interpret,
}
