"""What a period's run comes to: the :class:`RunResult`, and closing the run's record.

:func:`conclude` reads the period's ledger after the steps (``campaigns.run_steps``) and
closes the ``campaign_run`` row with its counts; :func:`inactive_result` stands for a run
that did nothing. Kept apart from ``campaigns.run`` so a change to what a run reports does
not touch how it runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select, update

from campaigns.campaign import Campaign
from campaigns.ledger import is_abandoned, status_counts
from campaigns.planning import PlanSummary
from campaigns.reconcile import ReconcileReport
from campaigns.run_steps import Prepared
from campaigns.send import SendReport
from models.base import table, utcnow
from models.campaigns import CampaignRun, Message, MessageStatus
from models.settings import Settings

M = table(Message)
RUN = table(CampaignRun)
# The statuses of the rows a period counts as recorded for sending.
LEDGER_STATUSES = (
    MessageStatus.planned,
    MessageStatus.sending,
    MessageStatus.sent,
    MessageStatus.failed,
)


@dataclass
class RunResult:
    campaign: str
    period: str
    now: datetime
    plan: PlanSummary
    reconciled: ReconcileReport
    send: SendReport
    already_sent: int
    ledger: dict[str, Any] = field(default_factory=dict)
    next_send_at: datetime | None = None
    run_id: int | None = None
    inactive: str | None = None  # why the campaign did not run (ended, not started yet)
    uncertain: int = 0  # 'sending' rows nobody works on: awaiting evidence
    in_progress: int = 0  # 'sending' rows a live sender (maybe another worker) still holds

    @property
    def planned(self) -> int:
        """Rows of the period that were planned (pending, sending, sent or failed now)."""
        return sum(self.ledger.get(s, 0) for s in LEDGER_STATUSES)

    @property
    def pending(self) -> int:
        return int(self.ledger.get(MessageStatus.planned, 0))

    def as_dict(self) -> dict[str, Any]:
        return {
            "campaign": self.campaign,
            "period": self.period,
            "now": self.now.isoformat(),
            "planned": self.planned,
            "held_out": self.ledger.get(MessageStatus.held_out, 0),
            "suppressed": dict(sorted(self.ledger.get(MessageStatus.suppressed, {}).items())),
            "sent": self.send.sent,
            "failed": self.send.failed,
            "failure_reasons": dict(sorted(self.send.failures.items())),
            "deferred": dict(sorted(self.send.deferred.items())),
            "skipped": dict(sorted(self.send.suppressed.items())),
            "already_sent": self.already_sent,
            "pending": self.pending,
            "next_send_at": self.next_send_at.isoformat() if self.next_send_at else None,
            "uncertain": self.uncertain,
            "in_progress": self.in_progress,
            "stopped": self.send.stopped,
            "reconciled": self.reconciled.as_dict(),
            "new_rows": self.plan.audience - self.plan.already_recorded,
            "send": self.send.as_dict(),
            "ledger": self.ledger,
            "run_id": self.run_id,
            "inactive": self.inactive,
        }


def inactive_result(campaign: Campaign, now: datetime, reason: str) -> RunResult:
    """The result of a run that did nothing because the campaign is outside its dates."""
    return RunResult(
        campaign=campaign.name,
        period="",
        now=now,
        plan=PlanSummary(campaign.name, "", now, now),
        reconciled=ReconcileReport(),
        send=SendReport(),
        already_sent=0,
        inactive=reason,
    )


def conclude(
    engine: Engine, prepared: Prepared, report: SendReport, *, settings: Settings
) -> RunResult:
    """Read the period's ledger and close the run's ``campaign_run`` row.

    Rows still ``sending`` are told apart: a claim a live sender holds (maybe another
    worker's) is in progress; one nobody works on is uncertain and awaits evidence.
    """
    name, key = prepared.campaign.name, prepared.period.key
    lease = timedelta(minutes=settings.send_lease_minutes)
    with engine.begin() as conn:
        ledger = status_counts(conn, campaign=name, period=key)
        next_send_at = conn.execute(
            select(func.min(M.c.send_at)).where(
                M.c.campaign == name, M.c.period == key, M.c.status == MessageStatus.planned
            )
        ).scalar()
        claims = conn.execute(
            select(M.c.claimed_by, M.c.claimed_at).where(
                M.c.campaign == name, M.c.period == key, M.c.status == MessageStatus.sending
            )
        ).all()
        uncertain = sum(is_abandoned(c.claimed_by, c.claimed_at, lease=lease) for c in claims)
        result = RunResult(
            campaign=name,
            period=key,
            now=prepared.now,
            plan=prepared.plan,
            reconciled=prepared.reconciled,
            send=report,
            already_sent=prepared.already_sent,
            ledger=ledger,
            next_send_at=next_send_at,
            run_id=prepared.run_id,
            uncertain=uncertain,
            in_progress=len(claims) - uncertain,
        )
        conn.execute(
            update(RUN)
            .where(RUN.c.id == prepared.run_id)
            .values(
                finished_at=utcnow(),
                planned=result.planned,
                held_out=int(ledger.get(MessageStatus.held_out, 0)),
                suppressed=sum(ledger.get(MessageStatus.suppressed, {}).values()),
                sent=report.sent,
                failed=report.failed,
                reconciled=prepared.reconciled.settled,
            )
        )
    return result
