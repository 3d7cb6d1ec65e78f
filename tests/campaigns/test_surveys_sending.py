"""Sending triggered surveys through the real renderer and file outbox: links, CLI, flow, caps."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert

from campaigns.surveys import plan_triggers, send_due_surveys
from tests.campaigns.surveys import CSAT, FEEDBACK, T0, M, delivered, ledger, ticket
from tests.web.helpers import customer


def outbox(tmp_path: Path):
    from campaigns.channels.outbox import OutboxTransport

    return OutboxTransport(tmp_path / "outbox", channel="email")


def emails(tmp_path: Path) -> dict[int, Any]:
    from email import policy
    from email.parser import BytesParser

    return {
        int(p.stem): BytesParser(policy=policy.default).parsebytes(p.read_bytes())
        for p in sorted((tmp_path / "outbox").glob("*.eml"))
    }


def html_links(message: Any) -> list[str]:
    import html
    import re

    body = message.get_body(preferencelist=("html",)).get_content()
    return [html.unescape(u) for u in re.findall(r'href="([^"]+)"', body)]


def test_a_survey_email_carries_signed_star_links(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from campaigns.links import Action, verify
    from models.settings import get_settings

    monkeypatch.setenv("HOMECOMING_PUBLIC_URL", "https://shop.example")
    get_settings.cache_clear()
    cid = customer(engine)
    tid = ticket(engine, cid, T0)
    result = send_due_surveys(
        engine, now=T0 + timedelta(minutes=15), campaigns=[CSAT], email_transport=outbox(tmp_path)
    )
    assert result["sent"] == 1 and result["failed"] == 0
    (row,) = ledger(engine)
    assert (row["status"], row["period"]) == ("sent", f"ticket:{tid}")
    (message,) = emails(tmp_path).values()
    stars = {}
    for url in html_links(message):
        if url.startswith("https://shop.example/answer/"):
            claims = verify(url.rsplit("/", 1)[1])
            assert (claims.action, claims.message_id, claims.customer_id) == (
                Action.survey,
                row["id"],
                cid,
            )
            stars[claims.score] = url
    assert sorted(stars) == [1, 2, 3, 4, 5]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # Later runs send nothing more.
    again = send_due_surveys(
        engine, now=T0 + timedelta(hours=2), campaigns=[CSAT], email_transport=outbox(tmp_path)
    )
    assert again["sent"] == 0 and len(emails(tmp_path)) == 1


def test_a_feedback_email_after_delivery_names_the_order_and_its_choices(
    engine: Engine, tmp_path: Path
) -> None:
    from campaigns.links import verify

    cid = customer(engine)
    oid = delivered(engine, cid, T0)
    result = send_due_surveys(
        engine,
        now=T0 + timedelta(days=3, hours=1),
        campaigns=[FEEDBACK],
        email_transport=outbox(tmp_path),
    )
    assert result["sent"] == 1
    (message,) = emails(tmp_path).values()
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert f"o{cid}-" in text  # the delivered order's number
    chosen = sorted(
        verify(u.rsplit("/", 1)[1]).choice for u in html_links(message) if "/choice/" in u
    )
    assert chosen == ["great", "late"]
    assert oid


def test_overlapping_runs_send_each_trigger_once(engine: Engine, tmp_path: Path) -> None:
    ids = [customer(engine, external_id=f"c{i}", email=f"c{i}@example.com") for i in range(30)]
    for i, cid in enumerate(ids):
        ticket(engine, cid, T0 + timedelta(minutes=i))
        delivered(engine, cid, T0 - timedelta(days=3) + timedelta(minutes=i))
    results: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def run(offset: int) -> None:
        try:
            for step in range(3):
                now = T0 + timedelta(minutes=20 * step + offset + 5)
                results.append(
                    send_due_surveys(
                        engine,
                        now=now,
                        campaigns=[CSAT, FEEDBACK],
                        email_transport=outbox(tmp_path),
                        batch_size=7,
                    )
                )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    sent = emails(tmp_path)
    rows = {r["id"]: r for r in ledger(engine)}
    assert sum(r["sent"] for r in results) == len(sent)
    assert all(rows[i]["status"] == "sent" for i in sent)
    per_customer = Counter(rows[i]["customer_id"] for i in sent)
    assert set(per_customer.values()) == {1} and len(per_customer) == 30  # the survey cap
    per_trigger = Counter((rows[i]["campaign"], rows[i]["period"]) for i in sent)
    assert set(per_trigger.values()) == {1}


def test_the_cli(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from typer.testing import CliRunner

    from cli.main import app

    monkeypatch.setenv("HOMECOMING_OUTBOX_DIR", str(tmp_path / "outbox"))
    from models.settings import get_settings

    get_settings.cache_clear()
    cid = customer(engine)
    ticket(engine, cid, T0)
    runner = CliRunner()
    now = (T0 + timedelta(minutes=30)).isoformat()
    sent = runner.invoke(app, ["surveys", "send", "--now", now, "--json"])
    assert sent.exit_code == 0, sent.output
    data = json.loads(sent.stdout)
    assert data["sent"] == 1 and data["campaigns"]["csat_after_ticket"]["sent"] == 1
    assert (
        json.loads(runner.invoke(app, ["surveys", "send", "--now", now, "--json"]).stdout)["sent"]
        == 0
    )
    listed = json.loads(runner.invoke(app, ["surveys", "list", "--json"]).stdout)
    names = {s["name"]: s for s in listed["surveys"]}
    assert names["csat_after_ticket"]["after"] == "ticket_resolved"
    assert names["csat_after_ticket"]["checked_until"] is not None
    results = json.loads(runner.invoke(app, ["surveys", "results", "--json"]).stdout)
    assert results["surveys"][0]["sent"] == 1 and results["surveys"][0]["answers"] == 0
    bad = runner.invoke(app, ["surveys", "send", "--now", "yesterday"])
    assert bad.exit_code == 2 and "--now 'yesterday' is not a timestamp" in bad.output
    assert "Traceback" not in bad.output


def test_the_send_surveys_flow(
    prefect_harness: None, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.surveys import send_surveys_flow
    from models.settings import get_settings

    monkeypatch.setenv("HOMECOMING_OUTBOX_DIR", str(tmp_path / "outbox"))
    get_settings.cache_clear()
    cid = customer(engine)
    ticket(engine, cid, T0)
    result = send_surveys_flow(now=(T0 + timedelta(minutes=30)).isoformat())
    assert result["sent"] == 1
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1
    assert send_surveys_flow(now=(T0 + timedelta(hours=1)).isoformat())["sent"] == 0


def test_a_survey_due_before_the_night_waits_for_the_morning(
    engine: Engine, tmp_path: Path
) -> None:
    """Planned at 20:10 in Istanbul; the send run comes at 21:30: it waits until 08:00."""
    cid = customer(engine)  # Europe/Istanbul, UTC+3
    evening = datetime(2026, 4, 6, 17, 0, tzinfo=UTC)
    ticket(engine, cid, evening)
    plan_triggers(engine, CSAT, now=evening + timedelta(minutes=15))
    throttled: list[int] = []
    late = send_due_surveys(
        engine,
        now=evening + timedelta(minutes=90),
        campaigns=[CSAT],
        email_transport=outbox(tmp_path),
        throttle=throttled.append,
    )
    assert late["sent"] == 0
    assert late["campaigns"][CSAT.name]["deferred"] == {"quiet_hours": 1}
    (row,) = ledger(engine)
    morning = datetime(2026, 4, 7, 5, 0, tzinfo=UTC)  # 08:00 in Istanbul
    assert (row["status"], row["send_at"]) == ("planned", morning)
    sent = send_due_surveys(
        engine,
        now=morning,
        campaigns=[CSAT],
        email_transport=outbox(tmp_path),
        throttle=throttled.append,
    )
    assert sent["sent"] == 1 and len(emails(tmp_path)) == 1
    assert throttled  # the shared rate limit reaches the sender


def test_the_survey_cap_is_checked_again_when_sending(engine: Engine, tmp_path: Path) -> None:
    cid = customer(engine)
    ticket(engine, cid, T0)
    plan_triggers(engine, CSAT, now=T0 + timedelta(minutes=15))
    with engine.begin() as conn:  # another survey reached the customer meanwhile
        conn.execute(
            insert(M).values(
                campaign="nps_quarterly",
                period="2026-Q2",
                customer_id=cid,
                channel="email",
                kind="nps_survey",
                status="sent",
                send_at=T0 + timedelta(minutes=20),
                sent_at=T0 + timedelta(minutes=20),
                created_at=T0,
            )
        )
    result = send_due_surveys(
        engine, now=T0 + timedelta(minutes=30), campaigns=[CSAT], email_transport=outbox(tmp_path)
    )
    assert result["sent"] == 0 and emails(tmp_path) == {}
    assert result["campaigns"][CSAT.name]["suppressed_at_send"] == {"survey_cap": 1}
    row = next(r for r in ledger(engine) if r["campaign"] == CSAT.name)
    assert (row["status"], row["reason"]) == ("suppressed", "survey_cap")
