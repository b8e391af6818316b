"""An application's brand: accent colours, the text colour on them, logos by
their bytes, display names (``frontdesk.domain.branding``)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from frontdesk.domain.branding import (
    MAX_LOGO_BYTES,
    Branding,
    accent_colour,
    contrast_ratio,
    logo_of,
    text_on,
)
from frontdesk.errors import LimitExceeded, ValidationFailed

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\0" * 32
WEBP = b"RIFF\x24\0\0\0WEBPVP8 " + b"\0" * 32


@pytest.mark.parametrize("value", ["#0a5c8a", "#0A5C8A", " #ffffff ", "#000000"])
def test_accent_is_rrggbb_in_lower_case(value: str) -> None:
    assert accent_colour(value) == value.strip().lower()


@pytest.mark.parametrize(
    "value", ["0a5c8a", "#0a5c8", "#0a5c8a0", "red", "#ggg000", "rgb(0,0,0)", "", None, 7]
)
def test_accent_refuses_anything_else(value: object) -> None:
    with pytest.raises(ValidationFailed, match="#rrggbb"):
        accent_colour(value)


def test_text_on_known_colours() -> None:
    assert text_on("#0a5c8a") == "#ffffff"  # Harbor Bank's blue
    assert text_on("#ffd400") == "#000000"  # a bright yellow
    assert text_on("#000000") == "#ffffff"
    assert text_on("#ffffff") == "#000000"
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)


@given(st.integers(0, 0xFFFFFF))
def test_text_on_any_accent_meets_wcag_aa(rgb: int) -> None:
    accent = f"#{rgb:06x}"
    assert contrast_ratio(accent, text_on(accent)) >= 4.5


@pytest.mark.parametrize(
    ("data", "content_type"), [(PNG, "image/png"), (JPEG, "image/jpeg"), (WEBP, "image/webp")]
)
def test_logo_type_is_read_from_its_bytes(data: bytes, content_type: str) -> None:
    logo = logo_of(data)
    assert logo.content_type == content_type and logo.data == data
    assert len(logo.etag) == 32 and logo.etag == logo_of(data).etag
    assert logo_of(data + b"x").etag != logo.etag


@pytest.mark.parametrize(
    "data",
    [
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        b'<?xml version="1.0"?><svg/>',
        b"GIF89a" + b"\0" * 16,
        b"<html>",
        b"RIFF\0\0\0\0WAVE",
    ],
)
def test_logo_refuses_svg_and_other_types(data: bytes) -> None:
    with pytest.raises(ValidationFailed, match="PNG, JPEG or WebP"):
        logo_of(data)


def test_logo_size_is_limited() -> None:
    assert logo_of(PNG + b"\0" * (MAX_LOGO_BYTES - len(PNG))).data
    with pytest.raises(LimitExceeded):
        logo_of(PNG + b"\0" * (MAX_LOGO_BYTES - len(PNG) + 1))
    with pytest.raises(ValidationFailed, match="empty"):
        logo_of(b"")


def test_branding_checks_its_parts() -> None:
    b = Branding(display_name="  Harbor   Bank ", accent="#0A5C8A")
    assert (b.display_name, b.accent, b.accent_text, b.has_logo) == (
        "Harbor Bank",
        "#0a5c8a",
        "#ffffff",
        False,
    )
    assert Branding().accent_text is None
    with pytest.raises(ValidationFailed, match="display name"):
        Branding(display_name="x" * 81)
    with pytest.raises(ValidationFailed, match="display name"):
        Branding(display_name="Harbor\u202eBank")  # a direction override
    with pytest.raises(ValidationFailed):
        Branding(logo_type="image/svg+xml", logo_etag="abc")
    with pytest.raises(ValidationFailed):
        Branding(logo_type="image/png")
