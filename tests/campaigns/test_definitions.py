"""Campaign definitions: the examples load, and every kind of mistake names file and line."""

from __future__ import annotations

import json
import textwrap
from datetime import date, timedelta
from pathlib import Path

import pytest

from campaigns.definitions import BUILT_IN, load_all, parse_campaign
from campaigns.localtime import FIRST_ZONE
from tests.campaigns.conftest import FakeRenderer

GOOD = """\
name: spring_news
description: A test campaign.
kind: newsletter
channel: email
segments:
  include: ["rfm:champions"]
  exclude: [unhappy_recently]
cadence:
  every: weekly
  day: monday
  hour: 10
  time_zone: Europe/Berlin
holdout: 10
variants:
  - {name: a, weight: 50}
  - {name: b, weight: 50}
"""


def errors_of(text: str) -> list[tuple[int | None, str]]:
    campaign, errors = parse_campaign(textwrap.dedent(text), "spring.yaml")
    assert campaign is None, "a definition with mistakes must not load"
    assert all(e.source == "spring.yaml" for e in errors)
    return [(e.line, e.message) for e in errors]


def test_the_built_in_examples_load_and_cover_every_cadence() -> None:
    campaigns, errors = load_all(
        known_segments=lambda name: True, templates=None, paths=sorted(BUILT_IN.glob("*.yaml"))
    )
    assert not errors
    kinds = {c.name: c.cadence_kind for c in campaigns}
    assert kinds["weekly_newsletter"] == "weekly"
    assert kinds["biweekly_winback"] == "biweekly"
    assert kinds["monthly_replenishment"] == "monthly"
    promotion = next(c for c in campaigns if c.name == "autumn_promotion")
    assert [v.name for v in promotion.variants] == ["a", "b"]
    assert sum(v.share for v in promotion.variants) == pytest.approx(1.0)


def test_a_good_definition_parses_every_field() -> None:
    campaign, errors = parse_campaign(GOOD, "spring.yaml")
    assert not errors and campaign is not None
    assert campaign.include == ("rfm:champions",)
    assert campaign.exclude == ("unhappy_recently",)
    assert campaign.cadence is not None and campaign.cadence.day == 0
    # Local time by default: Monday 10:00 on each recipient's clock, so the cadence fires
    # where Monday begins first, not in the zone written.
    assert campaign.local_time is True and campaign.cadence.local
    assert (campaign.cadence.hour, campaign.cadence.time_zone) == (10, FIRST_ZONE)
    assert campaign.template == "newsletter"  # the kind by default
    assert campaign.holdout == 10.0
    fixed, errors = parse_campaign(GOOD + "local_time: false\n", "spring.yaml")
    assert not errors and fixed is not None and fixed.cadence is not None
    assert not fixed.local_time and not fixed.cadence.local
    assert (fixed.cadence.hour, fixed.cadence.time_zone) == (10, "Europe/Berlin")


@pytest.mark.parametrize(
    ("replace", "by", "line", "words"),
    [
        ("kind: newsletter", "kind: newsleter", 3, "did you mean 'newsletter'"),
        ("channel: email", "channel: sms", 4, "valid: email, push"),
        ("  hour: 10", "  hour: 25", 11, "hour must be a whole number from 0 to 23"),
        ("  day: monday", "  day: funday", 10, "not a weekday"),
        ("holdout: 10", "holdout: 120", 13, "percentage"),
        ("  - {name: b, weight: 50}", "  - {name: b, weight: 40}", 14, "add up to 90"),
        ("  time_zone: Europe/Berlin", "  time_zone: Mars/Base", 12, "unknown time zone"),
        ("description: A test campaign.", "colour: blue", 2, "unknown key 'colour'"),
    ],
)
def test_mistakes_name_the_line(replace: str, by: str, line: int, words: str) -> None:
    assert replace in GOOD
    found = errors_of(GOOD.replace(replace, by))
    assert any(at == line and words in message for at, message in found), found


def test_bad_yaml_names_the_line() -> None:
    found = errors_of("name: x\nkind: [newsletter\nchannel: email\n")
    assert found[0][1].startswith("not valid YAML")
    assert found[0][0] is not None and found[0][0] >= 2


@pytest.mark.parametrize(
    ("cadence", "words"),
    [
        ("{every: monthly, day: 31, hour: 9}", "does not exist in every month"),
        ("{every: monthly, day: 0, hour: 9}", "day of the month"),
        ("{every: daily, hour: 9}", "every 'daily' is not known"),
        ("{every: weekly, day: monday}", "missing hour"),
        ("{cron: '0 9 * *'}", "five fields"),
        ("{cron: '0 9 30 2 *'}", "never fires"),
        ("{cron: '61 9 * * *'}", "not valid"),
        ("{rrule: 'FREQ=SOMETIMES;BYHOUR=9'}", "rrule is not valid"),
        ("{rrule: 'FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30;BYHOUR=9'}", "never fires"),
        ("{rrule: 'FREQ=WEEKLY'}", "needs BYHOUR"),
        ("{every: weekly, cron: '0 9 * * 1', hour: 9}", "exactly one"),
    ],
)
def test_impossible_cadences_are_refused(cadence: str, words: str) -> None:
    text = GOOD.split("cadence:")[0] + f"cadence: {cadence}\n"
    found = errors_of(text)
    assert any(words in message and line == 8 for line, message in found), found


def test_weights_may_add_up_to_one() -> None:
    text = GOOD.replace("weight: 50}", "weight: 0.5}")
    campaign, errors = parse_campaign(text, "spring.yaml")
    assert not errors and campaign is not None
    assert [v.share for v in campaign.variants] == [0.5, 0.5]


def test_triggered_definitions_keep_their_survey_settings() -> None:
    text = """\
    name: csat_test
    kind: csat_survey
    channel: email
    trigger: {after: ticket_resolved, delay: 10m}
    survey: {lookback: 2d}
    """
    campaign, errors = parse_campaign(textwrap.dedent(text), "csat.yaml")
    assert not errors and campaign is not None
    assert campaign.cadence_kind == "triggered"
    assert campaign.trigger is not None and campaign.trigger.delay == timedelta(minutes=10)
    assert campaign.survey == {"lookback": "2d"}
    found = errors_of(text.replace("delay: 10m", "delay: soon"))
    assert any("not a duration" in m for _, m in found)
    found = errors_of(text.replace("ticket_resolved", "birthday"))
    assert any("valid: delivered, ticket_resolved" in m for _, m in found)


@pytest.mark.parametrize(
    ("survey", "line", "words"),
    [
        ("  max_age: soon\n", 6, "survey.max_age 'soon' is not a duration; e.g. 12h, 2d or 1w"),
        ("  lookback: 3\n", 6, "survey.lookback 3 is not a duration"),
        ("  choices: [great, Late!]\n", 6, "survey.choices is a list of keys of 1-32 characters"),
        ("  max_ag: 2d\n", 6, "unknown key 'max_ag' (did you mean 'max_age'?)"),
    ],
)
def test_survey_options_are_checked_with_their_lines(survey: str, line: int, words: str) -> None:
    text = (
        "name: feedback_test\nkind: feedback_survey\ntrigger: {after: delivered, delay: 3d}\n"
        "priority: 60\nsurvey:\n"
    )
    found = errors_of(text + survey)
    assert any(at == line and words in message for at, message in found), found
    campaign, errors = parse_campaign(
        text + "  max_age: 2d\n  lookback: 12h\n  choices: [great, late]\n", "spring.yaml"
    )
    assert not errors and campaign is not None
    options = campaign.survey_options
    assert (options.max_age, options.lookback) == (timedelta(days=2), timedelta(hours=12))
    assert options.choices == ("great", "late")


def test_every_mistake_of_a_file_is_reported_at_its_line() -> None:
    text = (
        GOOD.replace("kind: newsletter", "kind: newsleter")
        .replace("  hour: 10", "  hour: 25")
        .replace("{name: b, weight: 50}", "{name: b, weight: 50, colour: red}")
        + "priority: high\nsurvey: {max_age: soon}\nend: someday\n"
    )
    found = errors_of(text)
    expected = [
        (3, "kind 'newsleter' is not known (did you mean 'newsletter'?)"),
        (11, "hour must be a whole number from 0 to 23, not 25"),
        (16, "unknown key 'colour'; valid: name, weight, template"),
        (17, "priority must be a whole number from 0 to 1000, not 'high'"),
        (18, "survey.max_age 'soon' is not a duration"),
        (19, "expected a date YYYY-MM-DD, not 'someday'"),
    ]
    for line, words in expected:
        assert any(at == line and message.startswith(words) for at, message in found), found
    assert len(found) == len(expected), found


def test_end_before_start_is_refused() -> None:
    found = errors_of(GOOD + "start: 2026-05-01\nend: 2026-04-01\n")
    assert any("before start" in m for _, m in found)


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_unknown_segments_and_templates_are_found_with_their_lines(tmp_path: Path) -> None:
    text = GOOD.replace('["rfm:champions"]', '["rfm:champs"]').replace(
        "kind: newsletter", "kind: newsletter\ntemplate: newsleter"
    )
    path = _write(tmp_path, "spring.yaml", text)
    known = {"rfm:champions", "unhappy_recently"}
    campaigns, errors = load_all(
        [path], known_segments=known.__contains__, templates=FakeRenderer()
    )
    assert campaigns == []
    messages = {(e.line, e.message.split(";")[0]) for e in errors}
    assert (6, "unknown segment 'rfm:champs'") in messages
    assert any(line == 4 and "unknown template 'newsleter'" in m for line, m in messages)
    assert all(str(path) in str(e) for e in errors)


def test_two_files_with_one_name_are_refused_and_good_files_still_load(tmp_path: Path) -> None:
    first = _write(tmp_path, "a.yaml", GOOD)
    second = _write(tmp_path, "b.yaml", GOOD)
    other = _write(tmp_path, "c.yaml", GOOD.replace("spring_news", "summer_news"))
    broken = _write(tmp_path, "d.yaml", "name: [")
    campaigns, errors = load_all([first, second, other, broken])
    assert [c.name for c in campaigns] == ["spring_news", "summer_news"]
    assert any("already used" in e.message and e.source == str(second) for e in errors)
    assert any(e.source == str(broken) for e in errors)


def test_biweekly_weeks_count_from_the_start_date() -> None:
    text = GOOD.replace("every: weekly", "every: biweekly") + "start: 2026-01-07\n"
    campaign, errors = parse_campaign(text, "spring.yaml")
    assert not errors and campaign is not None and campaign.cadence is not None
    assert campaign.cadence.anchor == date(2026, 1, 5)  # the Monday of the start's week


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("6", timedelta(hours=6)),
        ("1.5", timedelta(minutes=90)),
        ("90m", timedelta(minutes=90)),
        ("2d", timedelta(days=2)),
        ("'12h'", timedelta(hours=12)),
    ],
)
def test_the_lateness_limit_is_hours_or_a_duration(value: str, expected: timedelta) -> None:
    campaign, errors = parse_campaign(GOOD + f"max_lateness: {value}\n", "spring.yaml")
    assert not errors and campaign is not None
    assert campaign.max_lateness == expected


def test_without_a_lateness_limit_the_default_of_the_kind_applies() -> None:
    from campaigns.send_rules import DEFAULT_MAX_LATENESS, lateness_limit

    campaign, _ = parse_campaign(GOOD, "spring.yaml")
    assert campaign is not None and campaign.max_lateness is None
    assert lateness_limit(campaign) == DEFAULT_MAX_LATENESS == timedelta(hours=6)
    survey, _ = parse_campaign(
        "name: csat\nkind: csat_survey\ntrigger: {after: ticket_resolved, delay: 10m}\n"
        "survey: {max_age: 2d}\n",
        "csat.yaml",
    )
    assert survey is not None and lateness_limit(survey) == timedelta(days=2)


@pytest.mark.parametrize("value", ["0", "-3", "32d", "soon", "true", "[6]"])
def test_a_bad_lateness_limit_names_the_line(value: str) -> None:
    found = errors_of(GOOD + f"max_lateness: {value}\n")
    assert any(line == 17 and "max_lateness" in message for line, message in found), found


# --- hostile files: limits, broken overrides, and the commands that name a campaign ------


def test_an_alias_bomb_is_refused_and_other_campaigns_load(tmp_path: Path) -> None:
    from tests.models.test_yaml_loader import billion_laughs

    good = _write(tmp_path, "a.yaml", GOOD)
    bomb = _write(tmp_path, "bomb.yaml", GOOD.replace("spring_news", "bomb") + billion_laughs())
    campaigns, errors = load_all([good, bomb])
    assert [c.name for c in campaigns] == ["spring_news"]
    [error] = errors
    assert error.source == str(bomb) and error.line is not None
    assert "aliases" in error.message and "campaign 'bomb' is not loaded" in error.message


def test_a_broken_store_override_is_never_the_built_in(tmp_path: Path) -> None:
    built_in = BUILT_IN / "weekly_newsletter.yaml"
    text = built_in.read_text(encoding="utf-8").replace("hour: 10", "hour: [10")
    store = _write(tmp_path, "weekly_newsletter.yaml", text)
    other = BUILT_IN / "biweekly_winback.yaml"
    campaigns, errors = load_all([built_in, other, store])
    assert [c.name for c in campaigns] == ["biweekly_winback"]
    [error] = errors
    assert error.source == str(store) and error.line is not None and error.line > 1
    assert "not valid YAML" in error.message
    assert "campaign 'weekly_newsletter' is not loaded" in error.message
    # A good override still replaces the built-in one.
    fixed = _write(tmp_path, "weekly_newsletter.yaml", built_in.read_text().replace("10", "11"))
    campaigns, errors = load_all([built_in, fixed])
    assert errors == [] and [c.source for c in campaigns] == [str(fixed)]


@pytest.fixture
def store_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from models.settings import get_settings

    folder = tmp_path / "store"
    (folder / "campaigns").mkdir(parents=True)
    monkeypatch.setenv("HOMECOMING_DEFINITIONS_DIR", str(folder))
    get_settings.cache_clear()
    yield folder
    monkeypatch.delenv("HOMECOMING_DEFINITIONS_DIR")
    get_settings.cache_clear()


def _campaigns_cli(*args: str) -> tuple[int, str]:
    from typer.testing import CliRunner

    from cli.main import app

    result = CliRunner().invoke(app, ["campaigns", *args])
    return result.exit_code, result.output


def test_commands_show_the_file_and_line_of_a_broken_campaign(
    database_url: str, store_dir: Path
) -> None:
    built_in = (BUILT_IN / "weekly_newsletter.yaml").read_text(encoding="utf-8")
    broken = store_dir / "campaigns" / "weekly_newsletter.yaml"
    broken.write_text(built_in.replace("hour: 10", "hour: [10"), encoding="utf-8")
    (store_dir / "campaigns" / "spring_news.yaml").write_text("name: spring_news\nkind: [\n")
    for command in ("plan", "run"):
        code, out = _campaigns_cli(command, "weekly_newsletter")
        text = " ".join(out.split())
        assert code == 2, out
        assert f"{broken}:" in text and "not valid YAML" in text, out
        assert "no campaign named" not in text and "Traceback" not in out
    code, out = _campaigns_cli("plan", "spring_news")
    assert code == 2 and "spring_news.yaml:3" in " ".join(out.split())
    # The other campaigns keep working.
    code, out = _campaigns_cli("plan", "monthly_replenishment", "--period", "2026-11", "--json")
    assert code == 0, out
    code, out = _campaigns_cli("validate", "--json")
    assert code == 1
    assert "monthly_replenishment" in json.loads(out)["valid"]


def test_a_broken_catalog_does_not_stop_campaigns(database_url: str, store_dir: Path) -> None:
    catalogs = store_dir / "templates" / "catalogs"
    catalogs.mkdir(parents=True)
    (catalogs / "en.yaml").write_text("newsletter:\n  subject: [unclosed\n")
    code, out = _campaigns_cli("plan", "monthly_replenishment", "--period", "2026-11", "--json")
    assert code == 0, out
