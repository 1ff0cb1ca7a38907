"""Fixtures for the embedded emulator's tests: a fresh emulator per test and two accounts in it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from dynamigrate.emulator import Emulator
from tests.unit.emulator._testkit import ACCOUNT_A, ACCOUNT_B, Account

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture
def emu(tmp_path: Path) -> Iterator[Emulator]:
    with Emulator(work_dir=tmp_path / "emulator", lambda_workers=2) as emulator:
        yield emulator


@pytest.fixture
def account_a(emu: Emulator) -> Account:
    return Account(emu, ACCOUNT_A)


@pytest.fixture
def account_b(emu: Emulator) -> Account:
    return Account(emu, ACCOUNT_B)


@pytest.fixture
def record_file(tmp_path: Path) -> Path:
    return tmp_path / "records.jsonl"
