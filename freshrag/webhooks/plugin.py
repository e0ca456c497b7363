"""What a CMS platform is to freshrag: one `Platform` per module of `freshrag.webhooks.platforms`.

A platform says everything that differs between CMSs: the setting that holds its secret, how a delivery is
verified and named (for replay protection), how its body reads as entry changes, which request content
types it sends, and, for entries fetched from the CMS, whether what came back is published. The registry
(`freshrag.webhooks.platforms`) finds every module's `PLATFORM`, so adding a CMS is one new module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from freshrag.webhook_settings import WebhookSource
from freshrag.webhooks.model import Delivery, Interpretation

JSON = "application/json"
Interpreter = Callable[[Delivery, Any, WebhookSource], Interpretation]
# (delivery, secret, now, tolerance): raises `SignatureError` naming the header at fault.
Verifier = Callable[[Delivery, str, float, float], None]


def no_delivery_id(_delivery: Delivery) -> str | None:
    """For platforms that give no way to tell a retry from a new delivery."""
    return None


def always_published(_fields: Mapping[str, Any], _config: WebhookSource) -> bool:
    """For platforms whose fetched entries carry no publication state: what the CMS serves is published."""
    return True


@dataclass(frozen=True)
class Platform:
    """One CMS (or protocol) that posts to `/webhooks/<name>`.

    Its secret, the setting `FRESHRAG_WEBHOOK_SECRET_<NAME>`, is named in
    `freshrag.webhook_settings.SECRETS` (with the check that stops start-up on one it could never verify
    with); `secret_warning` returns a warning for one that is valid but probably not what the operator
    meant. `media_types` are the request content types accepted besides JSON (`application/json` and
    `*+json`). `published` tells whether the fields fetched from the CMS (see `fetch_url`) are of a
    published entry; an unpublished one leaves search."""

    name: str
    verify: Verifier
    interpret: Interpreter
    delivery_id: Callable[[Delivery], str | None] = no_delivery_id
    secret_warning: Callable[[str], str | None] | None = None
    media_types: tuple[str, ...] = ()
    published: Callable[[Mapping[str, Any], WebhookSource], bool] = always_published

    @property
    def secret_variable(self) -> str:
        return f"FRESHRAG_WEBHOOK_SECRET_{self.name.upper()}"

    def accepts(self, content_type: str) -> bool:
        """Whether a request body of `content_type` (lower case, without parameters) may come from here."""
        return content_type == JSON or content_type.endswith("+json") or content_type in self.media_types
