"""examples/rekey on the embedded emulator: the seed's move to a new key schema, end to end (make demo-rekey).

The whole rehearsal runs once, small: legacy writers, the move declared to the
write guard, an application process on DualTable during the bulk copy, verify
with the transform, the application's own writes checked key by key, strict
reads, and retire-table (snapshot, then delete).
"""

from __future__ import annotations

import io
import json
from typing import TYPE_CHECKING, Any

import pytest
from rich.console import Console

from dynamigrate.cli.rekey import RekeyOptions, RekeyRehearsal
from tests.integration.conftest import LAMBDA_ZIP, REPO

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict[str, Any]]:
    work: Path = tmp_path_factory.mktemp("rekey")
    output = io.StringIO()
    options = RekeyOptions(
        items=400,
        live_seconds=8.0,
        rate=30.0,
        segments=2,
        work_dir=work,
        example_dir=REPO / "examples" / "rekey",
        lambda_zip=LAMBDA_ZIP,
        json_output=True,
    )
    code = RekeyRehearsal(options, Console(file=output, width=10_000)).run()
    return code, json.loads(output.getvalue())


def test_given_the_rekey_rehearsal_then_it_passes_with_zero_differences(rehearsal: tuple[int, dict[str, Any]]) -> None:
    code, report = rehearsal
    verify = report["verify"]
    assert code == 0 and report["ok"] is True, report
    assert verify["missing"] == verify["extra"] == verify["different"] == verify["untransformable"] == 0
    assert verify["equal"] is True and report["application_writes_wrong"] == 0


def test_given_the_rekey_rehearsal_then_every_path_was_exercised(rehearsal: tuple[int, dict[str, Any]]) -> None:
    _, report = rehearsal
    app, copy, cleanup, legacy = report["application"], report["copy"], report["cleanup"], report["legacy"]
    assert app["errors"] == 0 and app["updates"] > 0 and app["deletes"] > 0 and app["puts"] > 0
    assert app["copies"] > 0  # updates of items not copied yet copied them first
    assert report["pipeline"]["changes_applied"] >= legacy["edited"]  # legacy writes replicated under the new key
    assert copy["reconciled"] and copy["written"] > 0 and copy["parked"] == 0
    assert report["verify"]["application_owned"]["target"] > 0
    assert cleanup["old_table_writes_before_move"] >= legacy["edited"] + legacy["deleted"] + legacy["added"]
    assert cleanup["foreign_writes"] == 0 and cleanup["strict_misses"] == 0 and cleanup["strict_reads"] > 0
    assert cleanup["retire"]["status"] == "deleted" and cleanup["retire"]["snapshot"]
