"""The plain-text part: derived from the HTML once, with Jinja kept, then rendered."""

from __future__ import annotations

from templates.compile import TEXT_ENV
from templates.plaintext import tidy, to_text_template


def test_links_buttons_and_hidden_parts() -> None:
    html = """<html><head><title>T</title><style>p {color: red}</style></head><body>
    <div style="display:none;max-height:0">Preheader text</div>
    <div><p>Hello {{ name }},</p><p>Read <a href="{{ url }}">our story</a> today.</p></div>
    <table><tr><td><a href="{{ shop }}" style="display:inline-block;padding:10px">Shop now</a></td></tr></table>
    <a href="{{ shop }}"><img src="x.png" alt="logo"></a>
    <div data-text="skip">Only in HTML</div>
    <div data-text="only" style="display:none">Only in text</div>
    <p>Tom &amp; Jerry&nbsp;Ltd · <a href="mailto:help@example.com">help@example.com</a></p>
    </body></html>"""
    source = to_text_template(html)
    text = tidy(
        TEXT_ENV.from_string(source).render(name="Emma", url="https://e.x/s", shop="https://e.x")
    )
    lines = text.splitlines()
    assert "Preheader text" not in text and "color: red" not in text and "T\n" not in text
    assert "Hello Emma," in lines
    assert "Read our story (https://e.x/s) today." in lines
    assert "Shop now: https://e.x" in lines
    assert "logo" not in text and "Only in HTML" not in text
    assert "Only in text" in lines
    assert "Tom & Jerry\u00a0Ltd · help@example.com" in lines
    assert "\n\n\n" not in text and text.endswith("\n")
