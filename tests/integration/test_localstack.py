"""The same cross-account rehearsal against LocalStack, when one is reachable (it needs Docker).

Set LOCALSTACK_ENDPOINT (default http://localhost:4566) and run
`make test-integration`; without a reachable LocalStack these tests are
skipped with the reason, and the embedded emulator tests cover the same path.
"""

from __future__ import annotations

import io
import os

import pytest
from rich.console import Console

from dynamigrate.cli.demo import DemoOptions, Rehearsal
from dynamigrate.emulator.localstack import reachable
from tests.integration.conftest import EXAMPLE, LAMBDA_ZIP

ENDPOINT = os.environ.get("LOCALSTACK_ENDPOINT", "http://localhost:4566")
UNREACHABLE = reachable(ENDPOINT)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.localstack,
    pytest.mark.skipif(UNREACHABLE is not None, reason=f"{UNREACHABLE}; start LocalStack to run these tests"),
]


def test_given_localstack_when_rehearsing_cross_account_migration_then_tables_are_equal(tmp_path) -> None:  # type: ignore[no-untyped-def]
    options = DemoOptions(
        items=300,
        live_seconds=10.0,
        rate=10.0,
        work_dir=tmp_path,
        example_dir=EXAMPLE,
        lambda_zip=LAMBDA_ZIP,
        json_output=True,
        localstack=ENDPOINT,
        destroy=True,
    )
    rehearsal = Rehearsal(options, Console(file=io.StringIO()))
    assert rehearsal.run() == 0, rehearsal.report
    assert rehearsal.report["verify"]["equal"]
    assert rehearsal.report["pipeline"]["parked"] == 0
