"""Learner-controlled text is capped and cleaned before anyone sees it."""

from runner.textsafe import cap, clean, decode


def test_ansi_sequences_and_controls_are_removed():
    """CSI, OSC and C0/C1 controls go; tabs and newlines stay."""
    assert clean("\x1b[31mred\x1b[0m\ttab\nline\x00\x07\x9b2J\x1b]0;title\x07end") == "red\ttab\nline2Jend"


def test_cap_adds_a_visible_note():
    """Capped text says how much was cut."""
    text, truncated = cap("a" * 150, 100)
    assert truncated and text == "a" * 100 + "\n[output truncated: 50 more characters not shown]"


def test_short_text_is_untouched():
    """Text under the cap is returned as is."""
    assert cap("hello\n", 100) == ("hello\n", False)


def test_undecodable_bytes_never_raise():
    """Invalid UTF-8 becomes replacement characters."""
    assert decode(b"ok\xff\xfe") == "ok\ufffd\ufffd"
