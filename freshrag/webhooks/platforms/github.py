"""GitHub push webhooks: the pushed branch of a configured repository is pulled into a local clone and its
changed files are indexed (removed files are deleted). Pings and other events are acknowledged."""

from __future__ import annotations

from typing import Any

from freshrag.webhook_settings import WebhookSource
from freshrag.webhooks.fields import require
from freshrag.webhooks.model import Delivery, Ignored, Interpretation, PayloadError, RepositoryPush
from freshrag.webhooks.plugin import Platform
from freshrag.webhooks.signatures import equal, header_id, hmac_sha256, mismatch, required_header, untimed

DELETED = "0" * 40


def interpret(delivery: Delivery, payload: Any, config: WebhookSource) -> Interpretation:
    event = delivery.header("x-github-event")
    if not event:
        raise PayloadError("missing X-GitHub-Event header")
    if event != "push":
        return Ignored(f"GitHub {event!r} events push no files")
    name = str(require(payload, "repository", "full_name"))
    ref = str(require(payload, "ref"))
    after = str(require(payload, "after"))
    repository = config.repositories.get(name)
    if repository is None:
        configured = ", ".join(sorted(config.repositories)) or "none"
        return Ignored(f"repository {name!r} is not configured (configured: {configured})")
    branch = repository.branch or payload["repository"].get("default_branch") or "main"
    if ref != f"refs/heads/{branch}":
        return Ignored(f"a push to {ref}, not to the indexed branch {branch!r}")
    if after == DELETED:
        return Ignored("the branch was deleted")
    # Only a configured URL may point anywhere; one from the payload must be a plain https URL.
    clone_url = repository.url or payload["repository"].get("clone_url")
    if not isinstance(clone_url, str) or not (repository.url or clone_url.startswith("https://")):
        raise PayloadError("field 'repository.clone_url' must be an https:// URL")
    return RepositoryPush(name, clone_url, ref, after)


def verify(delivery: Delivery, secret: str) -> None:
    """Verify a GitHub delivery: X-Hub-Signature-256 is sha256=<hex HMAC-SHA256 of the body>."""
    given = required_header(delivery, "X-Hub-Signature-256")
    if not equal(given, "sha256=" + hmac_sha256(secret, delivery.body).hex()):
        raise mismatch("X-Hub-Signature-256")


PLATFORM = Platform(
    name="github",
    verify=untimed(verify),
    interpret=interpret,
    # The signature, not X-GitHub-Delivery (unsigned): a captured push sent under a new GUID is a replay.
    delivery_id=lambda delivery: header_id(delivery, "x-hub-signature-256", lower=True),
    media_types=("application/x-www-form-urlencoded",),  # GitHub's "form" content type: payload=<JSON>
)
