"""A sender process for the crash and concurrency tests: one ``run_period``, then its JSON.

    python -m tests.campaigns.sender CAMPAIGN_FILE PERIOD NOW TRANSPORT [MOTO_URL]

TRANSPORT is ``outbox``, ``ses`` (reconciliation may also read moto's record, as in the
older tests) or ``ses-production`` (SES as configured in production: the journal and
provider events are the only evidence). Settings come from the environment (database,
outbox, journal, AWS endpoint). It prints ``ready`` once everything is imported, so a test
can kill it while it works. It slows each message down a little (through the throttle hook)
so a kill lands mid-batch.

With ``SENDER_FORK_SERVER`` set it is a fork server instead: for each line on stdin it forks
a sender (everything already imported, nothing connected) and prints the sender's pid, so a
test can start and kill senders many times a second. Senders are reaped by the system.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from datetime import datetime
from pathlib import Path


def main() -> None:
    source, period, now, transport_name = sys.argv[1:5]
    moto_url = sys.argv[5] if len(sys.argv) > 5 else None
    from campaigns.cadence import period_from_key
    from campaigns.channels.outbox import OutboxTransport
    from campaigns.channels.ses import SesTransport
    from campaigns.definitions import parse_campaign
    from campaigns.run import run_period
    from models.db import get_engine
    from models.settings import get_settings
    from tests.campaigns.conftest import FakeRenderer, Moto

    campaign, errors = parse_campaign(Path(source).read_text(), source)
    assert campaign is not None, errors
    period_from_key(campaign, period)  # Prefect's schedule code loads once, before "ready"

    def send() -> None:
        settings = get_settings()
        if transport_name == "ses-production":
            transport = SesTransport.from_settings(settings, base_delay=0.01)
        elif transport_name == "ses":
            evidence = Moto(moto_url).evidence if moto_url else None
            transport = SesTransport.from_settings(
                settings, evidence=evidence, evidence_complete=True, base_delay=0.01
            )
        else:
            transport = OutboxTransport(settings.outbox_dir, channel="email")
        result = run_period(
            get_engine(),
            campaign=campaign,
            period=period,
            now=datetime.fromisoformat(now),
            renderer=FakeRenderer(),
            email_transport=transport,
            batch_size=7,
            throttle=lambda n: time.sleep(0.002 * n),
        )
        print(json.dumps(result.as_dict(), default=str), flush=True)

    print("ready", flush=True)
    if not os.environ.get("SENDER_FORK_SERVER"):
        send()
        return
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped as they end
    for _ in sys.stdin:
        pid = os.fork()
        if pid == 0:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - the child ends with _exit
            try:
                send()
            finally:
                os._exit(0)
        print(pid, flush=True)


if __name__ == "__main__":
    main()
