"""Each validation error, caught in a store folder with one thing broken."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from models.settings import get_settings
from templates import Renderer
from templates.mjml_check import check_document, check_elements
from templates.validate import Problem, errors, validate, validate_folder

PROMOTION_BODY = """
[% extends "base.mjml" %]
[% block body %]
<mj-section><mj-column><mj-text>{{ discount.code }}</mj-text></mj-column></mj-section>
[% endblock %]
"""


def _only(problems: list[Problem], template: str) -> list[Problem]:
    return [p for p in errors(problems) if p.template == template]


def _check(folder, templates: list[str]) -> list[Problem]:
    return validate(Renderer(directory=folder), templates=templates)


def test_the_built_in_templates_have_no_errors() -> None:
    assert errors(validate_folder()) == []


def test_invalid_mjml_surfaces_mjml_pythons_error(store_folder) -> None:
    folder = store_folder(
        {
            "email/promotion.mjml": """
                [% extends "base.mjml" %]
                [% block body %]
                <mj-section><mj-column><mj-text>{{ discount.code }}</mj-column></mj-section>
                [% endblock %]
            """
        }
    )
    problems = _only(_check(folder, ["promotion"]), "promotion")
    assert problems
    locales = {loc for p in problems for loc in p.locales}
    assert locales >= {"en", "ar", "ko"}
    assert any("mj-text" in p.message and "never closed" in p.message for p in problems) or any(
        "mjml-python" in p.message for p in problems
    )


def test_mjml_python_errors_are_reported_with_their_message(store_folder) -> None:
    # Text with a raw "<" that is not a tag: our element check has nothing to say,
    # mjml-python refuses it; the problem carries its message.
    folder = store_folder(
        {
            "email/promotion.mjml": """
                [% extends "base.mjml" %]
                [% block body %]
                <mj-section><mj-column><mj-raw>{{ discount.code }}</mj-raw><mj-text>1 < 2</mj-text></mj-column></mj-section>
                [% endblock %]
            """
        }
    )
    problems = _only(_check(folder, ["promotion"]), "promotion")
    assert any(p.message.startswith("mjml-python:") for p in problems), problems
    assert all(p.locales and p.file for p in problems)


def test_unknown_element_is_named_with_file_and_line(store_folder) -> None:
    folder = store_folder(
        {
            "email/promotion.mjml": """
                [% extends "base.mjml" %]
                [% block body %]
                <mj-section>
                  <mj-column>
                    <mj-buton href="{{ links.shop }}">{{ discount.code }}</mj-buton>
                  </mj-column>
                </mj-section>
                [% endblock %]
            """
        }
    )
    problems = _only(_check(folder, ["promotion"]), "promotion")
    named = [p for p in problems if p.key == "mj-buton"]
    assert any(
        str(p.file).endswith("promotion.mjml") and p.line == 5 and "mj-button" in p.message
        for p in named
    )


def test_misplaced_element_is_an_error(store_folder) -> None:
    folder = store_folder(
        {
            "email/promotion.mjml": """
                [% extends "base.mjml" %]
                [% block body %]
                <mj-text>{{ discount.code }}</mj-text>
                [% endblock %]
            """
        }
    )
    problems = _only(_check(folder, ["promotion"]), "promotion")
    assert any(
        p.key == "mj-text"
        and "cannot stand in <mj-body>" in p.message
        and "fr" in p.locales
        and p.line == 3
        for p in problems
    ), problems


def _texts_of(kind: str, locale: str, name: str, **extra: str) -> str:
    """A catalog giving template ``name`` the built-in texts of ``kind`` (email only)."""
    texts = Renderer().library.catalogs.texts[locale]
    lines = [f"{name}:"]
    for key, text in texts.items():
        short = key.removeprefix(f"{kind}.")
        if key.startswith(f"{kind}.") and "." not in short and "@" not in short:
            lines.append(f"  {short}: {json.dumps(text, ensure_ascii=False)}")
    lines += [f"  {k}: {json.dumps(v, ensure_ascii=False)}" for k, v in extra.items()]
    return "\n".join(lines) + "\n"


def test_key_missing_from_a_catalog_names_the_catalog_line_once(store_folder) -> None:
    folder = store_folder(
        {
            "templates.yaml": "spring_sale: {kind: promotion}\n",
            "email/spring_sale.mjml": """
                [% extends "promotion.mjml" %]
                [% block sign_off %]
                <mj-section><mj-column><mj-text>[[ _(".thanks") ]]</mj-text></mj-column></mj-section>
                [% endblock %]
            """,
            "catalogs/en.yaml": _texts_of("promotion", "en", "spring_sale", thanks="Thank you!"),
            "catalogs/de.yaml": _texts_of("promotion", "de", "spring_sale", thanks="Danke!"),
            "catalogs/ko.yaml": 'spring_sale:\n  subject: "봄 세일"\n',
        }
    )
    problems = _check(folder, ["spring_sale"])
    en_lines = (folder / "catalogs/en.yaml").read_text().splitlines()
    thanks_line = next(i for i, line in enumerate(en_lines, 1) if "thanks:" in line)
    gaps = [p for p in problems if p.key == "spring_sale.thanks"]
    # ko is partly translated: an error per missing text; the locales without any
    # spring_sale text get one warning for the template.
    [ko] = [p for p in gaps if p.level == "error"]
    assert ko.locales == ("ko",) and "whole message in en" in ko.message
    assert str(ko.file).endswith("en.yaml") and ko.line == thanks_line
    [others] = [p for p in problems if p.level == "warning" and "not written in" in p.message]
    assert {"ar", "tr", "fr"} <= set(others.locales) and "ko" not in others.locales
    assert not any({"de", "en"} & set(p.locales) for p in problems)
    # One problem per distinct key and outcome, never one per locale x variant.
    assert len(problems) == len({(p.level, p.key, p.file, p.line, p.message) for p in problems})


def test_key_missing_from_every_catalog(store_folder) -> None:
    folder = store_folder(
        {
            "email/promotion.mjml": """
                [% extends "base.mjml" %]
                [% block body %]
                <mj-section><mj-column><mj-text>[[ _(".nowhere") ]] {{ discount.code }}</mj-text></mj-column></mj-section>
                [% endblock %]
            """
        }
    )
    problems = _only(_check(folder, ["promotion"]), "promotion")
    [problem] = problems  # once, not once per locale x variant
    assert problem.key == "promotion.nowhere"
    assert set(problem.locales) == set(Renderer().locales())
    assert str(problem.file).endswith("promotion.mjml") and problem.line == 3


def test_variable_the_kind_does_not_provide(store_folder) -> None:
    folder = store_folder(
        {
            "email/csat_survey.mjml": """
                [% extends "base.mjml" %]
                [% block body %]
                <mj-section><mj-column>
                  <mj-text>Use {{ discount.code }}: <a href="{{ links.survey['1'] }}">1</a></mj-text>
                </mj-column></mj-section>
                [% endblock %]
            """,
            "email/winback.mjml": """
                [% extends "base.mjml" %]
                [% block body %]
                <mj-section><mj-column>
                  <mj-text>{{ order.number }} <a href="{{ order.tracking_url }}">track</a></mj-text>
                  <mj-raw>{% for p in products %}</mj-raw><mj-text>{{ p.colour }}</mj-text><mj-raw>{% endfor %}</mj-raw>
                </mj-column></mj-section>
                [% endblock %]
            """,
        }
    )
    problems = _check(folder, ["csat_survey", "winback"])
    csat = {p.key for p in _only(problems, "csat_survey") if "does not provide" in p.message}
    assert csat == {"discount"}
    winback = {p.key for p in _only(problems, "winback") if "does not provide" in p.message}
    assert winback == {"order.tracking_url", "products.[].colour"}
    message = next(p.message for p in _only(problems, "csat_survey") if p.key == "discount")
    assert "kind csat_survey" in message and "valid: store, customer, links" in message


def test_variable_used_in_a_catalog_text_is_checked_too(store_folder) -> None:
    folder = store_folder(
        {
            "catalogs/de.yaml": """
                nps_survey:
                  subject: "Empfehlen Sie uns, {{ order.number }}?"
            """
        }
    )
    problems = _only(_check(folder, ["nps_survey"]), "nps_survey")
    assert [(p.locale, p.key) for p in problems if "does not provide" in p.message] == [
        ("de", "order")
    ]


def test_unguarded_optional_value_fails_the_minimal_sample(store_folder) -> None:
    folder = store_folder(
        {
            "email/newsletter.mjml": """
                [% extends "base.mjml" %]
                [% block body %]
                <mj-section><mj-column>
                  <mj-text><a href="{{ links.view_online }}">online</a> {{ links.shop }}</mj-text>
                </mj-column></mj-section>
                [% endblock %]
            """
        }
    )
    problems = _only(_check(folder, ["newsletter"]), "newsletter")
    assert any(
        p.key == "links.view_online" and "without its optional values" in p.message
        for p in problems
    ), problems


def test_push_text_over_its_limit(store_folder) -> None:
    long_title = "An unusually long title for a notification on a lock screen"
    folder = store_folder({"catalogs/sv.yaml": f'winback:\n  push:\n    title: "{long_title}"\n'})
    problems = _only(_check(folder, ["winback"]), "winback")
    assert [(p.locale, p.key) for p in problems] == [("sv", "winback.push.title")]
    assert f"{len(long_title)} characters" in problems[0].message
    assert "limit is 50" in problems[0].message


def test_marketing_template_without_unsubscribe_link(store_folder) -> None:
    no_footer = """
        [% extends "{name}.mjml" %]
        [% block footer %]
        <mj-section><mj-column><mj-text>[[ brand.address[0] ]]</mj-text></mj-column></mj-section>
        [% endblock %]
    """
    folder = store_folder(
        {
            "templates.yaml": "quiet_promo: {kind: promotion}\nquiet_help: {kind: service_recovery}\n",
            "email/quiet_promo.mjml": no_footer.replace("{name}", "promotion"),
            "email/quiet_help.mjml": no_footer.replace("{name}", "service_recovery"),
        }
    )
    problems = _check(folder, ["quiet_promo", "quiet_help"])
    promo = [p for p in _only(problems, "quiet_promo") if p.key == "links.unsubscribe"]
    assert len(promo) == 1 and set(promo[0].locales) == set(Renderer().locales())
    assert "marketing email must link to links.unsubscribe" in promo[0].message
    # Service messages are not marketing: no unsubscribe rule (and nothing else wrong).
    assert _only(problems, "quiet_help") == []


def test_broken_store_folder_is_one_clear_problem(store_folder) -> None:
    folder = store_folder({"templates.yaml": "summer: {kind: flyer}\n"})
    problems = validate_folder(directory=folder)
    assert len(problems) == 1
    assert "unknown kind 'flyer'" in problems[0].message
    assert problems[0].template == "summer"


def test_broken_catalog_yaml_names_file_and_line(store_folder) -> None:
    folder = store_folder({"catalogs/fr.yaml": "newsletter:\n  subject: [unclosed\n"})
    problems = validate_folder(directory=folder)
    assert len(problems) == 1 and str(problems[0].file).endswith("fr.yaml")
    assert problems[0].line is not None


def test_element_checks_directly() -> None:
    assert check_elements("<mj-section><mj-colum></mj-colum></mj-section>")[0].message == (
        "unknown MJML element <mj-colum> (did you mean <mj-column>?)"
    )
    assert check_elements("<mj-text><p>any <b>HTML</b> here</p></mj-text>") == []
    found = check_document("<mjml><mj-body><mj-column></mj-column></mj-body></mjml>")
    assert [p.element for p in found] == ["mj-column"]
    found = check_document("<mjml><mj-body><mj-section></mj-body></mjml>")
    assert any("never closed" in p.message or "still open" in p.message for p in found)
    assert check_document("<mjml><mj-body><div>x</div></mj-body></mjml>")[0].element == "div"


def test_validate_command_exits_1_with_json_naming_template_locale_key(
    store_folder, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cli.templates import app

    folder = store_folder(
        {"catalogs/ko.yaml": 'promotion:\n  push:\n    body: "' + "가" * 200 + '"\n'}
    )
    monkeypatch.setenv("HOMECOMING_DEFINITIONS_DIR", str(folder.parent))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["validate", "--json"])
        assert result.exit_code == 1, result.output
        report = json.loads(result.stdout)
        assert report["ok"] is False
        assert [(e["template"], e["locales"], e["key"]) for e in report["errors"]] == [
            ("promotion", ["ko"], "promotion.push.body")
        ]
        assert report["errors"][0]["file"].endswith("ko.yaml") and report["errors"][0]["line"] == 3
        monkeypatch.delenv("HOMECOMING_DEFINITIONS_DIR")
        get_settings.cache_clear()
        result = CliRunner().invoke(app, ["validate"])
        assert result.exit_code == 0 and "all templates valid" in result.stdout
    finally:
        get_settings.cache_clear()
