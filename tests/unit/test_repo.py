"""Repository hygiene: the pre-commit hooks run exactly what `make lint` runs."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
VARIABLES = {"$(BIN)": ".venv/bin", "$(PY)": ".venv/bin/python", "$(CHECKOV_VENV)": "build/checkov-venv"}


def lint_commands() -> list[str]:
    """The recipe of the Makefile's lint target, with its variables expanded."""
    text = (REPO / "Makefile").read_text().replace("\\\n", " ")
    recipe = re.search(r"^lint:[^\n]*\n((?:\t[^\n]*\n)+)", text, re.MULTILINE)
    assert recipe, "the Makefile has no lint target"
    modules = " ".join(sorted(f"modules/{p.name}" for p in (REPO / "modules").iterdir() if p.is_dir()))
    commands = []
    for line in recipe.group(1).splitlines():
        command = line.strip()
        for name, value in {**VARIABLES, "$(DOC_MODULES)": f". {modules}"}.items():
            command = command.replace(name, value)
        commands.append(" ".join(shlex.split(command)))
    return commands


def test_given_the_pre_commit_config_then_it_runs_every_lint_command_and_nothing_else() -> None:
    config = yaml.safe_load((REPO / ".pre-commit-config.yaml").read_text())
    entries = []
    for hook in config["repos"][0]["hooks"]:
        entry = hook["entry"]
        if entry.startswith("bash -c "):
            entries.extend(part.strip() for part in shlex.split(entry)[2].split("&&"))
        else:
            entries.append(" ".join(shlex.split(entry)))
    commands = lint_commands()
    assert len(commands) >= 6
    assert sorted(" ".join(shlex.split(e)) for e in entries) == sorted(commands)
