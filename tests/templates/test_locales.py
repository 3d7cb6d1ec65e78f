"""One message, one language: which locale a customer gets, regional fallback, names."""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from babel import Locale
from babel.dates import format_date
from babel.numbers import format_currency
from typer.testing import CliRunner

from models.settings import get_settings
from templates import LocaleSkipped, Renderer
from templates.renderer import LocaleChooser
from templates.validate import errors, validate_folder, validate_for

STORE_LOCALES = ("en", "tr", "hu", "ko", "ar")
STORE_TEXTS = {
    "en": ("Summer picks in {{ category }}", "Variant B summer", "Sun is out", "Our summer list"),
    "tr": ("{{ category }} yaz seçkisi", "B yaz konusu", "Güneş çıktı", "Yaz listemiz"),
    "hu": ("Nyári válogatás: {{ category }}", "B nyári tárgy", "Süt a nap", "Nyári listánk"),
    "ko": ("{{ category }} 여름 추천", "B 여름 제목", "햇살 가득", "여름 목록"),
    "ar": ("مختارات الصيف من {{ category }}", "موضوع الصيف ب", "الشمس مشرقة", "قائمة الصيف"),
}
SUMMER_MJML = """
[% extends "base.mjml" %]
[% block body %]
[% call parts.intro() if false else "" %][% endcall %]
<mj-section><mj-column>
  <mj-text>[[ _(".heading") ]]</mj-text>
  <mj-text>[[ _(".intro") ]]</mj-text>
  <mj-text>{{ category }} <a href="{{ links.shop }}">{{ links.shop }}</a></mj-text>
</mj-column></mj-section>
[% endblock %]
"""


def _store(store_folder, **entry: str) -> Path:
    extra = "".join(f", {k}: {v}" for k, v in entry.items())
    files = {
        "templates.yaml": f"summer: {{kind: cross_sell{extra}}}\n",
        "email/summer.mjml": SUMMER_MJML.replace(
            '[% call parts.intro() if false else "" %][% endcall %]\n', ""
        ),
    }
    for locale, (subject, subject_b, heading, intro) in STORE_TEXTS.items():
        files[f"catalogs/{locale}.yaml"] = (
            "summer:\n"
            f"  subject: {json.dumps(subject, ensure_ascii=False)}\n"
            f"  subject@b: {json.dumps(subject_b, ensure_ascii=False)}\n"
            f"  preheader: {json.dumps(heading + '!', ensure_ascii=False)}\n"
            f"  heading: {json.dumps(heading, ensure_ascii=False)}\n"
            f"  intro: {json.dumps(intro, ensure_ascii=False)}\n"
        )
    return store_folder(files)


def _visible(text: str) -> str:
    return re.sub(r"\{\{.*?\}\}|\{%.*?%\}", "\x00", text)


def _catalog_strings(renderer: Renderer) -> dict[str, set[str]]:
    """Per locale, the literal pieces of every text (long enough to be telling)."""
    out: dict[str, set[str]] = {}
    for locale, texts in renderer.library.catalogs.texts.items():
        pieces = out.setdefault(locale, set())
        for key, text in texts.items():
            if key.startswith(("categories.", "product_names.")):
                continue
            for piece in _visible(text).split("\x00"):
                piece = piece.strip(" ,.:!?")
                if len(piece) >= 8:
                    pieces.add(piece)
    return out


def _languages_in(message: str, strings: dict[str, set[str]]) -> set[str]:
    found = {
        loc.split("-")[0] for loc, pieces in strings.items() if any(p in message for p in pieces)
    }
    return found


def test_a_store_template_lacking_a_locale_sends_the_whole_message_in_the_fallback(
    store_folder,
) -> None:
    renderer = Renderer(directory=_store(store_folder))
    strings = _catalog_strings(renderer)
    context = renderer.sample_context("summer", "de")
    email = renderer.email("summer", locale="de", context=context)
    assert email.locale == "en" and 'lang="en"' in email.html
    whole = "\n".join([email.subject, email.preheader, email.text])
    assert _languages_in(whole, strings) == {"en"}
    assert email.subject.startswith("Summer picks in")
    # Nothing of the built-in cross_sell template, in any language.
    for texts in renderer.library.catalogs.texts.values():
        intro = texts.get("cross_sell.intro", "")
        assert _visible(intro).split("\x00")[-1].strip() not in whole
    choice = renderer.locale_for("summer", "de")
    assert choice.locale == "en" and choice.reason and "de" in choice.reason


@pytest.mark.parametrize("locale", [*STORE_LOCALES, "de", "fr", "sv", "pt-BR"])
def test_every_variant_keeps_its_own_subject_in_every_locale(store_folder, locale: str) -> None:
    renderer = Renderer(directory=_store(store_folder))
    context = renderer.sample_context("summer", locale)
    a = renderer.email("summer", locale=locale, context=context)
    b = renderer.email("summer", locale=locale, context=context, variant="b")
    expected = STORE_TEXTS.get(locale, STORE_TEXTS["en"])
    assert b.subject == expected[1]
    assert a.subject != b.subject
    assert a.locale == b.locale == (locale if locale in STORE_LOCALES else "en")


def test_a_variant_text_missing_in_one_locale_moves_only_that_variant(store_folder) -> None:
    folder = store_folder({"catalogs/de.yaml": 'newsletter:\n  subject@b: ""\n'})
    (folder / "catalogs/de.yaml").write_text("common: {}\n", encoding="utf-8")
    (folder / "catalogs/en.yaml").write_text(
        'newsletter:\n  subject@c: "Only in English"\n', encoding="utf-8"
    )
    renderer = Renderer(directory=folder)
    context = renderer.sample_context("newsletter", "de")
    c = renderer.email("newsletter", locale="de", context=context, variant="c")
    base = renderer.email("newsletter", locale="de", context=context)
    assert c.subject == "Only in English" and c.locale == "en"
    assert base.locale == "de"
    problems = validate_for(renderer, "newsletter", ["de", "fr"], [None, "c"])
    [gap] = [p for p in errors(problems) if p.key == "newsletter.subject@c"]
    assert set(gap.locales) == {"de", "fr"} and gap.variants == ("c",)
    assert str(gap.file).endswith("en.yaml") and gap.line == 2


def test_a_template_may_skip_customers_it_has_no_language_for(store_folder) -> None:
    renderer = Renderer(directory=_store(store_folder, missing_locale="skip"))
    chooser: LocaleChooser = renderer  # what campaigns may type against
    assert chooser.locale_for("summer", "de").locale is None
    choice = renderer.locale_for("summer", "de")
    assert choice.skipped and choice.reason
    with pytest.raises(LocaleSkipped, match="summer"):
        renderer.email("summer", locale="de", context=renderer.sample_context("summer", "de"))
    # A campaign may choose otherwise, and name its own fallback.
    assert renderer.locale_for("summer", "de", skip=False, fallback="tr").locale == "tr"
    assert renderer.locale_for("summer", "ko").locale == "ko"


def test_declared_locales_limit_where_a_template_is_sent(store_folder) -> None:
    renderer = Renderer(directory=_store(store_folder, locales="[en, tr]"))
    assert renderer.locale_for("summer", "ko").locale == "en"
    assert renderer.locale_for("summer", "tr-CY").locale == "tr"


# -- regions -----------------------------------------------------------------------------


def test_pt_br_falls_back_region_language_default_with_its_own_formats(
    renderer: Renderer,
) -> None:
    catalogs = renderer.library.catalogs
    context = renderer.sample_context("promotion", "pt-BR")
    context["products"][0].update(price=Decimal("1234.5"), currency="EUR")
    br = renderer.email("promotion", locale="pt-BR", context=context)
    pt = renderer.email("promotion", locale="pt-PT", context=context)
    assert br.locale == "pt-BR" and pt.locale == "pt"
    assert catalogs.texts["pt-BR"]["common.unsubscribe"] in br.text
    assert catalogs.texts["pt"]["promotion.button"] in br.text  # not in pt-BR: from pt
    assert catalogs.texts["pt"]["common.unsubscribe"] in pt.text
    for email, tag in ((br, "pt_BR"), (pt, "pt_PT")):
        price = format_currency(Decimal("1234.5"), "EUR", locale=Locale.parse(tag))
        assert price in email.text
    assert format_currency(1, "EUR", locale="pt_BR") != format_currency(1, "EUR", locale="pt_PT")


def test_english_regions_format_dates_their_own_way(renderer: Renderer) -> None:
    context = renderer.sample_context("winback", "en")
    us = renderer.email("winback", locale="en-US", context=context)
    gb = renderer.email("winback", locale="en-GB", context=context)
    assert us.locale == gb.locale == "en"
    day = date.fromisoformat(str(context["order"]["date"]))
    assert format_date(day, "long", locale="en_US") in us.text
    assert format_date(day, "long", locale="en_GB") in gb.text
    assert format_date(day, "long", locale="en_US") != format_date(day, "long", locale="en_GB")


# -- names from the catalogs -------------------------------------------------------------


@pytest.mark.parametrize("locale", ["tr", "ko", "ar", "pt-BR"])
def test_category_names_are_translated_inside_sentences(renderer: Renderer, locale: str) -> None:
    context = renderer.sample_context("cross_sell", locale)
    context["category"] = "pet_food"
    email = renderer.email("cross_sell", locale=locale, context=context)
    name = renderer.library.catalogs.find("categories.pet_food", [locale, locale.split("-")[0]])
    assert name and name in email.subject and name in email.text
    assert "pet_food" not in email.text and "pet_food" not in email.subject


def test_an_unnamed_category_slug_is_flagged(renderer: Renderer) -> None:
    problems = validate_for(
        renderer, "cross_sell", ["tr", "ko"], [None], categories=["garden", "books"]
    )
    [slug] = [p for p in problems if p.key == "categories.garden"]
    assert slug.level == "error" and "slug is shown" in slug.message
    assert set(slug.locales) == {"tr", "ko"} and str(slug.file).endswith("en.yaml")
    assert not [p for p in problems if p.key == "categories.books"]


def test_product_names_come_from_the_catalog_when_it_has_them(store_folder) -> None:
    folder = store_folder(
        {"catalogs/de.yaml": 'product_names:\n  "Stoneware Mug, Sage": "Steingutbecher, Salbei"\n'}
    )
    renderer = Renderer(directory=folder)
    context = renderer.sample_context("newsletter", "de")
    assert (
        "Steingutbecher, Salbei" in renderer.email("newsletter", locale="de", context=context).text
    )
    en = renderer.email("newsletter", locale="en", context=context)
    assert "Stoneware Mug, Sage" in en.text


def test_a_product_without_a_picture_has_no_empty_column(renderer: Renderer) -> None:
    context = renderer.sample_context("newsletter", "en")
    with_pictures = renderer.email("newsletter", locale="en", context=context).html
    for product in context["products"]:
        product["image_url"] = None
    without = renderer.email("newsletter", locale="en", context=context).html
    body = without.split("</head>", 1)[1]
    assert "mj-column-per-36" in with_pictures.split("</head>", 1)[1]
    assert "mj-column-per-36" not in body and "<img" not in body
    assert all(
        p["name"].split(",")[0].split("&")[0].strip() in without for p in context["products"]
    )


# -- validation of broken templates ------------------------------------------------------


def test_each_problem_is_reported_once_at_its_source_line(store_folder) -> None:
    folder = store_folder(
        {
            "templates.yaml": "summer: {kind: promotion}\n",
            "email/summer.mjml": """
                [% extends "promotion.mjml" %]
                [% block sign_off %]
                <mj-section><mj-column>
                  <mj-text>{{ discount.code | }}</mj-text>
                </mj-column></mj-section>
                [% endblock %]
            """,
            "email/winback.mjml": """
                [% extends "base.mjml" %]
                [% block body %]
                <mj-section><mj-column>
                  <mj-text>{{ order.number }}</mj-text>
                  <mj-text>{{ order.tracking_url }}</mj-text>
                </mj-column></mj-section>
                [% endblock %]
            """,
        }
    )
    problems = errors(validate_folder(directory=folder))
    syntax = [p for p in problems if p.template == "summer"]
    assert len(syntax) == 1 and "syntax" in syntax[0].message.lower()
    assert str(syntax[0].file).endswith("summer.mjml") and syntax[0].line == 4
    unknown = [p for p in problems if p.template == "winback"]
    assert len(unknown) == 1 and unknown[0].key == "order.tracking_url"
    assert str(unknown[0].file).endswith("winback.mjml") and unknown[0].line == 5
    assert set(unknown[0].locales) == set(Renderer().locales())
    assert len(problems) == len({(p.file, p.line, p.key, p.message) for p in problems})


def test_a_syntax_error_in_a_catalog_text_points_at_the_catalog_line(store_folder) -> None:
    folder = store_folder({"catalogs/fr.yaml": 'common:\n  greeting: "Bonjour {{ customer. }}"\n'})
    problems = errors(validate_folder(directory=folder))
    assert problems
    assert all(str(p.file).endswith("fr.yaml") for p in problems), problems
    assert {p.line for p in problems} == {2}


def test_validate_json_is_one_document_counting_problems(store_folder, monkeypatch) -> None:
    from cli.templates import app

    folder = _store(store_folder)
    monkeypatch.setenv("HOMECOMING_DEFINITIONS_DIR", str(folder.parent))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["validate", "--json"])
        report = json.loads(result.stdout)
        assert result.exit_code == 0, result.output
        assert report["ok"] is True and report["errors"] == []
        [warning] = report["warnings"]
        assert set(warning["locales"]) >= {"de", "fr", "sv"}
        text = CliRunner().invoke(app, ["validate"])
        assert "1 problem(s): 0 error(s), 1 warning(s)" in text.stdout
    finally:
        get_settings.cache_clear()


def test_preview_in_a_locale_the_template_lacks_fails_naming_valid_ones(
    store_folder, monkeypatch, tmp_path: Path
) -> None:
    from cli.templates import app

    folder = _store(store_folder)
    monkeypatch.setenv("HOMECOMING_DEFINITIONS_DIR", str(folder.parent))
    get_settings.cache_clear()
    try:
        for locale in ("de", "xx", "not a tag"):
            result = CliRunner().invoke(
                app, ["preview", "summer", "--locale", locale, "--out", str(tmp_path)]
            )
            assert result.exit_code != 0
            assert isinstance(result.exception, SystemExit)
            assert "valid locales: ar, en, hu, ko, tr" in result.output
            assert "Traceback" not in result.output
        ok = CliRunner().invoke(
            app, ["preview", "summer", "--locale", "ko", "--out", str(tmp_path)]
        )
        assert ok.exit_code == 0, ok.output
    finally:
        get_settings.cache_clear()
