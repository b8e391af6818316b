"""Brands: each trusted application's display name, accent and logo, and what
a meeting's guest page shows before anyone joins.

The operator sets a brand (``frontdesk apps brand``), and so may the
application itself (``GET|PATCH /v1/branding``, ``PUT /v1/branding/logo``).
A meeting an application made shows its brand; any other meeting shows the
node's default (``FRONTDESK_BRAND_NAME``, else the product's name).

:meth:`Brands.public_info` is what the guest page may learn about a meeting
from its link alone: subject, state, start and brand; never who is in it or
who organizes it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from frontdesk.domain.branding import Branding, Logo, accent_colour, brand_name, logo_of, text_on
from frontdesk.domain.model import UNSET, Meeting, MeetingState, Unset
from frontdesk.errors import NotFound
from frontdesk.server.applications import Applications
from frontdesk.store.base import Store

__all__ = ["LOGO_PATH", "PRODUCT_NAME", "BrandView", "Brands"]

#: The product's own name: the brand of meetings nobody branded.
PRODUCT_NAME = "Frontdesk"
#: ``{base}{LOGO_PATH}{etag}`` serves a logo (content-addressed).
LOGO_PATH = "/v1/brand/logos/"
#: The accent of meetings nobody branded (the pages' own).
DEFAULT_ACCENT = "#0b5cad"
#: How old a brand read for a page (a discovery, the public info) may be: a
#: change through this node is seen at once, one through another node (or the
#: CLI) within this. Saves a read on every discovery.
RECENT_S = 5.0
_RECENT_MAX = 10_000


@dataclass(frozen=True, slots=True)
class BrandView:
    """A brand as a page shows it: every part resolved (the default filling in)."""

    display_name: str
    accent: str
    accent_text: str
    logo_url: str | None
    #: Whether an application's brand (False: the node's default).
    custom: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "display_name": self.display_name,
            "logo_url": self.logo_url,
            "accent": self.accent,
            "accent_text": self.accent_text,
        }


class Brands:
    def __init__(
        self,
        store: Store,
        clock: Callable[[], datetime],
        apps: Applications,
        *,
        base_url: str,
        default_name: str = "",
    ) -> None:
        self._store = store
        self._clock = clock
        self._apps = apps
        self._base_url = base_url.rstrip("/")
        self._default_name = brand_name(default_name) if default_name.strip() else PRODUCT_NAME
        # client id -> (monotonic time read, the brand as stored)
        self._recent: dict[str, tuple[float, Branding]] = {}

    def _remember(self, client_id: str, branding: Branding) -> Branding:
        if len(self._recent) >= _RECENT_MAX:
            self._recent.clear()
        self._recent[client_id] = (time.monotonic(), branding)
        return branding

    async def _recent_branding(self, client_id: str) -> Branding:
        seen = self._recent.get(client_id)
        if seen is not None and time.monotonic() - seen[0] <= RECENT_S:
            return seen[1]
        return self._remember(client_id, await self._store.get_branding(client_id))

    # --- what an application (or the operator) sets ------------------------------------
    async def of_app(self, client_id: str) -> Branding:
        await self._apps.get(client_id)  # AppNotFound for none
        return await self._store.get_branding(client_id)

    async def update(
        self,
        client_id: str,
        *,
        display_name: str | Unset | None = UNSET,
        accent: str | Unset | None = UNSET,
    ) -> Branding:
        """Change the name and/or accent (``None`` clears one, ``UNSET`` keeps it)."""
        current = await self.of_app(client_id)
        name = current.display_name if isinstance(display_name, Unset) else display_name
        colour = current.accent if isinstance(accent, Unset) else accent
        name = brand_name(name) if name is not None else None
        colour = accent_colour(colour) if colour is not None else None
        saved = await self._store.save_branding(
            client_id, display_name=name, accent=colour, now=self._clock()
        )
        return self._remember(client_id, saved)

    async def set_logo(self, client_id: str, data: bytes | None) -> Branding:
        """Store an uploaded logo (checked: PNG, JPEG or WebP, size-limited), or
        remove the logo with ``None``."""
        logo = logo_of(data) if data is not None else None
        await self.of_app(client_id)
        saved = await self._store.save_logo(client_id, logo, self._clock())
        return self._remember(client_id, saved)

    async def logo(self, etag: str) -> Logo:
        if not etag or len(etag) > 64:
            raise NotFound("no such logo")
        logo = await self._store.get_logo(etag)
        if logo is None:
            raise NotFound("no such logo")
        return logo

    def logo_url(self, branding: Branding) -> str | None:
        return f"{self._base_url}{LOGO_PATH}{branding.logo_etag}" if branding.has_logo else None

    # --- what a page shows ------------------------------------------------------------
    def default_view(self) -> BrandView:
        return BrandView(self._default_name, DEFAULT_ACCENT, text_on(DEFAULT_ACCENT), None, False)

    def view(self, branding: Branding) -> BrandView:
        accent = branding.accent or DEFAULT_ACCENT
        return BrandView(
            display_name=branding.display_name or self._default_name,
            accent=accent,
            accent_text=text_on(accent),
            logo_url=self.logo_url(branding),
            custom=True,
        )

    async def for_meeting(self, meeting: Meeting) -> BrandView:
        """The brand a meeting's pages show: its application's, else the default."""
        if meeting.created_by_app is None:
            return self.default_view()
        return self.view(await self._recent_branding(meeting.created_by_app))

    async def public_info(self, meeting: Meeting) -> dict[str, Any]:
        """What anyone holding the meeting's link may know before joining."""
        brand = await self.for_meeting(meeting)
        state = meeting.as_of(self._clock()).state
        return {
            "subject": meeting.subject,
            "state": {
                MeetingState.SCHEDULED: "scheduled",
                MeetingState.ACTIVE: "open",
                MeetingState.ENDED: "ended",
            }[state],
            "starts_at": meeting.start.isoformat() if meeting.start else None,
            "brand": brand.to_dict(),
        }
