"""Signed links: genuine tokens verify, anything altered, foreign or old does not."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaigns import links
from campaigns.links import Action, ExpiredToken, InvalidToken, TamperedToken, sign, verify
from models.settings import get_settings

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _keys(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("HOMECOMING_SECRET_KEY", "current-key-for-tests")
    monkeypatch.delenv("HOMECOMING_PREVIOUS_SECRET_KEYS", raising=False)
    monkeypatch.setenv("HOMECOMING_PUBLIC_URL", "https://shop.example/")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _set_keys(monkeypatch: pytest.MonkeyPatch, current: str, previous: list[str]) -> None:
    monkeypatch.setenv("HOMECOMING_SECRET_KEY", current)
    monkeypatch.setenv("HOMECOMING_PREVIOUS_SECRET_KEYS", str(previous).replace("'", '"'))
    get_settings.cache_clear()


def test_round_trip_keeps_every_claim() -> None:
    token = sign("survey", message_id=41, customer_id=7, score=4, now=NOW)
    claims = verify(token, now=NOW + timedelta(days=1))
    assert (claims.action, claims.message_id, claims.customer_id, claims.score) == (
        Action.survey,
        41,
        7,
        4,
    )
    assert claims.choice is None
    assert claims.issued_at == NOW
    choice = verify(
        sign("feedback", message_id=1, customer_id=2, choice="too_slow", now=NOW), now=NOW
    )
    assert (choice.action, choice.choice, choice.score) == (Action.feedback, "too_slow", None)


@given(
    action=st.sampled_from(["unsubscribe", "preferences", "feedback_page"]),
    message_id=st.integers(1, 2**63 - 1),
    customer_id=st.integers(1, 2**63 - 1),
)
@settings(max_examples=50, deadline=None)
def test_round_trip_for_any_ids(action: str, message_id: int, customer_id: int) -> None:
    claims = verify(sign(action, message_id=message_id, customer_id=customer_id, now=NOW), now=NOW)
    assert (claims.action, claims.message_id, claims.customer_id) == (
        action,
        message_id,
        customer_id,
    )


def test_token_is_opaque_and_url_safe() -> None:
    token = sign("unsubscribe", message_id=123456, customer_id=987654, now=NOW)
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
    assert "123456" not in token and "987654" not in token


def test_changing_any_character_is_refused() -> None:
    token = sign("survey", message_id=41, customer_id=7, score=5, now=NOW)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
    for i, original in enumerate(token):
        for replacement in {alphabet[(alphabet.index(original) + 1) % len(alphabet)], "A", "."}:
            if replacement == original:
                continue
            forged = token[:i] + replacement + token[i + 1 :]
            with pytest.raises(TamperedToken):
                verify(forged, now=NOW)
    for forged in ["", token + "A", token[:-1], token.replace(".", ""), "x" * 10_000, "é.é"]:
        with pytest.raises(TamperedToken):
            verify(forged, now=NOW)


def test_changing_any_payload_byte_is_refused() -> None:
    token = sign("survey", message_id=41, customer_id=7, score=5, now=NOW)
    payload_text, mac_text = token.split(".")
    payload = base64.urlsafe_b64decode(payload_text + "=" * (-len(payload_text) % 4))
    for i in range(len(payload)):
        for bit in (1, 2, 4, 128):
            altered = bytearray(payload)
            altered[i] ^= bit
            forged = base64.urlsafe_b64encode(bytes(altered)).rstrip(b"=").decode()
            with pytest.raises(TamperedToken):
                verify(f"{forged}.{mac_text}", now=NOW)


def test_score_cannot_be_swapped() -> None:
    """Splicing the payload of a score-1 link onto the signature of a score-5 link fails."""
    low = sign("survey", message_id=41, customer_id=7, score=1, now=NOW)
    high = sign("survey", message_id=41, customer_id=7, score=5, now=NOW)
    with pytest.raises(TamperedToken):
        verify(high.split(".")[0] + "." + low.split(".")[1], now=NOW)
    payload = base64.urlsafe_b64decode(low.split(".")[0] + "==").decode()
    swapped = payload.replace(":s:41:7:1:", ":s:41:7:5:")
    assert swapped != payload
    forged = base64.urlsafe_b64encode(swapped.encode()).rstrip(b"=").decode()
    with pytest.raises(TamperedToken):
        verify(forged + "." + low.split(".")[1], now=NOW)


def test_action_and_ids_cannot_be_swapped() -> None:
    survey = sign("survey", message_id=41, customer_id=7, score=5, now=NOW)
    unsubscribe = sign("unsubscribe", message_id=41, customer_id=7, now=NOW)
    other = sign("unsubscribe", message_id=42, customer_id=8, now=NOW)
    for a, b in [(survey, unsubscribe), (unsubscribe, other)]:
        with pytest.raises(TamperedToken):
            verify(a.split(".")[0] + "." + b.split(".")[1], now=NOW)


def test_expired_links_are_refused_but_named(monkeypatch: pytest.MonkeyPatch) -> None:
    token = sign("survey", message_id=41, customer_id=7, score=3, now=NOW)
    assert verify(token, now=NOW + timedelta(days=60)).score == 3
    with pytest.raises(ExpiredToken) as caught:
        verify(token, now=NOW + timedelta(days=60, seconds=1))
    assert caught.value.claims.customer_id == 7  # for a page in the customer's language
    monkeypatch.setenv("HOMECOMING_TOKEN_MAX_AGE_DAYS", "5")
    get_settings.cache_clear()
    with pytest.raises(ExpiredToken):
        verify(token, now=NOW + timedelta(days=6))


def test_a_forged_token_that_looks_expired_is_reported_as_tampered() -> None:
    token = sign("survey", message_id=41, customer_id=7, score=3, now=NOW)
    forged = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    with pytest.raises(TamperedToken):
        verify(forged, now=NOW + timedelta(days=400))


def test_foreign_key_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    _set_keys(monkeypatch, "someone-elses-key", [])
    foreign = sign("unsubscribe", message_id=1, customer_id=1, now=NOW)
    _set_keys(monkeypatch, "current-key-for-tests", [])
    with pytest.raises(TamperedToken):
        verify(foreign, now=NOW)


def test_rotation_keeps_old_links_working(monkeypatch: pytest.MonkeyPatch) -> None:
    _set_keys(monkeypatch, "key-2025", [])
    old = sign("survey", message_id=5, customer_id=6, score=4, now=NOW)
    _set_keys(monkeypatch, "key-2026", ["key-2025"])
    new = sign("survey", message_id=5, customer_id=6, score=4, now=NOW)
    assert old != new
    assert verify(old, now=NOW).score == 4
    assert verify(new, now=NOW).key_id == links.key_id("key-2026")
    _set_keys(monkeypatch, "key-2026", [])  # the old key retired: its links stop working
    with pytest.raises(TamperedToken):
        verify(old, now=NOW)


def test_bad_arguments_are_refused_when_signing() -> None:
    with pytest.raises(ValueError):
        sign("survey", message_id=1, customer_id=1, score=11)
    with pytest.raises(ValueError):
        sign("survey", message_id=1, customer_id=1)
    with pytest.raises(ValueError):
        sign("feedback", message_id=1, customer_id=1, choice="Bad Choice")
    with pytest.raises(ValueError):
        sign("unsubscribe", message_id=1, customer_id=1, score=3)
    with pytest.raises(ValueError):
        sign("unsubscribe", message_id=0, customer_id=1)
    with pytest.raises(ValueError):
        sign("launch", message_id=1, customer_id=1)


def test_urls_are_built_from_the_public_url_and_carry_only_the_token() -> None:
    urls = {
        "unsubscribe": links.unsubscribe_url(message_id=9, customer_id=3),
        "preferences": links.preferences_url(message_id=9, customer_id=3),
        "survey": links.survey_url(message_id=9, customer_id=3, score=5),
        "feedback": links.feedback_url(message_id=9, customer_id=3, choice="great"),
        "feedback_page": links.feedback_page_url(message_id=9, customer_id=3),
    }
    for action, url in urls.items():
        parts = urlsplit(url)
        assert (parts.scheme, parts.netloc, parts.query) == ("https", "shop.example", "")
        prefix, token = parts.path.strip("/").split("/")
        assert prefix == links.PATHS[Action(action)]
        assert verify(token).action == action
    assert len(set(urls.values())) == len(urls)


def test_survey_links_for_templates() -> None:
    csat = links.survey_links(message_id=9, customer_id=3, kind="csat")
    assert sorted(csat["survey"]) == ["1", "2", "3", "4", "5"]  # type: ignore[arg-type]
    nps = links.survey_links(message_id=9, customer_id=3, kind="nps")
    assert sorted(nps["survey"], key=int) == [str(s) for s in range(11)]  # type: ignore[arg-type]
    feedback = links.survey_links(message_id=9, customer_id=3, kind="feedback", choices=["a", "b"])
    assert sorted(feedback["feedback"]) == ["a", "b"]  # type: ignore[arg-type]
    for score, url in csat["survey"].items():  # type: ignore[union-attr]
        assert verify(url.rsplit("/", 1)[1]).score == int(score)


def test_invalid_token_is_the_common_base() -> None:
    assert issubclass(TamperedToken, InvalidToken) and issubclass(ExpiredToken, InvalidToken)
