"""Generate (or check) the reference tables of a module's README, as terraform-docs does.

terraform-docs is a Go binary and is not installable from the package
registries these machines reach, so this reads the module's own ``*.tf``
files (always ``terraform fmt``-formatted) and writes Requirements, Providers,
Modules, Resources, Inputs and Outputs between ``<!-- BEGIN_TF_DOCS -->`` and
``<!-- END_TF_DOCS -->``. ``--check`` fails when a README has drifted, which
``make lint`` runs.

Usage: python tools/tf_docs.py [--check] MODULE_DIR...
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

BEGIN = "<!-- BEGIN_TF_DOCS -->"
END = "<!-- END_TF_DOCS -->"
BLOCK = re.compile(r'^(variable|output) "([^"]+)" \{\n(.*?)^\}', re.MULTILINE | re.DOTALL)
MODULE = re.compile(r'^module "([^"]+)" \{\n(.*?)^\}', re.MULTILINE | re.DOTALL)
RESOURCE = re.compile(r'^(resource|data) "([^"]+)" "([^"]+)" \{', re.MULTILINE)
REQUIRED_VERSION = re.compile(r'^  required_version = "([^"]+)"', re.MULTILINE)
PROVIDER = re.compile(r'^    (\w+) = \{\n\s+source\s+= "([^"]+)"\n\s+version\s+= "([^"]+)"', re.MULTILINE)
REGISTRY = "https://registry.terraform.io/providers/hashicorp/aws/latest/docs"


@dataclass
class Entry:
    name: str
    description: str
    type: str = ""
    default: str | None = None
    sensitive: bool = False


def _attribute(body: str, name: str) -> str | None:
    """The expression of a top-level attribute of a block body (balanced over brackets and strings)."""
    match = re.search(rf"^  {name}\s*=\s*", body, re.MULTILINE)
    if match is None:
        return None
    depth, in_string, escape, out = 0, False, False, []
    for char in body[match.end() :]:
        if in_string:
            out.append(char)
            if escape:
                escape = False
            elif char == "\\":
                escape = True
            elif char == '"':
                in_string = False
            continue
        if char == "\n" and depth == 0:
            break
        if char == '"':
            in_string = True
        elif char in "({[":
            depth += 1
        elif char in ")}]":
            depth -= 1
        out.append(char)
    return "".join(out).strip()


def _string(expression: str | None) -> str:
    if not expression:
        return ""
    if expression.startswith('"'):
        return str(json.loads(expression))
    if expression.startswith("<<"):
        return " ".join(expression.splitlines()[1:-1]).strip()
    return expression


def parse(module: Path) -> tuple[list[Entry], list[Entry]]:
    variables, outputs = [], []
    for path in sorted(module.glob("*.tf")):
        for kind, name, body in BLOCK.findall(path.read_text()):
            entry = Entry(name=name, description=_string(_attribute(body, "description")))
            if kind == "variable":
                entry.type = " ".join((_attribute(body, "type") or "any").split())
                entry.default = _attribute(body, "default")
                entry.sensitive = _attribute(body, "sensitive") == "true"
                variables.append(entry)
            else:
                outputs.append(entry)
    return variables, outputs


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def structure(module: Path) -> str:
    """Requirements, Providers, Modules and Resources of a module, from its ``*.tf`` files."""
    text = "\n".join(path.read_text() for path in sorted(module.glob("*.tf")))
    lines = ["## Requirements", "", "| Name | Version |", "|---|---|"]
    lines += [f"| terraform | `{version}` |" for version in REQUIRED_VERSION.findall(text)]
    providers = PROVIDER.findall(text)
    lines += [f"| {name} | `{version}` |" for name, _, version in providers]
    lines += ["", "## Providers", "", "| Name | Source |", "|---|---|"]
    lines += [f"| {name} | `{source}` |" for name, source, _ in providers]
    modules = sorted((name, _string(_attribute(body, "source"))) for name, body in MODULE.findall(text))
    if modules:
        lines += ["", "## Modules", "", "| Name | Source |", "|---|---|"]
        lines += [f"| `{name}` | [`{source}`]({source}) |" for name, source in modules]
    resources = sorted(set(RESOURCE.findall(text)), key=lambda r: (r[0] == "data", r[1], r[2]))
    if resources:
        lines += ["", "## Resources", "", "| Name | Type |", "|---|---|"]
        for kind, type_, name in resources:
            data = kind == "data"
            folder, prefix, label = ("data-sources", "data.", "data source") if data else ("resources", "", "resource")
            page = f"{REGISTRY}/{folder}/{type_.removeprefix('aws_')}"
            lines.append(f"| [{prefix}{type_}.{name}]({page}) | {label} |")
    return "\n".join(lines)


def render(variables: list[Entry], outputs: list[Entry]) -> str:
    lines = ["## Inputs", "", "| Name | Description | Type | Default | Required |", "|---|---|---|---|:---:|"]
    for v in variables:
        default = "n/a" if v.default is None else f"`{_cell(' '.join(v.default.split()))}`"
        note = " (sensitive)" if v.sensitive else ""
        lines.append(
            f"| `{v.name}` | {_cell(v.description)}{note} | `{_cell(v.type)}` | {default} | "
            f"{'yes' if v.default is None else 'no'} |"
        )
    lines += ["", "## Outputs", "", "| Name | Description |", "|---|---|"]
    lines += [f"| `{o.name}` | {_cell(o.description)} |" for o in outputs]
    return "\n".join(lines)


def update(readme: Path, tables: str) -> str:
    text = readme.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{readme} has no {BEGIN} ... {END} markers")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{tables}\n{END}{tail}"


def main() -> int:
    parser = argparse.ArgumentParser(description="Keep module READMEs' Inputs/Outputs tables in sync.")
    parser.add_argument("--check", action="store_true", help="fail instead of writing when a README is stale")
    parser.add_argument("modules", nargs="+", type=Path)
    args = parser.parse_args()
    stale = []
    for module in args.modules:
        readme = module / "README.md"
        wanted = update(readme, structure(module) + "\n\n" + render(*parse(module)))
        if wanted != readme.read_text():
            if args.check:
                stale.append(str(readme))
            else:
                readme.write_text(wanted)
                print(f"updated {readme}")
    if stale:
        print("Inputs/Outputs tables are out of date in: " + ", ".join(stale), file=sys.stderr)
        print("Run `make docs` and commit the result.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
