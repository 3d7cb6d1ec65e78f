"""The directly written wire form reads back exactly as the email package's message."""

from __future__ import annotations

import email
import email.policy

import pytest

from templates import Renderer
from templates.render import RenderedEmail

SENDER = "Homecoming Störe <store@example.com>"
HEADERS = {
    "List-Unsubscribe": "<https://shop.example.com/u/" + "x" * 180 + ">",
    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    "X-Homecoming-Ledger": "42",
}


def _read(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def _norm(text: str) -> str:
    return text.replace("\r\n", "\n").rstrip("\n")


def _same(rendered: RenderedEmail, to: str) -> None:
    fast = rendered.wire(sender=SENDER, to=to, headers=HEADERS)
    slow = rendered.to_mime(sender=SENDER, to=to, headers=HEADERS).as_bytes()
    assert b"\r\n" in fast and b"\n" not in fast.replace(b"\r\n", b"")  # CRLF only
    assert max(len(line) for line in fast.split(b"\r\n")) <= 998
    got, want = _read(fast), _read(slow)
    for name in ("Subject", "From", "To", "Content-Language", *HEADERS):
        assert str(got[name]) == str(want[name]), name
    assert got.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in got.iter_parts()] == ["text/plain", "text/html"]
    for mine, theirs in zip(got.iter_parts(), want.iter_parts(), strict=True):
        assert mine.get_content_charset() == "utf-8"
        assert _norm(mine.get_content()) == _norm(theirs.get_content())
    assert got["Message-ID"].endswith("@example.com>") and got["Date"]


@pytest.mark.parametrize("template", ["winback", "csat_survey", "feedback_survey"])
def test_every_locale_reads_back_the_same(renderer: Renderer, template: str) -> None:
    for locale in renderer.locales():
        context = renderer.sample_context(template, locale)
        rendered = renderer.email(template, locale=locale, context=context)
        _same(rendered, to="Zoë Çelik-Ωmega 김민준 <customer@example.com>")


@pytest.mark.parametrize(
    "text",
    [
        "plain ascii\nshort lines\n",
        "a line far longer than seventy-eight characters " * 6,
        "trailing spaces   \nand tabs\t\n=equals= and dots\n.\n",
        "Türkçe ğüşıöç, magyar őű, polski ąęłńśźż\r\nwindows line ends\r\n",
        "مرحبا بك في المتجر " * 20,
        "",
    ],
)
def test_bodies_in_every_encoding_read_back(text: str) -> None:
    rendered = RenderedEmail(
        subject="Ünïcode subject that is long enough to be folded " * 3,
        preheader="",
        html=f"<p>{text}</p>",
        text=text,
        locale="en",
        direction="ltr",
    )
    _same(rendered, to="plain@example.com")
