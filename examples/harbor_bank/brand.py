"""Harbor Bank's brand: the name, accent colour and logo its customers see on
the bank's own pages, and the same three given to Frontdesk (``frontdesk apps
brand``) so that Frontdesk's pages for the bank's meetings show them too."""

from __future__ import annotations

from pathlib import Path

__all__ = ["ACCENT", "DISPLAY_NAME", "LOGO"]

DISPLAY_NAME = "Harbor Bank"
#: The bank's blue: its buttons (``static/bank.css``) and its logo's ground.
ACCENT = "#1b6ca8"
#: A 128 px PNG: a white anchor on the bank's blue.
LOGO = Path(__file__).resolve().parent / "static" / "logo.png"
