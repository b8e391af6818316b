"""An application's brand: the name, logo and accent colour its visitors see.

A visitor does not know the product that carries the call; they know their
bank. So a meeting made by a trusted application (ad hoc, or a helpdesk
visit) shows that application's brand on the guest page, and one made from
the console or the CLI shows the node's default.

Everything here is checked before it is stored, because it ends up on a page
in front of the public:

* the display name follows the rule of every display name
  (:func:`~frontdesk.domain.names.check_display_name`; pages write it as text);
* the accent is ``#rrggbb`` and comes with the text colour that reads on it
  (:func:`text_on`: black or white, whichever contrasts more, which always
  meets WCAG AA's 4.5:1);
* a logo is a PNG, JPEG or WebP image, recognised by its first bytes (never by
  what the uploader says it is), of at most :data:`MAX_LOGO_BYTES`. SVG is
  refused: it is a document that can carry script.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime

from frontdesk.domain.names import check_display_name
from frontdesk.errors import LimitExceeded, ValidationFailed

__all__ = [
    "LOGO_TYPES",
    "MAX_LOGO_BYTES",
    "Branding",
    "Logo",
    "accent_colour",
    "brand_name",
    "contrast_ratio",
    "logo_of",
    "text_on",
]

#: Largest logo accepted, in bytes (a header image, not a photograph).
MAX_LOGO_BYTES = 256 * 1024
#: The image types a logo may be, as served (``Content-Type``).
LOGO_TYPES = ("image/png", "image/jpeg", "image/webp")

_ACCENT = re.compile(r"#[0-9a-fA-F]{6}")
_BLACK = "#000000"
_WHITE = "#ffffff"


def accent_colour(value: object) -> str:
    """``#rrggbb`` in lower case, or :class:`ValidationFailed`."""
    if not isinstance(value, str) or not _ACCENT.fullmatch(value.strip()):
        raise ValidationFailed("the accent colour must be written #rrggbb, for example #0a5c8a")
    return value.strip().lower()


def brand_name(value: object) -> str:
    """A brand's display name, under the rule of every display name."""
    try:
        return check_display_name(value)
    except ValidationFailed as exc:
        raise ValidationFailed(f"display name: {exc.detail}") from None


def _luminance(colour: str) -> float:
    """WCAG 2.1 relative luminance of ``#rrggbb``."""

    def channel(hex2: str) -> float:
        c = int(hex2, 16) / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(colour[i : i + 2]) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a: str, b: str) -> float:
    """WCAG 2.1 contrast ratio of two ``#rrggbb`` colours (1 to 21)."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


@functools.lru_cache(maxsize=1024)
def text_on(accent: str) -> str:
    """The text colour for ``accent``: black or white, whichever contrasts more
    (at least 4.58:1 for any accent, so WCAG AA for normal text)."""
    accent = accent_colour(accent)
    return _BLACK if contrast_ratio(accent, _BLACK) >= contrast_ratio(accent, _WHITE) else _WHITE


def _sniff(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


@dataclass(frozen=True, slots=True)
class Logo:
    """A logo image: its type (from its bytes), the bytes, and a tag that
    changes with them (the HTTP ETag, and the cache key of its URL)."""

    content_type: str
    data: bytes
    etag: str

    def __post_init__(self) -> None:
        if self.content_type not in LOGO_TYPES:
            raise ValidationFailed("a logo must be a PNG, JPEG or WebP image")


def logo_of(data: bytes) -> Logo:
    """Check an uploaded image and make it a :class:`Logo`: refused when it is
    empty, too large, or not a PNG, JPEG or WebP image (SVG included)."""
    if not data:
        raise ValidationFailed("the logo is empty")
    if len(data) > MAX_LOGO_BYTES:
        raise LimitExceeded(f"the logo is larger than {MAX_LOGO_BYTES // 1024} KiB")
    content_type = _sniff(data)
    if content_type is None:
        raise ValidationFailed("the logo must be a PNG, JPEG or WebP image (SVG is not accepted)")
    return Logo(content_type, bytes(data), hashlib.sha256(data).hexdigest()[:32])


@dataclass(frozen=True, slots=True)
class Branding:
    """What an application set: each part optional (unset parts fall back to
    the node's default). ``logo_etag`` names the stored logo, if any."""

    display_name: str | None = None
    accent: str | None = None
    logo_type: str | None = None
    logo_etag: str | None = None
    updated_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.display_name is not None:
            object.__setattr__(self, "display_name", brand_name(self.display_name))
        if self.accent is not None:
            object.__setattr__(self, "accent", accent_colour(self.accent))
        if (self.logo_type is None) != (self.logo_etag is None):
            raise ValidationFailed("a logo has both a type and a tag, or neither")
        if self.logo_type is not None and self.logo_type not in LOGO_TYPES:
            raise ValidationFailed("a logo must be a PNG, JPEG or WebP image")

    @property
    def has_logo(self) -> bool:
        return self.logo_etag is not None

    @property
    def accent_text(self) -> str | None:
        """The text colour on :attr:`accent` (None without an accent)."""
        return text_on(self.accent) if self.accent is not None else None
