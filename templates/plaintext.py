"""The plain-text part, derived once from the compiled HTML template.

The compiled HTML still holds its Jinja expressions (``{{ customer.first_name }}``,
``{% for p in products %}``) as text and attribute values, so converting it to text
*before* rendering gives a text template with the same content and the same variables.
Per recipient both are rendered, and :func:`tidy` folds the blank lines loops leave.

Rules: head, styles and hidden elements (the preheader) are left out; blocks start new
lines; a button (a link shown as a block) becomes ``label: url`` on its own line, another
link ``label (url)``; images are left out (their words are in the text around them).
``data-text="skip"`` keeps an element out of the text, ``data-text="only"`` puts a hidden
one in (for words that the HTML says with layout, like the ends of a rating scale).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

BLOCK = {
    "p",
    "div",
    "table",
    "tr",
    "ul",
    "ol",
    "li",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "section",
    "header",
    "footer",
}
SKIP = {"head", "style", "script", "title", "noscript"}
VOID = {"br", "img", "hr", "meta", "link", "input", "col", "area", "base", "wbr", "source"}
_SPACE = re.compile(r"[ \t\r\n\f\v]+")


class _ToText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skipping = 0
        self.links: list[tuple[int, str | None, bool]] = []

    def _break(self) -> None:
        self.out.append("\n")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.skipping:
            if tag not in VOID:
                self.skipping += 1
            return
        a = dict(attrs)
        style = (a.get("style") or "").replace(" ", "").lower()
        hidden = "display:none" in style and a.get("data-text") != "only"
        if tag in SKIP or hidden or a.get("data-text") == "skip":
            if tag not in VOID:
                self.skipping = 1
            return
        if tag == "br":
            self._break()
        elif tag == "hr":
            self.out.append("\n----\n")
        elif tag in BLOCK:
            self._break()
            if tag == "li":
                self.out.append("- ")
        elif tag == "td":
            self.out.append(" ")
        elif tag == "a":
            button = "display:inline-block" in style or "display:block" in style
            self.links.append((len(self.out), a.get("href"), button))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if not self.skipping and tag in ("br", "hr"):
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if self.skipping:
            if tag not in VOID:
                self.skipping -= 1
            return
        if tag in BLOCK:
            self._break()
        elif tag == "a" and self.links:
            start, href, button = self.links.pop()
            label = _SPACE.sub(" ", "".join(self.out[start:])).strip()
            del self.out[start:]
            self.out.append(_link(label, (href or "").strip(), button))

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.out.append(_SPACE.sub(" ", data))


def _link(label: str, href: str, button: bool) -> str:
    if not href or href.startswith("#"):
        return label
    if href.startswith("mailto:"):
        address = href[len("mailto:") :]
        return label if address in label else f"{label} ({address})" if label else address
    if not label:
        return ""  # a linked picture: the same link follows in words
    if label == href:
        return f" {href} "
    return f"\n{label}: {href}\n" if button else f"{label} ({href})"


def to_text_template(html: str) -> str:
    """The text template for a compiled HTML template (Jinja syntax kept as written)."""
    parser = _ToText()
    parser.feed(html)
    parser.close()
    return tidy("".join(parser.out))


_EDGES = re.compile(r"[ \t\r\f\v]*\n[ \t\r\f\v]*")
_BLANKS = re.compile(r"\n{3,}")


def tidy(text: str) -> str:
    """Strip each line, keep at most one blank line in a row, end with one newline."""
    return _BLANKS.sub("\n\n", _EDGES.sub("\n", text)).strip() + "\n"
