"""How each webhook source is configured in `freshrag.toml` (or `FRESHRAG_WEBHOOKS` as JSON).

    [webhooks.strapi.content_types.article]
    title = ["title"]
    body = ["summary", "content"]
    uri = "https://example.com/blog/{slug}"

Every field has a default that works on the platforms' own payloads, so a source needs configuring only to
narrow what is indexed, to give entries a public URL, or to fetch text the payload does not carry.
"""

from __future__ import annotations

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
