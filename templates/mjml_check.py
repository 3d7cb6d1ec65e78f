"""What mjml-python does not check: element names and where each element may stand.

mjml-python copies an unknown tag (``<mj-buton>``) into the HTML and accepts a
``<mj-text>`` straight in ``<mj-body>``; the result renders badly in some clients and
nobody is told. These checks run on the template files (names, with their own line
numbers) and on the assembled MJML (placement).
"""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser

CONTENT = {
    "mj-text",
    "mj-button",
    "mj-image",
    "mj-divider",
    "mj-spacer",
    "mj-table",
    "mj-social",
    "mj-navbar",
    "mj-accordion",
    "mj-carousel",
}
ANYWHERE = {"mj-raw"}
PARENTS: dict[str, set[str | None]] = {
    "mjml": {None},
    "mj-head": {"mjml"},
    "mj-body": {"mjml"},
    "mj-attributes": {"mj-head"},
    "mj-breakpoint": {"mj-head"},
    "mj-font": {"mj-head"},
    "mj-preview": {"mj-head"},
    "mj-style": {"mj-head"},
    "mj-title": {"mj-head"},
    "mj-wrapper": {"mj-body"},
    "mj-section": {"mj-body", "mj-wrapper"},
    "mj-hero": {"mj-body", "mj-wrapper"},
    "mj-group": {"mj-section"},
    "mj-column": {"mj-section", "mj-group"},
    **{name: {"mj-column", "mj-hero"} for name in CONTENT},
    "mj-social-element": {"mj-social"},
    "mj-navbar-link": {"mj-navbar"},
    "mj-accordion-element": {"mj-accordion"},
    "mj-accordion-title": {"mj-accordion-element"},
    "mj-accordion-text": {"mj-accordion-element"},
    "mj-carousel-image": {"mj-carousel"},
}
KNOWN = set(PARENTS) | ANYWHERE
# Elements whose content is HTML (or CSS, or text), not MJML.
ENDING = {
    "mj-text",
    "mj-button",
    "mj-table",
    "mj-raw",
    "mj-navbar-link",
    "mj-social-element",
    "mj-accordion-title",
    "mj-accordion-text",
    "mj-style",
    "mj-title",
    "mj-preview",
}
# Inside <mj-attributes> children name the element they give defaults to.
ATTRIBUTE_DEFAULTS = KNOWN | {"mj-all", "mj-class"}
UNSUPPORTED = {
    "mj-include": "use [% include %] or [% extends %] in the template instead",
    "mj-html-attributes": "mjml-python does not support it",
    "mj-selector": "mjml-python does not support mj-html-attributes",
}


@dataclass(frozen=True)
class ElementProblem:
    line: int
    element: str
    message: str


class _Checker(HTMLParser):
    def __init__(self, *, placement: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.placement = placement
        self.stack: list[tuple[str, int]] = []
        self.raw: str | None = None  # inside an element whose content is HTML
        self.problems: list[ElementProblem] = []

    def _problem(self, element: str, message: str) -> None:
        self.problems.append(ElementProblem(self.getpos()[0], element, message))

    def _parent(self) -> str | None:
        return self.stack[-1][0] if self.stack else None

    def _open(self, tag: str) -> None:
        parent = self._parent()
        if parent == "mj-attributes":
            if tag not in ATTRIBUTE_DEFAULTS:
                self._problem(tag, f"<{tag}> in <mj-attributes> is not an MJML element")
            return
        if tag in UNSUPPORTED:
            self._problem(tag, f"<{tag}> is not supported: {UNSUPPORTED[tag]}")
        elif tag not in KNOWN:
            if tag.startswith("mj-"):
                self._problem(tag, f"unknown MJML element <{tag}>{_suggest(tag)}")
            else:
                self._problem(
                    tag, f"HTML element <{tag}> outside mj-text, mj-button, mj-table or mj-raw"
                )
        elif self.placement and tag not in ANYWHERE and parent not in PARENTS[tag]:
            allowed = ", ".join(f"<{p}>" for p in sorted(p for p in PARENTS[tag] if p))
            where = f"<{parent}>" if parent else "the top level"
            self._problem(tag, f"<{tag}> cannot stand in {where}; it belongs in {allowed}")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.raw:
            return
        self._open(tag)
        self.stack.append((tag, self.getpos()[0]))
        if tag in ENDING:
            self.raw = tag

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.raw:
            return
        self._open(tag)

    def handle_endtag(self, tag: str) -> None:
        if self.raw:
            if tag != self.raw:
                return
            self.raw = None
        if not self.stack:
            self._problem(tag, f"closing </{tag}> without an opening tag")
            return
        opened, line = self.stack[-1]
        if opened != tag:
            self._problem(tag, f"closing </{tag}> but <{opened}> from line {line} is still open")
            if any(t == tag for t, _ in self.stack):
                while self.stack and self.stack[-1][0] != tag:
                    self.stack.pop()
            else:
                return
        self.stack.pop()

    def finish(self) -> list[ElementProblem]:
        self.close()
        for tag, line in self.stack:
            self.problems.append(ElementProblem(line, tag, f"<{tag}> is never closed"))
        return self.problems


def _suggest(tag: str) -> str:
    import difflib

    close = difflib.get_close_matches(tag, sorted(KNOWN | set(UNSUPPORTED)), n=1)
    return f" (did you mean <{close[0]}>?)" if close else ""


def check_elements(source: str) -> list[ElementProblem]:
    """Unknown or unsupported element names in one template file (its own line numbers)."""
    checker = _Checker(placement=False)
    checker.feed(source)
    problems = checker.finish()
    # A file holding blocks of a layout starts and ends mid-document: only names matter here.
    return [p for p in problems if "closed" not in p.message and "closing" not in p.message]


def check_document(mjml: str) -> list[ElementProblem]:
    """Names, nesting and placement in an assembled MJML document."""
    checker = _Checker(placement=True)
    checker.feed(mjml)
    return checker.finish()


def position_to_line(text: str, offset: int) -> int:
    return text.count("\n", 0, max(0, offset)) + 1
