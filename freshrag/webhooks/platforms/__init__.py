"""The registry of CMS platforms: every module of this package is one, and defines `PLATFORM`.

Adding a CMS is adding a module here (and its tests) and naming its secret, `FRESHRAG_WEBHOOK_SECRET_<NAME>`,
in `freshrag.webhook_settings.SECRETS` (the registry refuses to load without it): the route, the intake, the
settings and the loader find it through `PLATFORMS`. Each module's `interpret`
raises `PayloadError` naming the field when the body is not what the platform sends.
"""

from __future__ import annotations

import importlib
import pkgutil

from freshrag.webhook_settings import SECRETS
from freshrag.webhooks.model import Delivery
from freshrag.webhooks.plugin import Platform


def _discover() -> dict[str, Platform]:
    found: dict[str, Platform] = {}
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda info: info.name):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        platform = getattr(module, "PLATFORM", None)
        if not isinstance(platform, Platform):
            raise TypeError(f"{module.__name__} is in the platform package but defines no PLATFORM")
        if platform.name in found:
            raise TypeError(f"two platforms are named {platform.name!r}")
        found[platform.name] = platform
    if list(found) != list(SECRETS):
        raise TypeError(
            f"the platforms ({', '.join(found)}) and the webhook secrets in freshrag.webhook_settings "
            f"({', '.join(SECRETS)}) must name the same CMSs, in the same order"
        )
    return found


PLATFORMS: dict[str, Platform] = _discover()
SOURCES: tuple[str, ...] = tuple(PLATFORMS)


def delivery_id(delivery: Delivery) -> str | None:
    """Name the delivery for replay protection (retries share it), or None where the platform gives no way."""
    return PLATFORMS[delivery.source].delivery_id(delivery)
