"""Rendering: every template in every locale as a MIME message, missing values, fallbacks."""

from __future__ import annotations

import copy
import email
import email.policy
import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from babel import Locale
from babel.dates import format_date
from babel.numbers import format_currency, format_percent

from templates import Renderer, RenderError, TemplateInvalid
from templates.compile import HTML_ENV
from templates.render import fit
from templates.validate import errors, validate

REQUIRED_LOCALES = {"en", "tr", "hu", "ko", "de", "fr", "pl", "sv", "ar"}
TEMPLATES = {
    "newsletter",
    "winback",
    "replenishment",
    "cross_sell",
    "review_request",
    "promotion",
    "csat_survey",
    "nps_survey",
    "feedback_survey",
    "service_recovery",
}


def _attr(html: str, tag: str, name: str) -> str | None:
    found = re.search(rf"<{tag}\b[^>]*\b{name}=\"([^\"]*)\"", html)
    return found.group(1) if found else None


def _parse(message: email.message.EmailMessage) -> email.message.EmailMessage:
    return email.message_from_bytes(message.as_bytes(), policy=email.policy.default)


def test_catalogs_and_templates_cover_the_markets(renderer: Renderer) -> None:
    assert set(renderer.locales()) >= REQUIRED_LOCALES
    assert set(renderer.names()) >= TEMPLATES
    assert {renderer.kind(t) for t in TEMPLATES} == TEMPLATES


def test_every_template_validates_in_every_locale(renderer: Renderer) -> None:
    problems = errors(validate(renderer))
    assert problems == [], "\n".join(str(p) for p in problems)


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_every_locale_renders_a_complete_mime_message(renderer: Renderer, template: str) -> None:
    for locale in renderer.locales():
        context = renderer.sample_context(template, locale)
        rendered = renderer.email(template, locale=locale, context=context)
        message = rendered.to_mime(
            sender="Homecoming Store <store@example.com>",
            to="Sample Customer <customer@example.com>",
            headers={"List-Unsubscribe": f"<{context['links']['unsubscribe']}>"},
        )
        parsed = _parse(message)
        assert parsed.get_content_type() == "multipart/alternative"
        parts = list(parsed.iter_parts())
        assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
        text, html = (p.get_content() for p in parts)
        assert parsed["Subject"] == rendered.subject and rendered.subject.strip()
        assert parsed["Content-Language"] == locale
        assert parsed["List-Unsubscribe"] == f"<{context['links']['unsubscribe']}>"
        assert parsed["From"].addresses[0].addr_spec == "store@example.com"
        # The language and the direction, on <html> and on the body's wrapper for webmail.
        direction = "rtl" if locale == "ar" else "ltr"
        assert rendered.direction == direction
        assert _attr(html, "html", "lang") == locale
        assert _attr(html, "html", "dir") == direction
        assert f'lang="{locale}" dir="{direction}"' in html
        if direction == "rtl":
            assert 'align="right"' in html and "direction:rtl" in html
        # The recipient's values went in, and nothing came out empty.
        first_name = context["customer"]["first_name"]
        if locale != "pl":  # the Polish greeting leaves the name out on purpose (vocative)
            assert first_name in text and first_name in html
        for body in (text, html):
            assert "None" not in body and "{{" not in body and "[[" not in body
        assert context["links"]["unsubscribe"] in text
        assert renderer.library.brand["address"][0] in text
        assert rendered.preheader and rendered.preheader in html
        assert rendered.preheader not in text.splitlines()  # hidden preview text: HTML only


def test_survey_buttons_carry_each_score(renderer: Renderer) -> None:
    for template, scores in (("csat_survey", range(1, 6)), ("nps_survey", range(11))):
        context = renderer.sample_context(template, "de")
        rendered = renderer.email(template, locale="de", context=context)
        for score in scores:
            url = context["links"]["survey"][str(score)]
            assert f'href="{url}"' in rendered.html
            assert url in rendered.text
        assert len(context["links"]["survey"]) == len(scores)


def test_feedback_choices_are_labelled_in_the_customers_language(renderer: Renderer) -> None:
    context = renderer.sample_context("feedback_survey", "sv")
    rendered = renderer.email("feedback_survey", locale="sv", context=context)
    texts = renderer.library.catalogs.texts["sv"]
    for choice, url in context["links"]["feedback"].items():
        label = texts[f"feedback_survey.choices.{choice}"]
        assert f"{label}: {url}" in rendered.text
    context["links"]["feedback"] = {"teleported": "https://example.com/f/x"}
    with pytest.raises(RenderError, match=r"texts\.feedback_survey\.choices\.teleported"):
        renderer.email("feedback_survey", locale="sv", context=context)


# -- missing values ---------------------------------------------------------------------


def test_missing_value_is_a_render_error_naming_the_variable(renderer: Renderer) -> None:
    context = renderer.sample_context("winback", "de")
    del context["order"]
    with pytest.raises(RenderError, match=r"winback \[de\]: missing value: order"):
        renderer.email("winback", locale="de", context=context)

    context = renderer.sample_context("review_request", "en")
    context["order"]["number"] = None
    with pytest.raises(RenderError, match=r"missing value: order\.number"):
        renderer.email("review_request", locale="en", context=context)

    context = renderer.sample_context("newsletter", "en")
    context["products"][1]["price"] = None
    with pytest.raises(RenderError, match=r"missing value: products\[1\]\.price"):
        renderer.email("newsletter", locale="en", context=context)

    context = renderer.sample_context("promotion", "en")
    context["discount"]["code"] = "  "
    with pytest.raises(RenderError, match=r"missing value: discount\.code"):
        renderer.email("promotion", locale="en", context=context)


def test_a_wrong_type_is_a_render_error_not_a_crash(renderer: Renderer) -> None:
    context = renderer.sample_context("newsletter", "fr")
    context["products"][0]["price"] = "twelve"
    with pytest.raises(RenderError, match="money: a number is expected"):
        renderer.email("newsletter", locale="fr", context=context)
    context = renderer.sample_context("winback", "fr")
    context["order"]["date"] = 20260314
    with pytest.raises(RenderError, match="date: a date is expected"):
        renderer.email("winback", locale="fr", context=context)


@pytest.mark.parametrize("first_name", [None, "", "   ", "absent"])
def test_no_first_name_gives_the_polite_greeting_without_a_name(
    renderer: Renderer, first_name: str | None
) -> None:
    for locale, greeting in (("en", "Hello,"), ("de", "Guten Tag,"), ("ko", "고객님, 안녕하세요.")):
        context = renderer.sample_context("newsletter", locale)
        if first_name == "absent":
            del context["customer"]["first_name"]
        else:
            context["customer"]["first_name"] = first_name
        rendered = renderer.email("newsletter", locale=locale, context=context)
        assert greeting in rendered.text.splitlines()
        assert "Hello ," not in rendered.text and "None" not in rendered.html


def test_values_are_escaped_in_html_and_plain_in_text(renderer: Renderer) -> None:
    context = renderer.sample_context("cross_sell", "en")
    context["products"][0]["name"] = 'Mug <script>alert("x")</script> & Co'
    rendered = renderer.email("cross_sell", locale="en", context=context)
    assert "<script>" not in rendered.html
    assert "Mug &lt;script&gt;" in rendered.html
    assert 'Mug <script>alert("x")</script> & Co' in rendered.text
    assert "Kitchen &amp; Dining" in rendered.html and "Kitchen & Dining" in rendered.subject


def test_header_injection_through_a_value_is_flattened(renderer: Renderer) -> None:
    context = renderer.sample_context("cross_sell", "en")
    context["category"] = "Tea\r\nBcc: victim@example.com"
    rendered = renderer.email("cross_sell", locale="en", context=context)
    assert "\n" not in rendered.subject and "\r" not in rendered.subject
    parsed = _parse(rendered.to_mime(sender="s@example.com", to="c@example.com"))
    assert parsed["Bcc"] is None


# -- locales ------------------------------------------------------------------------------


def test_locale_fallback_chain(renderer: Renderer) -> None:
    assert renderer.resolve_locale("pt-BR") == "pt-BR"
    assert renderer.resolve_locale("pt_br") == "pt-BR"
    assert renderer.resolve_locale("pt-PT") == "pt"
    assert renderer.resolve_locale("de-AT") == "de"
    assert renderer.resolve_locale("zh-Hant-TW") == "en"
    assert renderer.resolve_locale("ja") == "en"
    assert renderer.resolve_locale("") == "en"
    assert renderer.resolve_locale(None) == "en"
    assert renderer.resolve_locale("not a locale!") == "en"
    context = renderer.sample_context("promotion", "pt")
    rendered = renderer.email("promotion", locale="pt-BR", context=context)
    assert rendered.locale == "pt-BR"
    assert 'lang="pt-BR"' in rendered.html
    # Numbers and dates follow the customer's region when the language is the same.
    expires = format_date(date(2026, 4, 30), format="long", locale=Locale.parse("pt_BR"))
    assert expires in rendered.text


def test_a_regional_catalog_overrides_only_its_own_keys(store_folder) -> None:
    folder = store_folder(
        {
            "catalogs/pt-BR.yaml": """
                common:
                  greeting: "Oi {{ customer.first_name }},"
                newsletter:
                  heading: "Novidades da semana"
            """
        }
    )
    renderer = Renderer(directory=folder)
    assert renderer.resolve_locale("pt-BR") == "pt-BR"
    assert renderer.resolve_locale("pt-PT") == "pt"
    context = renderer.sample_context("newsletter", "pt-BR")
    rendered = renderer.email("newsletter", locale="pt_BR", context=context)
    assert rendered.locale == "pt-BR" and 'lang="pt-BR"' in rendered.html
    assert f"Oi {context['customer']['first_name']}," in rendered.text
    assert "Novidades da semana" in rendered.text
    # Keys pt-BR does not have come from pt, not from English.
    assert renderer.library.catalogs.texts["pt"]["newsletter.button"] in rendered.text
    assert "Visit the shop" not in rendered.text


def test_default_locale_is_the_end_of_the_chain(store_folder) -> None:
    renderer = Renderer(default_locale="de")
    assert renderer.resolve_locale("ja") == "de"
    with pytest.raises(TemplateInvalid, match="no catalog for the default locale"):
        Renderer(default_locale="xx")


# -- Babel formatting --------------------------------------------------------------------


def _fill(source: str, locale: str, **values: object) -> str:
    return HTML_ENV.from_string(source).render(_format_locale=locale, **values)


def test_money_numbers_and_dates_follow_the_locale() -> None:
    # The published German format of 1234.5 euros.
    assert _fill("{{ x|money('EUR') }}", "de", x=1234.5) == "1.234,50\u00a0€"
    for locale in ("en", "de", "fr", "tr", "hu", "ko", "pl", "sv", "ar", "pt-BR"):
        babel = Locale.parse(locale, sep="-")
        for amount, currency in ((Decimal("1234.5"), "EUR"), (Decimal("32000"), "KRW")):
            expected = format_currency(amount, currency, locale=babel)
            assert _fill("{{ x|money(c) }}", locale, x=amount, c=currency) == str(expected)
        day = date(2026, 3, 14)
        assert _fill("{{ d|date }}", locale, d=day) == format_date(day, "long", locale=babel)
        moment = datetime(2026, 3, 14, 9, 30, tzinfo=UTC)
        assert _fill("{{ d|date('short') }}", locale, d=moment) == format_date(
            day, "short", locale=babel
        )
        assert _fill("{{ p|percent }}", locale, p=10) == format_percent(0.1, locale=babel)
    assert _fill("{{ d|date }}", "ko", d=date(2026, 3, 14)) == "2026년 3월 14일"
    assert _fill("{{ p|percent }}", "tr", p=10) == "%10"
    assert _fill("{{ x|number }}", "fr", x=1234.5) == "1\u202f234,5"
    # Floats are formatted from their decimal text, not their binary value.
    assert _fill("{{ x|money('USD') }}", "en", x=0.1 + 0.2) == "$0.30"


def test_a_rendered_email_formats_prices_for_its_locale(renderer: Renderer) -> None:
    context = renderer.sample_context("newsletter", "de")
    context["products"][2].update(price=1234.5, currency="EUR")
    rendered = renderer.email("newsletter", locale="de", context=context)
    assert "1.234,50\u00a0€" in rendered.text
    assert "1.234,50\u00a0€" in rendered.html or "1.234,50&nbsp;€" in rendered.html


# -- variants, push, caching, store overrides --------------------------------------------


def test_variants_change_their_texts_and_others_get_the_base(renderer: Renderer) -> None:
    context = renderer.sample_context("newsletter", "en")
    base = renderer.email("newsletter", locale="en", context=context)
    b = renderer.email("newsletter", locale="en", context=context, variant="b")
    other = renderer.email("newsletter", locale="en", context=context, variant="zzz")
    texts = renderer.library.catalogs.texts["en"]
    assert b.subject == texts["newsletter.subject@b"]
    assert base.subject != b.subject and other.subject == base.subject
    assert renderer.compiled_email("newsletter", "en", "zzz") is renderer.compiled_email(
        "newsletter", "en", None
    )
    assert renderer.compiled_email("newsletter", "de-CH", None) is renderer.compiled_email(
        "newsletter", "de", None
    )


def test_push_texts_fit_the_platform_limits(renderer: Renderer) -> None:
    limits = renderer.library.push_limits
    pushes = [t for t in renderer.names() if "push" in renderer.channels(t)]
    assert set(pushes) == {
        "newsletter",
        "winback",
        "replenishment",
        "cross_sell",
        "review_request",
        "promotion",
    }
    for template in pushes:
        for locale in renderer.locales():
            context = renderer.sample_context(template, locale)
            push = renderer.push(template, locale=locale, context=context)
            assert 0 < len(push.title) <= limits["title"]
            assert 0 < len(push.body) <= limits["body"]
            assert push.deep_link == context["deep_link"] and push.locale == locale
    context = renderer.sample_context("cross_sell", "en")
    context["category"] = "Extraordinarily Long Category Name For Testing Limits " * 3
    push = renderer.push("cross_sell", locale="en", context=context)
    assert len(push.title) <= limits["title"] and push.title.endswith("…")
    del context["deep_link"]
    with pytest.raises(RenderError, match="deep_link"):
        renderer.push("cross_sell", locale="en", context=context)
    with pytest.raises(TemplateInvalid, match="no push text"):
        renderer.push("csat_survey", locale="en", context=context)


def test_fit_cuts_at_a_word() -> None:
    assert fit("short  text\n", 50) == "short text"
    cut = fit("one two three four five six", 15)
    assert cut == "one two three…" and len(cut) <= 15


def test_unknown_template_is_template_invalid(renderer: Renderer) -> None:
    with pytest.raises(TemplateInvalid, match="unknown template; have: cross_sell"):
        renderer.email("nope", locale="en", context={})


def test_store_folder_overrides_texts_and_adds_templates(store_folder, tmp_path) -> None:
    folder = store_folder(
        {
            "catalogs/en.yaml": """
                newsletter:
                  heading: "Fresh from the workshop"
            """,
            "templates.yaml": "spring_sale: {kind: promotion}\n",
            "email/spring_sale.mjml": """
                [% extends "promotion.mjml" %]
            """,
        }
    )
    brand = tmp_path / "brand.yaml"
    brand.write_text('name: Tea & Cake\ncolours: {primary: "#aa0000"}\n', encoding="utf-8")
    renderer = Renderer(directory=folder, brand=brand)
    assert "spring_sale" in renderer.names() and renderer.kind("spring_sale") == "promotion"
    context = renderer.sample_context("newsletter", "en")
    rendered = renderer.email("newsletter", locale="en", context=context)
    assert "Fresh from the workshop" in rendered.text
    assert "Tea & Cake" in rendered.text and "Tea &amp; Cake" in rendered.html
    assert "#aa0000" in rendered.html
    sale = renderer.email(
        "spring_sale", locale="en", context=renderer.sample_context("spring_sale", "en")
    )
    # Without texts of its own, the store's template uses its kind's texts, all of them.
    texts = renderer.library.catalogs.texts["en"]
    assert sale.subject == texts["promotion.subject"].replace(
        "{{ discount.percent|percent }}", "10%"
    )


def test_sandbox_refuses_python_internals(store_folder) -> None:
    folder = store_folder(
        {
            "email/service_recovery.mjml": """
                [% extends "base.mjml" %]
                [% block body %]
                <mj-section><mj-column><mj-text>{{ customer.__class__.__mro__ }}</mj-text></mj-column></mj-section>
                [% endblock %]
            """
        }
    )
    renderer = Renderer(directory=folder)
    context = renderer.sample_context("service_recovery", "en")
    with pytest.raises((TemplateInvalid, RenderError)):
        renderer.email("service_recovery", locale="en", context=context)


def test_the_caller_context_is_not_changed(renderer: Renderer) -> None:
    context = renderer.sample_context("winback", "tr")
    before = copy.deepcopy(context)
    renderer.email("winback", locale="tr", context=context)
    assert context == before
