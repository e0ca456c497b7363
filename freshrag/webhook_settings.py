"""The webhooks' settings group: one secret per CMS platform, and how each source is configured.

A leaf (pydantic and the standard library only), so that `freshrag.settings` declares these settings without
importing the webhook code that reads them. `SECRETS` names every platform's secret setting,
`FRESHRAG_WEBHOOK_SECRET_<NAME>`; the platform registry (`freshrag.webhooks.platforms`) refuses to load when
its platforms and these names differ, so a CMS cannot be added without its setting.

Each source is configured in `freshrag.toml` (or `FRESHRAG_WEBHOOKS` as JSON):

    [webhooks.strapi.content_types.article]
    title = ["title"]
    body = ["summary", "content"]
    uri = "https://example.com/blog/{slug}"

Every field has a default that works on the platforms' own payloads, so a source needs configuring only to
narrow what is indexed, to give entries a public URL, or to fetch text the payload does not carry.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_TITLE_FIELDS = ("title", "name", "full_name", "headline", "heading", "subject", "label")


class ContentTypeMapping(BaseModel):
    """How the entries of one content type become a document."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: tuple[str, ...] = Field(
        default=DEFAULT_TITLE_FIELDS,
        description="Fields tried in order for the title; first non-empty wins.",
    )
    body: tuple[str, ...] | None = Field(
        default=None, description="Fields whose text is indexed, in order; unset indexes every text field."
    )
    uri: str | None = Field(
        default=None,
        description="The entry's public URL, a template over its fields, e.g. 'https://x/{slug}'.",
    )
    fetch_url: str | None = Field(
        default=None,
        description="Where the worker reads an entry whose text the payload lacks (template).",
    )
    fetch_path: str = Field(
        default="", description="Dotted path to the entry inside the fetched JSON, e.g. 'data' for Directus."
    )
    ignore: bool = Field(default=False, description="Acknowledge deliveries of this type, index nothing.")


class GitRepository(BaseModel):
    """A repository whose pushes are pulled into a local clone and indexed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str | None = Field(default=None, description="Clone from here; default the payload's clone_url.")
    branch: str | None = Field(default=None, description="Index this branch; default: the default branch.")


class WebhookSource(BaseModel):
    """Everything configurable about one source (a key under `[webhooks]`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    accept_unsigned: bool = Field(
        default=False,
        description="Accept deliveries without a secret (never on a public host).",
    )
    include_drafts: bool = Field(default=False, description="Index drafts and auto-saves too.")
    include_restricted: bool = Field(
        default=False,
        description="ghost only: index members-only and paid posts too (anyone who can search reads them).",
    )
    content_types: dict[str, ContentTypeMapping] = Field(
        default_factory=dict, description="Mappings by content type; '*' applies to every other type."
    )
    fetch_headers: dict[str, str] = Field(
        default_factory=dict, description="Headers sent with fetches (e.g. an Authorization token)."
    )
    repositories: dict[str, GitRepository] = Field(
        default_factory=dict, description="github only: 'owner/name' of each repository to index."
    )

    def mapping(self, content_type: str) -> ContentTypeMapping:
        return self.content_types.get(content_type) or self.content_types.get("*") or ContentTypeMapping()


def standard_webhooks_key(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks secret: base64, with or without its `whsec_` prefix, as the
    specification's reference libraries read it. Raises `ValueError` saying what is wrong with it."""
    try:
        key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except binascii.Error:
        raise ValueError("secret is not base64 (whsec_<base64>)") from None
    if not key:
        raise ValueError("secret is empty")
    return key


def _check_standard_webhooks_key(secret: str) -> None:
    standard_webhooks_key(secret)


@dataclass(frozen=True)
class SecretSetting:
    """A platform's secret setting: `help` documents it; `check` raises `ValueError` at start-up for a
    secret the platform could never verify with."""

    help: str
    check: Callable[[str], None] | None = None


# By platform name, in the order of the platform modules (the order start-up errors list them in).
SECRETS: dict[str, SecretSetting] = {
    "contentful": SecretSetting("Contentful signing secret."),
    "directus": SecretSetting("Bearer token Directus sends."),
    "generic": SecretSetting(
        "Standard Webhooks secret: base64 (whsec_<base64>, the prefix optional).",
        check=_check_standard_webhooks_key,
    ),
    "ghost": SecretSetting("Ghost webhook secret."),
    "github": SecretSetting("GitHub webhook secret."),
    "sanity": SecretSetting("Sanity webhook secret."),
    "strapi": SecretSetting("Bearer token Strapi sends."),
    "webflow": SecretSetting("Webflow webhook secret (an app's client secret for webhooks an app created)."),
    "wordpress": SecretSetting("WP Webhooks secret key."),
}
SOURCES: tuple[str, ...] = tuple(SECRETS)
