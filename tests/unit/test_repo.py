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


def test_given_a_module_when_documenting_it_then_requirements_modules_and_resources_are_listed(tmp_path: Path) -> None:
    import sys

    sys.path.insert(0, str(REPO / "tools"))
    try:
        import tf_docs
    finally:
        sys.path.pop(0)
    (tmp_path / "versions.tf").write_text(
        'terraform {\n  required_version = ">= 1.7"\n\n  required_providers {\n    aws = {\n'
        '      source  = "hashicorp/aws"\n      version = ">= 5.70"\n    }\n  }\n}\n'
    )
    (tmp_path / "main.tf").write_text(
        'data "aws_region" "current" {}\n\nresource "aws_kms_key" "this" {\n  description = "k"\n}\n\n'
        'module "key" {\n  source = "./modules/kms-key"\n  count  = 1\n}\n'
    )
    text = tf_docs.structure(tmp_path)
    assert "| terraform | `>= 1.7` |" in text and "| aws | `>= 5.70` |" in text
    assert "| aws | `hashicorp/aws` |" in text
    assert "| `key` | [`./modules/kms-key`](./modules/kms-key) |" in text
    assert f"[aws_kms_key.this]({tf_docs.REGISTRY}/resources/kms_key)" in text
    assert "[data.aws_region.current](" in text and text.index("aws_kms_key.this") < text.index("data.aws_region")


def test_given_the_package_version_then_the_changelog_has_a_release_section_for_it() -> None:
    import tomllib

    import dynamigrate

    version = tomllib.loads((REPO / "functions" / "pyproject.toml").read_text())["project"]["version"]
    assert dynamigrate.__version__ == version
    assert re.fullmatch(r"\d+\.\d+\.\d+", version), "semantic versions only: MAJOR.MINOR.PATCH"
    changelog = (REPO / "CHANGELOG.md").read_text()
    releases = re.findall(r"^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$", changelog, re.MULTILINE)
    assert releases and releases[0] == version, f"the newest CHANGELOG release is {releases[:1]}, the package {version}"
    assert f"[{version}]: " in changelog and "/tag/v" in changelog, "each release links its vX.Y.Z tag"
