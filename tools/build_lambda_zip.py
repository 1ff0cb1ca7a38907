"""Build the Lambda deployment zip reproducibly.

The zip holds the ``dynamigrate`` package (without the CLI and the emulator,
which never run inside Lambda), the pure-Python dependencies listed in one
requirements file and, optionally, compiled accelerators from another, fetched
for every Lambda runtime and architecture the module supports (their extension
modules have per-platform file names, so they coexist in one zip). boto3 is
not packed: the Lambda Python runtime provides it.

Reproducible means byte-identical output for the same inputs: files are added
in sorted order, every entry gets the same timestamp and permissions, and no
``__pycache__`` is included. Terraform's ``source_code_hash`` then changes only
when the code really changes.

``--extra-source DIR`` adds the user's own modules (a transform named
``package.module:function`` by the Terraform variable ``transform``) at the
zip's root, beside ``dynamigrate``; a file that would replace one of the
package's or a dependency's is refused.
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


# Lambda runtimes (CPython versions) and architectures the Terraform modules accept.
NATIVE_TARGETS = [
    (python, platform)
    for python in ("3.11", "3.12", "3.13")
    for platform in ("manylinux2014_x86_64", "manylinux2014_aarch64")
]


def _pip_install(target: Path, requirements: Path, *platform_args: str) -> None:
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
            *platform_args,
            "--target",
            str(target),
            "-r",
            str(requirements),
        ],
        check=True,
    )


def install_dependencies(requirements: Path, native: Path | None, target: Path) -> None:
    """Install pinned wheels into ``target`` (cached by the requirements' hash)."""
    digest = hashlib.sha256(requirements.read_bytes() + (native.read_bytes() if native else b"")).hexdigest()
    stamp = target / ".requirements-sha256"
    if stamp.is_file() and stamp.read_text() == digest:
        return
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    _pip_install(target, requirements, "--implementation=py")
    if native is not None:
        for python, platform in NATIVE_TARGETS:
            staging = target.parent / f"native-{python}-{platform}"
            shutil.rmtree(staging, ignore_errors=True)
            args = ("--implementation=cp", f"--python-version={python}", f"--platform={platform}")
            _pip_install(staging, native, *args)
            shutil.copytree(staging, target, dirs_exist_ok=True)  # extension modules differ by name
            shutil.rmtree(staging)
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


def add_extra(files: dict[str, Path], extra: Path) -> None:
    """Add the user's modules from ``extra``; never let them replace the package or a dependency."""
    if not extra.is_dir():
        raise SystemExit(f"--extra-source {extra} is not a folder (it holds your transform's package or module)")
    added = collect([extra])
    clashes = sorted(name for name in added if name in files or name.split("/")[0] == "dynamigrate")
    if clashes:
        raise SystemExit(
            f"--extra-source {extra} would replace files of the Lambda package: {', '.join(clashes[:5])}; "
            "rename your module (transforms are named package.module:function)"
        )
    files.update(added)


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
    parser.add_argument("--requirements", type=Path, required=True, help="pure-Python dependencies")
    parser.add_argument("--native-requirements", type=Path, help="compiled dependencies, fetched per Lambda platform")
    parser.add_argument("--source", type=Path, required=True, help="folder holding the dynamigrate package")
    parser.add_argument("--work", type=Path, required=True, help="staging folder for installed dependencies")
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument(
        "--extra-source", type=Path, action="append", default=[], help="folder of your own modules (a transform)"
    )
    args = parser.parse_args()

    deps = args.work / "deps"
    install_dependencies(args.requirements, args.native_requirements, deps)
    files = collect([deps, args.source])
    if "dynamigrate/__init__.py" not in files:
        parser.error(f"{args.source} does not contain dynamigrate/__init__.py")
    for extra in args.extra_source:
        add_extra(files, extra)
    write_zip(files, args.output)
    digest = hashlib.sha256(args.output.read_bytes()).hexdigest()
    size_mb = args.output.stat().st_size / 1_048_576
    print(f"built {args.output}: {len(files)} files, {size_mb:.2f} MiB, sha256 {digest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
