"""Text every receiver takes: lone surrogates and NUL replaced, nothing else touched."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pytest_hawzu.text import REPLACEMENT, as_bytes, hide, hiding, map_strings, meant, valid


@given(st.text())
def test_valid_text_is_utf8_without_nul(text):
    fixed = valid(text)
    fixed.encode("utf-8")
    assert "\x00" not in fixed


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")))
def test_text_that_was_valid_is_left_as_it_was(text):
    assert valid(text) == text


def test_each_bad_character_becomes_one_replacement():
    latin1 = b"r\xe9sum\xe9".decode("utf-8", "surrogateescape")
    assert valid(latin1) == f"r{REPLACEMENT}sum{REPLACEMENT}"
    assert valid("a\x00b") == f"a{REPLACEMENT}b"
    assert valid("\ud800 and \U0001f600") == f"{REPLACEMENT} and \U0001f600"


def test_utf8_read_in_a_locale_that_is_not_utf8_gets_its_characters_back():
    # Under LC_ALL=C (without Python's UTF-8 mode) each byte of "branch\u00e9 \u4e2d"
    # past ASCII reaches Python as a lone surrogate, though the bytes are UTF-8.
    c_locale = "branch\u00e9 \u4e2d".encode().decode("ascii", "surrogateescape")
    assert valid(c_locale) == "branch\u00e9 \u4e2d"
    assert valid(c_locale + "\u00b7\u2026") == "branch\u00e9 \u4e2d\u00b7\u2026"
    # A byte that is not UTF-8 among them is still one replacement.
    mixed = b"\xc3\xa9\xff".decode("ascii", "surrogateescape")
    assert valid(mixed) == f"\u00e9{REPLACEMENT}"


def test_a_value_is_taken_as_meant_or_not_at_all():
    assert meant("1.4.0") == "1.4.0"
    assert meant("r\u00e9l") == "r\u00e9l"
    # UTF-8 bytes read in the C locale: the characters typed.
    assert meant("r\u00e9l".encode().decode("ascii", "surrogateescape")) == "r\u00e9l"
    assert meant(b"r\xe9l".decode("utf-8", "surrogateescape")) is None  # Latin-1
    assert meant("\ud800") is None  # a surrogate that stands for no byte
    assert meant("a\x00b") is None


def test_json_values_are_made_valid_all_the_way_down():
    bad = "x\x00"
    value = {"a": [bad, {"b": (bad, 1, None)}], bad: 2.5}
    assert map_strings(value, valid) == {
        "a": ["x\ufffd", {"b": ["x\ufffd", 1, None]}],
        "x\ufffd": 2.5,
    }


def test_captured_output_gets_its_original_bytes_back():
    assert as_bytes(b"caf\xe9".decode("utf-8", "surrogateescape")) == b"caf\xe9"
    assert as_bytes("caf\u00e9") == "caf\u00e9".encode()
    assert as_bytes("\ud800") == REPLACEMENT.encode()


def test_a_secret_is_hidden_unless_too_short_to_be_one():
    assert hide("token abcdefgh here", hiding("abcdefgh")) == "token *** here"
    assert hiding("abc") == ""
    assert hide("abc abc", hiding("abc")) == "abc abc"
