"""Display names: the normal form and the refusals (``frontdesk.domain.names``)."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from frontdesk.domain.model import MAX_DISPLAY_NAME, User, check_display_name, display_name_key
from frontdesk.domain.names import (
    INVISIBLE,
    REFUSED_CATEGORIES,
    normalise_display_name,
)
from frontdesk.errors import ValidationFailed

BIDI = [*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C]
ZERO_WIDTH = [0x200B, 0x200C, 0x200D, 0x2060, 0x180E, 0xFEFF, 0x00AD, 0x2061, 0x2064]
TAGS = [0xE0001, 0xE0041, 0xE007F]
CONTROLS = [0x00, 0x07, 0x1B, 0x1C, 0x1F, 0x7F, 0x85, 0x9F]
SURROGATES = [0xD800, 0xDBFF, 0xDC00, 0xDFFF]
PRIVATE_USE = [0xE000, 0xF8FF, 0xF0000, 0x10FFFD]
UNASSIGNED = [0x0378, 0xFFFF, 0x10FFFF, 0xE0080]
LOOKS_BLANK = [0x034F, 0x115F, 0x1160, 0x3164, 0xFFA0, 0x2800, 0x17B4, 0x180B, 0xFE00, 0xE0100]


def refused(name: str) -> str:
    with pytest.raises(ValidationFailed) as info:
        check_display_name(name)
    return str(info.value.detail)


# --- normal form ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("Ann", "Ann"),
        ("  Ann  ", "Ann"),
        ("Ann   Visitor", "Ann Visitor"),
        ("Ann\t\n\r\v\fVisitor", "Ann Visitor"),  # whitespace controls are spaces
        ("Ann\u00a0Visitor", "Ann Visitor"),  # no-break space
        ("Ann\u2003\u2009Visitor", "Ann Visitor"),  # em and thin space
        ("Ann\u2028Visitor\u2029", "Ann Visitor"),  # line and paragraph separators
        (
            "\u3000\uff21\uff4c\uff49\uff43\uff45\u3000\uff21\uff44\uff56\uff49\uff53\uff4f\uff52",
            "Alice Advisor",
        ),  # full width
        ("\ufb01ona", "fiona"),  # ligature
        ("e\u0301", "\u00e9"),  # composed
        ("Zoë", "Zoë"),
        ("山田 太郎", "山田 太郎"),
        ("محمد", "محمد"),
        ("Ann ❤️", "Ann ❤️"),  # emoji presentation selector after a symbol
        ("Ann 😀", "Ann 😀"),
        (
            "\u210c\U0001d51e\U0001d52b\U0001d52b\U0001d51e\U0001d525",
            "Hannah",
        ),  # mathematical letters are compatibility forms
        ("x" * MAX_DISPLAY_NAME, "x" * MAX_DISPLAY_NAME),
        ("  " + "x" * MAX_DISPLAY_NAME + "  ", "x" * MAX_DISPLAY_NAME),
    ],
)
def test_normal_form(raw: str, normal: str) -> None:
    assert check_display_name(raw) == normal
    assert check_display_name(normal) == normal


# --- refusals -------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["", " ", "\t\n", "\u3000\u00a0", "\u2028"])
def test_empty_after_normalising(name: str) -> None:
    assert refused(name) == "display_name must not be empty"


@pytest.mark.parametrize("cp", BIDI + ZERO_WIDTH + TAGS, ids=lambda cp: f"U+{cp:04X}")
@pytest.mark.parametrize("where", ["{c}Alice", "Al{c}ice", "Alice{c}", " {c} Alice ", "{c}"])
def test_format_characters_are_refused(cp: int, where: str) -> None:
    detail = refused(where.format(c=chr(cp)))
    assert "invisible formatting or direction-control characters" in detail
    assert f"U+{cp:04X}" in detail


def test_refusal_names_the_character() -> None:
    assert refused("Alice\u202eAdvisor") == (
        "display_name must not contain invisible formatting or direction-control "
        "characters (U+202E RIGHT-TO-LEFT OVERRIDE)"
    )


def test_emoji_joined_by_zwj_are_refused_with_a_hint() -> None:
    detail = refused("Ann \U0001f469\u200d\U0001f4bb")
    assert "U+200D ZERO WIDTH JOINER" in detail and "single emoji" in detail


@pytest.mark.parametrize(
    ("cps", "what"),
    [
        (CONTROLS, "control characters"),
        (SURROGATES, "lone surrogates"),
        (PRIVATE_USE, "private-use characters"),
        (UNASSIGNED, "unassigned code points"),
        (LOOKS_BLANK, "invisible characters"),
    ],
    ids=["Cc", "Cs", "Co", "Cn", "invisible"],
)
def test_other_refused_kinds(cps: list[int], what: str) -> None:
    for cp in cps:
        detail = refused(f"Al{chr(cp)}ice")
        assert what in detail and f"U+{cp:04X}" in detail, (hex(cp), detail)


@pytest.mark.parametrize(
    "name",
    ["x\ufe0f", "Ann\ufe0e", "1\ufe0f\u20e3", "\ufe0f", "\u2764\ufe00"],
    ids=["after-letter", "text-selector-after-letter", "keycap", "alone", "other-selector"],
)
def test_variation_selectors_only_after_a_symbol(name: str) -> None:
    assert "invisible characters" in refused(name)


@pytest.mark.parametrize("name", ["\u0301Ann", " \u0308Ann", "\u00a8", "\u20dd"])
def test_leading_combining_mark_is_refused(name: str) -> None:
    assert "must not start with a combining mark" in refused(name)


def test_length_is_counted_after_normalising() -> None:
    assert refused("x" * (MAX_DISPLAY_NAME + 1)) == "display_name is longer than 80 characters"
    assert check_display_name("x  " * 40) == " ".join("x" * 40)  # 120 typed, 79 kept
    assert "longer than" in refused("\ufdfa" * 5)  # one character, 18 after NFKC
    assert "longer than" in refused(" " * 10_000)  # refused before any work


@pytest.mark.parametrize("value", [None, 5, b"Ann", ["Ann"]])
def test_not_a_string(value: object) -> None:
    with pytest.raises(ValidationFailed, match="must be a string"):
        check_display_name(value)


# --- every code point ------------------------------------------------------------------
def _code_points() -> list[int]:
    """All of planes 0-2 and 14, and a sample of the (unassigned or private) rest."""
    return [*range(0x30000), *range(0xE0000, 0xE1000), *range(0x30000, 0x110000, 97)]


def test_every_refused_code_point_is_refused_and_named() -> None:
    """Each Cc/Cf/Cs/Co/Cn or invisible code point, between two letters, is refused,
    and the message names it."""
    checked = 0
    for cp in _code_points():
        c = chr(cp)
        if unicodedata.category(c) not in REFUSED_CATEGORIES and c not in INVISIBLE:
            continue
        if c in "\t\n\v\f\r":
            continue  # whitespace: becomes a space
        assert f"U+{cp:04X}" in refused(f"a{c}b")
        checked += 1
    assert checked > 60_000


def test_every_visible_character_of_the_bmp_is_kept() -> None:
    """Letters, marks after a letter, numbers, punctuation and symbols of the BMP are
    accepted after a letter, in their NFKC form."""
    for cp in range(0x10000):
        c = chr(cp)
        if unicodedata.category(c)[0] not in "LMNPS" or c in INVISIBLE:
            continue
        nfkc = unicodedata.normalize("NFKC", f"a{c}")
        if any(unicodedata.category(x)[0] not in "LMNPSZ" or x in INVISIBLE for x in nfkc):
            continue  # e.g. HANGUL FILLER's forms: refused by the rule above
        if len(nfkc) > MAX_DISPLAY_NAME:
            continue
        got = check_display_name(f"a{c}")
        assert got == normalise_display_name(nfkc), hex(cp)


# --- properties -------------------------------------------------------------------------
HOSTILE = [chr(cp) for cp in BIDI + ZERO_WIDTH + TAGS + CONTROLS + LOOKS_BLANK + [0xD800]]
any_char = st.characters(codec=None, exclude_categories=())
names = st.one_of(
    st.text(any_char, max_size=100),
    st.lists(
        st.one_of(
            st.sampled_from(["Alice", "Ann", " ", "\u3000", "\t", "é", "❤\ufe0f"]),
            st.sampled_from(HOSTILE),
            any_char,
        ),
        max_size=30,
    ).map("".join),
)


def _acceptable(c: str, prev: str) -> bool:
    if unicodedata.category(c) in REFUSED_CATEGORIES:
        return False
    if c in INVISIBLE:
        return c in "\ufe0e\ufe0f" and unicodedata.category(prev or " ") == "So"
    return True


@given(names)
@example("Alice\u202eAdvisor")
@example("e\u0301\u0301")
@example("\u00a8\u0301")
def test_property_output_is_normal_and_clean(raw: str) -> None:
    try:
        name = check_display_name(raw)
    except ValidationFailed:
        return
    assert unicodedata.normalize("NFKC", name) == name
    assert 0 < len(name) <= MAX_DISPLAY_NAME
    assert name == name.strip() and "  " not in name
    assert all(c == " " or not c.isspace() for c in name)
    assert all(_acceptable(c, name[i - 1] if i else "") for i, c in enumerate(name))
    assert unicodedata.category(name[0]) not in ("Mn", "Mc", "Me")
    assert check_display_name(name) == name  # idempotent


@given(names)
def test_property_normalising_is_idempotent(raw: str) -> None:
    once = normalise_display_name(raw)
    assert normalise_display_name(once) == once
    assert unicodedata.normalize("NFKC", once) == once


@given(names)
def test_property_refused_names_say_why(raw: str) -> None:
    try:
        check_display_name(raw)
    except ValidationFailed as exc:
        assert str(exc.detail).startswith("display_name ")
        assert exc.code == "validation_failed"


# --- same name --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "other",
    [
        "Alice Advisor",
        "alice advisor",
        "ALICE  ADVISOR",
        " \uff21\uff4c\uff49\uff43\uff45 Advisor ",
    ],
)
def test_display_name_key_matches_case_and_width(other: str) -> None:
    assert display_name_key("Alice Advisor") == display_name_key(other)


def test_display_name_key_tells_different_names_apart() -> None:
    assert display_name_key("Alice Advisor") != display_name_key("Alice Adviser")
    assert display_name_key("Straße") == display_name_key("STRASSE")


def test_users_stored_under_the_earlier_rule_still_load() -> None:
    """A user row from before this rule loads (to sign in and be renamed); the new
    rule applies where a name enters: creating, renaming, joining."""
    made = datetime(2025, 1, 1, tzinfo=UTC)
    legacy = User("sam", "Sam\u200bAdvisor", "$argon2id$x", made)
    assert legacy.display_name == "Sam\u200bAdvisor"
    with pytest.raises(ValidationFailed):
        User("sam", "Sam\x00Advisor", "$argon2id$x", made)
    with pytest.raises(ValidationFailed):
        User("sam", " ", "$argon2id$x", made)
