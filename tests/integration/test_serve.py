"""`dynamigrate demo --serve`: the rehearsal stays up for a team's own traffic, and the CLI works against it."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from typing import TYPE_CHECKING

import pytest

from tests.integration.conftest import EXAMPLE, LAMBDA_ZIP, REPO

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.integration
CLI = [sys.executable, "-m", "dynamigrate.cli.main"]


def first_line(stream: object, timeout: float) -> str:
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(stream.readline()), daemon=True).start()  # type: ignore[attr-defined]
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        pytest.fail(f"no line on stdout within {timeout:.0f}s")


def test_given_served_rehearsal_when_cli_verifies_through_roles_then_equal_and_ctrl_c_stops_it(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    args = ["demo", "--serve", "--items", "150", "--live-seconds", "4", "--work-dir", str(tmp_path)]
    args += ["--example-dir", str(EXAMPLE), "--lambda-zip", str(LAMBDA_ZIP)]
    proc = subprocess.Popen(
        [*CLI, *args], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        info = json.loads(first_line(proc.stdout, timeout=420))
        assert {"endpoint_url", "source_role_arn", "target_role_arn", "external_id", "ledger_table"} <= set(info)
        verify = subprocess.run(
            [
                *CLI,
                "verify",
                "--source-table",
                info["source_table"],
                "--target-table",
                info["target_table"],
                "--endpoint-url",
                info["endpoint_url"],
                "--source-role-arn",
                info["source_role_arn"],
                "--target-role-arn",
                info["target_role_arn"],
                "--external-id",
                info["external_id"],
                "--json",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert verify.returncode == 0, verify.stderr
        assert json.loads(verify.stdout)["equal"] is True
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
