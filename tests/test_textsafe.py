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


def test_redactor_removes_lines_and_token_literals():
    """Whole secret lines and canary-like literals go; sentences a program may echo stay."""
    from runner.textsafe import Redactor, string_literals

    source = 'CANARY = "bk-canary-0123456789abcdef"\nMESSAGE = "the url is required"\n'
    redact = Redactor([source], literals=string_literals(source))
    assert redact("value bk-canary-0123456789abcdef!") == "value [hidden content redacted]!"
    assert redact("error: the url is required") == "error: the url is required"


def test_redactor_drops_a_secret_cut_by_the_cap():
    """A secret that the cap cuts in half is removed, not shown in part."""
    from runner.textsafe import Redactor

    secret = "bk-canary-0123456789abcdef-0123"
    redact = Redactor([], literals=[secret])
    text, truncated = redact.cap("x" * 90 + secret[:14], 200)  # the capture kept only a part of it
    assert (text, truncated) == ("x" * 90 + "[hidden content redacted]", False)
    text, truncated = redact.cap("y" * 95 + secret, 100)
    assert truncated and "bk-canary" not in text


def test_the_learners_own_code_is_never_redacted():
    """A line of the reference the learner also wrote is theirs: shown as written; the rest stays hidden."""
    from runner.textsafe import Redactor

    reference = ("    bookmarks = session.scalars(select(Bookmark).order_by(Bookmark.id)).all()\n"
                 "    SECRET_EXPECTED_VALUE = 'a line only the reference has'\n")
    own = "def list_bookmarks():\n    bookmarks = session.scalars(select(Bookmark).order_by(Bookmark.id)).all()\n"
    redact = Redactor([reference]).sparing([own])
    traceback = ('  File "app.py", line 73, in list_bookmarks\n'
                 "    bookmarks = session.scalars(select(Bookmark).order_by(Bookmark.id)).all()\n"
                 "SECRET_EXPECTED_VALUE = 'a line only the reference has'\n")
    shown = redact(traceback)
    assert "bookmarks = session.scalars(select(Bookmark).order_by(Bookmark.id)).all()" in shown
    assert "a line only the reference has" not in shown and "[hidden content redacted]" in shown
    assert Redactor([reference])(traceback).count("[hidden content redacted]") == 2
