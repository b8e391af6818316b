"""The service client's branding calls against the real app, in process."""

from __future__ import annotations

import pytest

from frontdesk.errors import LimitExceeded, ValidationFailed
from frontdesk.service_client import Branding
from tests.service_client.test_against_server import BASE, Node
from tests.service_client.test_against_server import node as node  # the fixture

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(200))


async def test_an_application_sets_its_own_brand(node: Node) -> None:
    async with node.client() as svc:
        assert await svc.get_branding() == Branding(None, None, None, None, None)
        b = await svc.update_branding(display_name="Harbor Bank", accent="#0A5C8A")
        assert (b.display_name, b.accent, b.accent_text) == ("Harbor Bank", "#0a5c8a", "#ffffff")
        b = await svc.update_branding(accent=None)  # cleared; the name stays
        assert (b.display_name, b.accent) == ("Harbor Bank", None)
        b = await svc.set_logo(PNG)
        assert b.logo_url is not None and b.logo_url.startswith(f"{BASE}/v1/brand/logos/")
        served = await node.http.get(b.logo_url)
        assert served.content == PNG and served.headers["content-type"] == "image/png"
        assert (await svc.get_branding()).logo_url == b.logo_url
        assert (await svc.delete_logo()).logo_url is None
        with pytest.raises(ValidationFailed, match="SVG"):
            await svc.set_logo(
                b"<svg xmlns='http://www.w3.org/2000/svg'/>", content_type="image/svg+xml"
            )
        with pytest.raises(LimitExceeded):
            await svc.set_logo(PNG + bytes(256 * 1024))
        with pytest.raises(ValidationFailed, match="#rrggbb"):
            await svc.update_branding(accent="navy")
        assert (await svc.get_branding()).display_name == "Harbor Bank"
