"""Integration tests: the repository's Terraform applied to the embedded emulator (or LocalStack).

Prerequisites are the ones `make test` provides: the Lambda zip built by
`make build`, the Terraform CLI, and its CLI config for the offline provider
mirror (TF_CLI_CONFIG_FILE). A missing prerequisite fails loudly instead of
skipping, so CI can never pass without running these tests.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LAMBDA_ZIP = REPO / "dist" / "dynamigrate-lambda.zip"
EXAMPLE = REPO / "examples" / "cross-account"


@pytest.fixture(scope="session", autouse=True)
def prerequisites() -> None:
    problems = []
    if not LAMBDA_ZIP.is_file():
        problems.append(f"{LAMBDA_ZIP} is missing: run `make build` (make test-integration does)")
    if shutil.which("terraform") is None:
        problems.append("terraform is not on PATH")
    config = os.environ.get("TF_CLI_CONFIG_FILE")
    if config and not Path(config).is_file():
        problems.append(f"TF_CLI_CONFIG_FILE={config} does not exist: run through `make test-integration`")
    if problems:
        pytest.fail("integration prerequisites missing:\n  " + "\n  ".join(problems), pytrace=False)
