"""An application's brand in the store, on SQLite and PostgreSQL: name and
accent kept apart from the logo, the logo found by its tag, nothing for an
application that does not exist."""

from __future__ import annotations

import pytest

from frontdesk.domain.branding import Branding, logo_of
from frontdesk.errors import AppNotFound
from frontdesk.store.sql import SqlStore
from tests.store import samples as s

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x01\xfe\xff" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x10" * 64


async def test_no_branding_is_empty(store: SqlStore) -> None:
    await store.create_app(s.app())
    assert await store.get_branding("app_1") == Branding()
    assert await store.get_branding("app_nope") == Branding()


async def test_name_accent_and_logo_are_set_apart(store: SqlStore) -> None:
    await store.create_app(s.app())
    b = await store.save_branding(
        "app_1", display_name="Harbor Bank", accent="#0a5c8a", now=s.at(1)
    )
    assert (b.display_name, b.accent, b.logo_etag, b.updated_at) == (
        "Harbor Bank",
        "#0a5c8a",
        None,
        s.at(1),
    )
    logo = logo_of(PNG)
    b = await store.save_logo("app_1", logo, s.at(2))
    # the logo leaves name and accent as they were
    assert (b.display_name, b.accent, b.logo_type, b.logo_etag) == (
        "Harbor Bank",
        "#0a5c8a",
        "image/png",
        logo.etag,
    )
    assert await store.get_logo(logo.etag) == logo  # the bytes, unchanged
    # and a new name or accent leaves the logo
    b = await store.save_branding("app_1", display_name=None, accent="#ffd400", now=s.at(3))
    assert (b.display_name, b.accent, b.logo_etag) == (None, "#ffd400", logo.etag)
    replaced = logo_of(JPEG)
    b = await store.save_logo("app_1", replaced, s.at(4))
    assert b.logo_type == "image/jpeg"
    assert await store.get_logo(logo.etag) is None
    assert (await store.get_logo(replaced.etag)) == replaced
    b = await store.save_logo("app_1", None, s.at(5))
    assert (b.logo_type, b.logo_etag, b.accent) == (None, None, "#ffd400")
    assert await store.get_logo(replaced.etag) is None


async def test_brands_of_two_apps_are_their_own(store: SqlStore) -> None:
    await store.create_app(s.app("app_1"))
    await store.create_app(s.app("app_2"))
    await store.save_branding("app_1", display_name="Harbor Bank", accent=None, now=s.at(1))
    await store.save_branding("app_2", display_name="Dock Credit", accent=None, now=s.at(1))
    assert (await store.get_branding("app_1")).display_name == "Harbor Bank"
    assert (await store.get_branding("app_2")).display_name == "Dock Credit"


async def test_branding_of_a_missing_app_is_refused(store: SqlStore) -> None:
    with pytest.raises(AppNotFound):
        await store.save_branding("app_nope", display_name="X", accent=None, now=s.at(1))
    with pytest.raises(AppNotFound):
        await store.save_logo("app_nope", logo_of(PNG), s.at(1))
    assert await store.get_branding("app_nope") == Branding()
