"""A sender process for the crash and concurrency tests: one ``run_period``, then its JSON.

    python -m tests.campaigns.sender CAMPAIGN_FILE PERIOD NOW TRANSPORT [MOTO_URL]

Settings come from the environment (database, outbox, journal, AWS endpoint). It prints
``ready`` once everything is imported, so a test can kill it while it works, and slows each
message down a little (through the throttle hook) so a kill lands mid-batch.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime
from pathlib import Path


def main() -> None:
    source, period, now, transport_name = sys.argv[1:5]
    moto_url = sys.argv[5] if len(sys.argv) > 5 else None
    from campaigns.channels.outbox import OutboxTransport
    from campaigns.channels.ses import SesTransport
    from campaigns.definitions import parse_campaign
    from campaigns.run import run_period
    from models.db import get_engine
    from models.settings import get_settings
    from tests.campaigns.conftest import FakeRenderer, Moto

    settings = get_settings()
    campaign, errors = parse_campaign(Path(source).read_text(), source)
    assert campaign is not None, errors
    if transport_name == "ses":
        evidence = Moto(moto_url).evidence if moto_url else None
        transport = SesTransport.from_settings(
            settings, evidence=evidence, evidence_complete=True, base_delay=0.01
        )
    else:
        transport = OutboxTransport(settings.outbox_dir, channel="email")
    print("ready", flush=True)
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


if __name__ == "__main__":
    main()
