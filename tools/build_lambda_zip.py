"""Build the Lambda deployment zip reproducibly.

The zip holds the ``dynamigrate`` package (without the CLI and the emulator,
which never run inside Lambda) plus the pure-Python dependencies listed in a
requirements file. boto3 is not packed: the Lambda Python runtime provides it.

Reproducible means byte-identical output for the same inputs: files are added
in sorted order, every entry gets the same timestamp and permissions, and no
``__pycache__`` is included. Terraform's ``source_code_hash`` then changes only
when the code really changes.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

FIXED_DATE = (1980, 1, 1, 0, 0, 0)
# Sub-packages that are tools for operators, not Lambda code.
EXCLUDED_PACKAGES = ("dynamigrate/cli", "dynamigrate/emulator")
EXCLUDED_NAMES = ("__pycache__",)
EXCLUDED_SUFFIXES = (".pyc", ".pyo")


def install_dependencies(requirements: Path, target: Path) -> None:
    """Install pinned, pure-Python wheels into ``target`` (cached by requirements hash)."""
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()
    stamp = target / ".requirements-sha256"
    if stamp.is_file() and stamp.read_text() == digest:
        return
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-compile",
            "--no-deps",
            "--only-binary=:all:",
            "--implementation=py",
            "--target",
            str(target),
            "-r",
            str(requirements),
        ],
        check=True,
    )
    for cache in target.rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)
    stamp.write_text(digest)


def wanted(relative: str) -> bool:
    parts = relative.split("/")
    if any(part in EXCLUDED_NAMES for part in parts) or relative.endswith(EXCLUDED_SUFFIXES):
        return False
    if relative.startswith(".requirements-sha256"):
        return False
    return not any(relative == pkg or relative.startswith(pkg + "/") for pkg in EXCLUDED_PACKAGES)


def collect(roots: list[Path]) -> dict[str, Path]:
    """Map archive names to files; the package source overrides installed copies."""
    files: dict[str, Path] = {}
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                relative = path.relative_to(root).as_posix()
                if wanted(relative):
                    files[relative] = path
    return files


def write_zip(files: dict[str, Path], output: Path) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=FIXED_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o100644 << 16
            info.create_system = 3  # unix, so the permissions above are honoured
            archive.writestr(info, files[name].read_bytes())
    tmp.replace(output)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requirements", type=Path, required=True)
    parser.add_argument("--source", type=Path, required=True, help="folder holding the dynamigrate package")
    parser.add_argument("--work", type=Path, required=True, help="staging folder for installed dependencies")
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()

    deps = args.work / "deps"
    install_dependencies(args.requirements, deps)
    files = collect([deps, args.source])
    if "dynamigrate/__init__.py" not in files:
        parser.error(f"{args.source} does not contain dynamigrate/__init__.py")
    write_zip(files, args.output)
    digest = hashlib.sha256(args.output.read_bytes()).hexdigest()
    size_mb = args.output.stat().st_size / 1_048_576
    print(f"built {args.output}: {len(files)} files, {size_mb:.2f} MiB, sha256 {digest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
