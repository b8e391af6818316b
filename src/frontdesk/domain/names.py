"""Display names: one normal form, and a refusal for what cannot be seen.

A display name is what one person reads about another: on the lobby queue, the
roster, chat lines and video tiles. It must say what it shows. The rule,
applied wherever a name enters (guest tokens, URL joins, user accounts):

1. **Normalise**: Unicode NFKC (full-width letters, ligatures, compatibility
   spaces become their plain forms); every run of whitespace (``\\t \\n \\v \\f \\r``
   and the separators Zs, Zl, Zp) becomes one space; leading and trailing spaces
   go. Repeated until stable, so the result is NFKC and normalising it again
   changes nothing.
2. **Refuse**, with a :class:`ValidationFailed` that names the first offending
   character, a name that holds

   - a control character (Cc),
   - a format character (Cf): bidirectional embeddings, overrides and isolates
     (U+202A-202E, U+2066-2069), marks (U+200E, U+200F, U+061C), zero-width
     space, non-joiner and **joiner** (U+200B-200D), word joiner (U+2060), the
     Mongolian vowel separator (U+180E), the BOM (U+FEFF), soft hyphen, tags…,
   - a lone surrogate (Cs), a private-use (Co) or an unassigned (Cn) code point
     (unassigned in the Unicode version of this Python, see
     :data:`UNICODE_VERSION`),
   - another invisible code point that Unicode classes as a letter, mark or
     symbol (:data:`INVISIBLE`: Hangul fillers, the combining grapheme joiner,
     the Braille blank, variation selectors…),
   - a combining mark as its first character (it would sit on whatever the
     page shows before the name);

   and a name that is empty after normalising, or longer than
   :data:`MAX_DISPLAY_NAME` characters.

Nothing is dropped silently: a name is either shown as typed (up to the
normal form) or refused with the reason.

Emoji: single emoji are welcome, and so is the emoji presentation selector
(U+FE0F, or U+FE0E) directly after a symbol (``❤️``). Emoji joined into one
picture with the zero-width joiner (``👩‍💻``, family and flag sequences) are
refused with the other format characters: a ZWJ is invisible, and telling a
joiner inside an emoji sequence from one hidden between two letters needs the
emoji data tables this core does not carry. Keycap sequences (``1️⃣``) are
refused for the same reason (the selector follows a digit).

The role of a person is never read from the name: the pages show it in a badge
of its own (see ``static/js/ui.js``, ``roleBadges``). :func:`display_name_key`
gives the key under which two names count as the same (for "is a guest calling
themselves like the host?").
"""

from __future__ import annotations

import unicodedata

from frontdesk.errors import ValidationFailed

__all__ = [
    "INVISIBLE",
    "MAX_DISPLAY_NAME",
    "REFUSED_CATEGORIES",
    "UNICODE_VERSION",
    "check_display_name",
    "display_name_key",
    "normalise_display_name",
]

MAX_DISPLAY_NAME = 80
#: Longer input is refused before normalising (NFKC of a huge string is work).
MAX_RAW_DISPLAY_NAME = 4 * MAX_DISPLAY_NAME
UNICODE_VERSION = unicodedata.unidata_version

#: General categories never accepted in a name, with how the error calls them.
REFUSED_CATEGORIES: dict[str, str] = {
    "Cc": "control characters",
    "Cf": "invisible formatting or direction-control characters",
    "Cs": "lone surrogates",
    "Co": "private-use characters",
    "Cn": "unassigned code points",
}

_WHITESPACE_CONTROLS = frozenset("\t\n\v\f\r")
_SEPARATORS = frozenset({"Zs", "Zl", "Zp"})
_COMBINING = frozenset({"Mn", "Mc", "Me"})
_PRESENTATION_SELECTORS = frozenset("\ufe0e\ufe0f")


def _ranges(*spans: tuple[int, int]) -> frozenset[str]:
    return frozenset(chr(c) for lo, hi in spans for c in range(lo, hi + 1))


#: Code points outside the C categories that show nothing (Unicode's
#: Default_Ignorable_Code_Point and the blank look-alikes), refused like Cf.
INVISIBLE: frozenset[str] = _ranges(
    (0x034F, 0x034F),  # COMBINING GRAPHEME JOINER
    (0x115F, 0x1160),  # HANGUL CHOSEONG / JUNGSEONG FILLER
    (0x17B4, 0x17B5),  # KHMER VOWEL INHERENT AQ / AA
    (0x180B, 0x180F),  # MONGOLIAN FREE VARIATION SELECTORS (and U+180E)
    (0x2800, 0x2800),  # BRAILLE PATTERN BLANK
    (0x3164, 0x3164),  # HANGUL FILLER
    (0xFE00, 0xFE0F),  # VARIATION SELECTORS 1-16 (FE0E/FE0F after a symbol: see below)
    (0xFFA0, 0xFFA0),  # HALFWIDTH HANGUL FILLER
    (0xE0100, 0xE01EF),  # VARIATION SELECTORS SUPPLEMENT
)


def _describe(c: str) -> str:
    name = unicodedata.name(c, "")
    return f"U+{ord(c):04X} {name}".rstrip()


def _is_space(c: str) -> bool:
    return c in _WHITESPACE_CONTROLS or unicodedata.category(c) in _SEPARATORS


def _normal_step(value: str) -> str:
    value = unicodedata.normalize("NFKC", value)
    out: list[str] = []
    for c in value:
        if _is_space(c):
            if out and out[-1] != " ":
                out.append(" ")
        else:
            out.append(c)
    return "".join(out).strip(" ")


def normalise_display_name(value: str) -> str:
    """The normal form of a name (NFKC, one space between words, trimmed); no
    refusals. Pure and idempotent."""
    for _ in range(8):
        nxt = _normal_step(value)
        if nxt == value:
            return value
        value = nxt
    return value  # not reached for real text: each step only shrinks or decomposes


def _selects_emoji(c: str, prev: str) -> bool:
    """U+FE0E/U+FE0F right after a symbol picks its text or emoji picture."""
    return c in _PRESENTATION_SELECTORS and bool(prev) and unicodedata.category(prev) == "So"


def _hidden_character(text: str) -> str | None:
    """Why ``text`` cannot be shown because of one of its characters, or ``None``."""
    prev = ""
    for c in text:
        what = REFUSED_CATEGORIES.get(unicodedata.category(c))
        if c in _WHITESPACE_CONTROLS:
            what = None  # becomes a space
        elif what is None and c in INVISIBLE and not _selects_emoji(c, prev):
            what = "invisible characters"
        if what is not None:
            hint = (
                "; emoji joined into one picture are not supported, use single emoji"
                if c == "\u200d"
                else ""
            )
            return f"must not contain {what} ({_describe(c)}){hint}"
        prev = c
    return None


def _is_combining(c: str) -> bool:
    return unicodedata.category(c) in _COMBINING


def check_display_name(value: object) -> str:
    """The normal form of a display name, or :class:`ValidationFailed` saying why
    it cannot be one (the full rule is in this module's docstring)."""
    if not isinstance(value, str):
        raise ValidationFailed("display_name must be a string")
    if len(value) > MAX_RAW_DISPLAY_NAME:
        raise ValidationFailed(f"display_name is longer than {MAX_DISPLAY_NAME} characters")
    # Checked as typed (so the message names what was typed), then in normal form
    # (NFKC may map one character onto another that is refused).
    problem = _hidden_character(value)
    name = normalise_display_name(value)
    if problem is None and not name:
        raise ValidationFailed("display_name must not be empty")
    if problem is None:
        problem = _hidden_character(name)
    if problem is None and _is_combining(name[0]):
        problem = f"must not start with a combining mark ({_describe(name[0])})"
    if problem is not None:
        raise ValidationFailed(f"display_name {problem}")
    if len(name) > MAX_DISPLAY_NAME:
        raise ValidationFailed(f"display_name is longer than {MAX_DISPLAY_NAME} characters")
    return name


def display_name_key(value: str) -> str:
    """The key under which two valid names are "the same name": the normal form,
    case-folded (and normalised again, as case folding may leave NFKC)."""
    return normalise_display_name(unicodedata.normalize("NFKC", value.casefold()))
