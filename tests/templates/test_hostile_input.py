"""Broken catalogs stop only their locale; a line break never reaches a header; outbox files
are the owner's alone."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from campaigns.channels.base import Outgoing, SendError
from campaigns.channels.outbox import OutboxTransport
from templates import Renderer, RenderError, TemplateInvalid
from templates.errors import CatalogBroken
from templates.mime import wire_bytes
from templates.validate import validate_folder
from tests.models.test_yaml_loader import billion_laughs
from tests.templates.conftest import StoreFolder

SENDER = "Store <store@example.com>"


def render(renderer: Renderer, locale: str) -> str:
    context = renderer.sample_context("newsletter", locale)
    return renderer.email("newsletter", locale=locale, context=context).subject


# -- catalogs ------------------------------------------------------------------------------


def test_a_broken_catalog_stops_its_locale_only(store_folder: StoreFolder) -> None:
    folder = store_folder({"catalogs/tr.yaml": "newsletter:\n  subject: [unclosed\n"})
    renderer = Renderer(directory=folder)  # loads: one file does not stop the store
    assert render(renderer, "de") and render(renderer, "en")
    with pytest.raises(CatalogBroken) as caught:
        render(renderer, "tr")
    message = str(caught.value)
    assert f"{folder / 'catalogs' / 'tr.yaml'}:3: not valid YAML" in message
    assert caught.value.locale == "tr" and caught.value.template == "newsletter"
    # The built-in Turkish texts are not used in its place, and it is the recipient's error.
    assert isinstance(caught.value, RenderError) and isinstance(caught.value, TemplateInvalid)
    assert renderer.resolve_locale("tr-TR") == "tr"


def test_a_broken_default_catalog_spares_complete_locales(store_folder: StoreFolder) -> None:
    folder = store_folder({"catalogs/en.yaml": "newsletter: {subject: [\n"})
    renderer = Renderer(directory=folder)
    assert render(renderer, "de")  # German has every text of its own
    for locale in ("en", "ja"):  # English, and what falls back to it, need the default
        with pytest.raises(CatalogBroken, match=r"en\.yaml:2"):
            render(renderer, locale)
    [problem] = validate_folder(directory=folder)
    assert problem.locale == "en" and str(problem.file).endswith("en.yaml") and problem.line == 2


def test_catalog_bombs_and_odd_files_are_reported(store_folder: StoreFolder) -> None:
    folder = store_folder(
        {
            "catalogs/fr.yaml": "newsletter:\n  subject: x\n" + billion_laughs(),
            "catalogs/notes.yaml": "a: b\n",
            "catalogs/de.yaml": "newsletter:\n  subject: [1, 2]\n",
        }
    )
    renderer = Renderer(directory=folder)
    assert render(renderer, "en")
    with pytest.raises(CatalogBroken, match=r"fr\.yaml:\d+: more than \d+ aliases"):
        render(renderer, "fr")
    with pytest.raises(CatalogBroken, match=r"newsletter\.subject: a text is expected"):
        render(renderer, "de")
    messages = [p.message for p in validate_folder(directory=folder)]
    assert any("notes.yaml: the file name must be a locale tag" in m for m in messages)
    assert len(messages) == 3


# -- headers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("to", "headers"),
    [
        ('"Ann\r\nBcc: x@evil.example" <ann@example.com>', {}),
        ("Ann\n <ann@example.com>", {}),
        ("ann@example.com", {"List-Unsubscribe": "<https://x>\r\nBcc: x@evil.example"}),
    ],
)
def test_no_header_with_a_line_break_is_written(
    renderer: Renderer, to: str, headers: dict[str, str]
) -> None:
    email = renderer.email(
        "newsletter", locale="en", context=renderer.sample_context("newsletter", "en")
    )
    with pytest.raises(RenderError, match=r"contains a line break \(CR or LF\)"):
        wire_bytes(email, sender=SENDER, to=to, headers=headers)
    with pytest.raises(RenderError, match="line break"):
        email.to_mime(sender=SENDER, to=to, headers=headers)


def test_a_name_with_a_line_break_fails_that_recipient_at_render(renderer: Renderer) -> None:
    context = renderer.sample_context("newsletter", "en")
    context["customer"]["first_name"] = "Ann\r\nBcc: x@evil.example"
    with pytest.raises(RenderError) as caught:
        renderer.email("newsletter", locale="en", context=context)
    assert "customer.first_name contains a line break" in str(caught.value)
    assert "evil" not in str(caught.value)  # the error names the field, never the value


# -- the outbox ---------------------------------------------------------------------------


def _outgoing(renderer: Renderer, ledger_id: int, to: str) -> Outgoing:
    email = renderer.email(
        "newsletter", locale="en", context=renderer.sample_context("newsletter", "en")
    )
    return Outgoing(
        ledger_id=ledger_id,
        customer_id=1,
        campaign="c",
        kind="newsletter",
        channel="email",
        sender=SENDER,
        to=to,
        address="ann@example.com",
        email=email,
    )


def test_outbox_files_are_the_owners_alone(renderer: Renderer, tmp_path: Path) -> None:
    folder = tmp_path / "new" / "outbox"
    outbox = OutboxTransport(folder, channel="email")
    outbox.send(_outgoing(renderer, 7, "Ann <ann@example.com>"))
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "7.eml").stat().st_mode) == 0o600
    with pytest.raises(SendError) as caught:
        outbox.send(_outgoing(renderer, 8, "Ann\r\nBcc: x@evil.example <ann@example.com>"))
    assert caught.value.outcome == "failed" and "line break" in caught.value.reason
    assert sorted(p.name for p in folder.iterdir()) == ["7.eml"]
