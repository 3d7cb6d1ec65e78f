"""What a marketer writes is what customers get: one language, one template per message.

A store template written in English and Turkish only, with an A/B subject, is sent through
the real renderer and the file outbox to customers of several languages. Every message
must be wholly in one language (the customer's, or the fallback) and carry its own
variant's subject; a broken template fails ``campaigns validate`` at its file and line.
"""

from __future__ import annotations

import email
from datetime import UTC, datetime
from email.policy import default
from pathlib import Path

import pytest
from sqlalchemy import Engine, update
from typer.testing import CliRunner

from campaigns.channels.outbox import OutboxTransport
from campaigns.run import run_period
from cli.main import app
from models import Customer
from models.settings import get_settings
from templates import Renderer
from tests.campaigns.conftest import add_customers, add_segment, campaign, ledger

TEXTS = {
    "en": ("Summer picks", "Summer, variant B", "The sun is out", "Our summer list"),
    "tr": ("Yaz seçkisi", "Yaz, B seçeneği", "Güneş çıktı", "Yaz listemiz"),
}
MJML = """\
[% extends "base.mjml" %]
[% block body %]
<mj-section><mj-column>
  <mj-text>[[ _(".heading") ]]</mj-text>
  <mj-text>[[ _(".intro") ]]</mj-text>
</mj-column></mj-section>
[% endblock %]
"""
SUMMER = """\
name: summer
kind: cross_sell
template: summer
segments: [vip]
cadence: {every: weekly, day: monday, hour: 10, time_zone: Europe/Berlin}
local_time: false
variants: [{name: a, weight: 50}, {name: b, weight: 50}]
"""
LOCALES = ["en", "tr", "de", "fr", "sv", "pt-BR", "ko", "ar"]
NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


def _store(root: Path, *, mjml: str = MJML, extra: str = "") -> Path:
    (root / "templates" / "email").mkdir(parents=True)
    (root / "templates" / "catalogs").mkdir()
    (root / "templates" / "templates.yaml").write_text(
        f"summer: {{kind: cross_sell, locales: [en, tr], fallback: en{extra}}}\n"
    )
    (root / "templates" / "email" / "summer.mjml").write_text(mjml)
    for locale, (subject, subject_b, heading, intro) in TEXTS.items():
        (root / "templates" / "catalogs" / f"{locale}.yaml").write_text(
            f'summer:\n  subject: "{subject}"\n  subject@b: "{subject_b}"\n'
            f'  preheader: "{heading}!"\n  heading: "{heading}"\n  intro: "{intro}"\n',
            encoding="utf-8",
        )
    return root / "templates"


def _send(
    engine: Engine, tmp_path: Path, folder: Path, definition: str = SUMMER
) -> list[tuple[int, str, str, str]]:
    ids = add_customers(engine, 4 * len(LOCALES))
    with engine.begin() as conn:
        for i in ids:
            conn.execute(
                update(Customer).where(Customer.id == i).values(locale=LOCALES[i % len(LOCALES)])
            )
    add_segment(engine, "vip", ids)
    outbox = tmp_path / "outbox"
    run_period(
        engine,
        campaign=campaign(definition),
        period="2026-W48",
        now=NOW,
        renderer=Renderer(directory=folder),
        email_transport=OutboxTransport(outbox, channel="email"),
        push_transport=OutboxTransport(outbox, channel="push"),
        journal_dir=tmp_path / "journal",
    )
    sent = []
    for path in sorted(outbox.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=default)
        address = str(message["To"].addresses[0].addr_spec)
        customer = int(address.removeprefix("customer").split("@")[0])
        body = message.get_body(("plain",))
        assert body is not None
        sent.append((customer, str(message["Subject"]), body.get_content(), path.name))
    return sent


def test_every_message_is_in_one_language_with_its_variant_subject(
    engine: Engine, tmp_path: Path
) -> None:
    folder = _store(tmp_path / "store")
    sent = _send(engine, tmp_path, folder)
    rows = {r.customer_id: r for r in ledger(engine) if r.status == "sent"}
    assert len(sent) == len(rows) > 0
    built_in = Renderer().library.catalogs.texts["de"]  # the kind's own German texts
    german = [built_in[f"cross_sell.{k}"].split("{{")[0] for k in ("subject", "heading")]
    for customer, subject, text, _ in sent:
        locale = LOCALES[customer % len(LOCALES)]
        language = "tr" if locale == "tr" else "en"  # everyone else: the whole fallback
        other = "en" if language == "tr" else "tr"
        expected, expected_b, heading, intro = TEXTS[language]
        variant = rows[customer].variant
        assert subject == (expected_b if variant == "b" else expected), (locale, variant)
        assert heading in text and intro in text
        assert not any(t in text or t == subject for t in TEXTS[other])
        assert not any(g in subject or g in text for g in german)  # never the built-in's
    variants = {rows[c].variant for c, *_ in sent}
    assert variants == {"a", "b"}


def test_a_template_set_to_skip_missing_locales_skips_with_a_reason(
    engine: Engine, tmp_path: Path
) -> None:
    folder = _store(tmp_path / "store", extra=", missing_locale: skip")
    sent = _send(engine, tmp_path, folder)
    got = {LOCALES[c % len(LOCALES)] for c, *_ in sent}
    assert got == {"en", "tr"}
    skipped = [r for r in ledger(engine) if r.reason == "missing_locale"]
    assert skipped and all(r.status == "suppressed" for r in skipped)


def test_the_campaign_chooses_over_the_template_for_missing_languages(
    engine: Engine, tmp_path: Path
) -> None:
    """The template falls back to English; this campaign sends Turkish instead, and another
    skips every customer whose language the template lacks."""
    folder = _store(tmp_path / "store")
    turkish = _send(engine, tmp_path, folder, SUMMER + "locale_fallback: tr\n")
    for customer, subject, text, _ in turkish:
        language = "en" if LOCALES[customer % len(LOCALES)] == "en" else "tr"
        assert TEXTS[language][2] in text and subject in TEXTS[language][:2]


def test_a_campaign_can_skip_missing_languages(engine: Engine, tmp_path: Path) -> None:
    folder = _store(tmp_path / "store")
    sent = _send(engine, tmp_path, folder, SUMMER + "missing_locale: skip\n")
    assert {LOCALES[c % len(LOCALES)] for c, *_ in sent} == {"en", "tr"}


def test_a_broken_template_fails_campaigns_validate_at_its_line(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = MJML.replace('[[ _(".intro") ]]', "Hello {{ customer.firstname }}")
    root = tmp_path / "store"
    _store(root, mjml=broken)
    (root / "campaigns").mkdir()
    (root / "campaigns" / "summer.yaml").write_text(SUMMER.replace("[vip]", "[rfm:champions]"))
    monkeypatch.setenv("HOMECOMING_DEFINITIONS_DIR", str(root))
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["campaigns", "validate"])
    assert result.exit_code == 1
    line = broken.splitlines().index(next(x for x in broken.splitlines() if "firstname" in x)) + 1
    where = f"{root / 'templates' / 'email' / 'summer.mjml'}:{line}"
    assert where in result.stderr.replace("\n", "") and "customer.firstname" in result.stderr


def test_bad_language_choices_are_refused_with_file_and_line(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "store"
    (root / "campaigns").mkdir(parents=True)
    text = SUMMER.replace("[vip]", "[rfm:champions]").replace("template: summer", "")
    (root / "campaigns" / "a.yaml").write_text(text + "missing_locale: sometimes\n")
    (root / "campaigns" / "b.yaml").write_text(
        text.replace("name: summer", "name: summer_b") + "locale_fallback: xx\n"
    )
    monkeypatch.setenv("HOMECOMING_DEFINITIONS_DIR", str(root))
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["campaigns", "validate"])
    assert result.exit_code == 1
    said = result.stderr.replace("\n", "")  # the console wraps long lines
    lines = text.count("\n") + 1
    assert f"a.yaml:{lines}" in said and "missing_locale 'sometimes'" in said
    assert f"b.yaml:{lines}" in said and "locale_fallback 'xx' has no catalog" in said
