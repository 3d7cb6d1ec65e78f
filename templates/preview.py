"""Previews for marketers: a template rendered with sample values, as files and pictures.

For each template x locale (x variant) this writes the HTML, the text part, the whole
MIME message (``.eml``, opens in any mail program) and the push text, and on request PNG
screenshots at desktop and phone widths taken with Debian's Chromium through Playwright.
The browser never goes on the network: pictures are replaced by grey placeholders.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from templates.render import Renderer

if TYPE_CHECKING:
    from playwright.sync_api import Route

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
WIDTHS = {"desktop": 1200, "mobile": 390}
PLACEHOLDER = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="400" height="400" viewBox="0 0 400 400">'
    '<rect width="400" height="400" fill="#e6e1d8"/>'
    '<path d="M110 280l70-90 50 60 35-40 55 70z" fill="#c9c1b3"/>'
    '<circle cx="265" cy="150" r="28" fill="#c9c1b3"/></svg>'
)


class PreviewError(Exception):
    """The preview could not be made (no browser, for instance)."""


@dataclass(frozen=True)
class Preview:
    template: str
    locale: str
    variant: str | None
    files: dict[str, Path]


def _stem(template: str, locale: str, variant: str | None) -> str:
    return f"{template}.{locale}" + (f".{variant}" if variant else "")


def write_preview(
    renderer: Renderer,
    template: str,
    *,
    locale: str,
    out: Path,
    variant: str | None = None,
    png: bool = False,
    context: Mapping[str, Any] | None = None,
    chromium: Path = CHROMIUM,
) -> Preview:
    """Render ``template`` with sample values (or ``context``) and write the preview files."""
    resolved = renderer.resolve_locale(locale)
    values = dict(context) if context is not None else renderer.sample_context(template, locale)
    out.mkdir(parents=True, exist_ok=True)
    stem = _stem(template, resolved, variant)
    files: dict[str, Path] = {}
    channels = renderer.channels(template)
    if "email" in channels:
        email = renderer.email(template, locale=locale, context=values, variant=variant)
        files["html"] = out / f"{stem}.html"
        files["html"].write_text(email.html, encoding="utf-8")
        files["text"] = out / f"{stem}.txt"
        files["text"].write_text(
            f"Subject: {email.subject}\nPreheader: {email.preheader}\n\n{email.text}",
            encoding="utf-8",
        )
        message = email.to_mime(
            sender="Preview <preview@example.com>", to="Sample Customer <customer@example.com>"
        )
        files["eml"] = out / f"{stem}.eml"
        files["eml"].write_bytes(message.as_bytes())
        if png:
            shots = screenshot(email.html, out / stem, chromium=chromium)
            files.update({f"png_{name}": path for name, path in shots.items()})
    if "push" in channels:
        push = renderer.push(template, locale=locale, context=values, variant=variant)
        files["push"] = out / f"{stem}.push.json"
        files["push"].write_text(
            json.dumps(
                {
                    "title": push.title,
                    "body": push.body,
                    "deep_link": push.deep_link,
                    "locale": push.locale,
                },
                ensure_ascii=False,
                indent=2,
            )
            + "\n",
            encoding="utf-8",
        )
    return Preview(template=template, locale=resolved, variant=variant, files=files)


def screenshot(
    html: str,
    stem: Path,
    *,
    widths: Mapping[str, int] = WIDTHS,
    chromium: Path = CHROMIUM,
) -> dict[str, Path]:
    """Full-page PNGs of ``html``, one per width: ``STEM.desktop.png``, ``STEM.mobile.png``."""
    return screenshots([(html, stem)], widths=widths, chromium=chromium)[0]


def screenshots(
    pages: Iterable[tuple[str, Path]],
    *,
    widths: Mapping[str, int] = WIDTHS,
    chromium: Path = CHROMIUM,
) -> list[dict[str, Path]]:
    """Several pages with one browser start (a start costs about a second)."""
    if not chromium.exists():
        raise PreviewError(
            f"{chromium} not found: install Debian's chromium package (apt-get install chromium)"
        )
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - playwright is a dependency of previews
        raise PreviewError("playwright is not installed: pip install playwright") from None

    def offline(route: Route) -> None:
        if route.request.resource_type == "image":
            route.fulfill(status=200, content_type="image/svg+xml", body=PLACEHOLDER)
        else:
            route.abort()

    results: list[dict[str, Path]] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS
            )
            try:
                for html, stem in pages:
                    shots: dict[str, Path] = {}
                    for name, width in widths.items():
                        page = browser.new_page(viewport={"width": width, "height": 300})
                        page.route("**/*", offline)
                        page.set_content(html, wait_until="load")
                        path = stem.with_name(f"{stem.name}.{name}.png")
                        page.screenshot(path=str(path), full_page=True)
                        page.close()
                        shots[name] = path
                    results.append(shots)
            finally:
                browser.close()
    except PlaywrightError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PreviewError(f"Chromium failed: {first}") from None
    return results
