"""The Lambda zip builder packs the user's transform module beside the package, never over it."""

from __future__ import annotations

import importlib.util
import sys
import zipfile
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[2] / "tools" / "build_lambda_zip.py"


def builder() -> object:
    spec = importlib.util.spec_from_file_location("build_lambda_zip", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("build_lambda_zip", module)
    spec.loader.exec_module(module)
    return module


def write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_given_an_extra_source_then_its_modules_are_packed_at_the_root_reproducibly(tmp_path: Path) -> None:
    tool = builder()
    write(tmp_path / "src", "dynamigrate/__init__.py", "")
    write(tmp_path / "mine", "rekey/__init__.py", "")
    write(tmp_path / "mine", "rekey/orders.py", "def to_v2(item):\n    return item\n")
    write(tmp_path / "mine", "rekey/__pycache__/orders.cpython-312.pyc", "junk")
    outputs = []
    for name in ("a.zip", "b.zip"):
        files = tool.collect([tmp_path / "src"])  # type: ignore[attr-defined]
        tool.add_extra(files, tmp_path / "mine")  # type: ignore[attr-defined]
        tool.write_zip(files, tmp_path / name)  # type: ignore[attr-defined]
        outputs.append((tmp_path / name).read_bytes())
    assert outputs[0] == outputs[1]
    names = zipfile.ZipFile(tmp_path / "a.zip").namelist()
    assert names == ["dynamigrate/__init__.py", "rekey/__init__.py", "rekey/orders.py"]


@pytest.mark.parametrize("relative", ["dynamigrate/transforms.py", "dynamigrate/mine.py", "boto_like/__init__.py"])
def test_given_an_extra_source_that_would_replace_packaged_files_then_the_build_refuses(
    tmp_path: Path, relative: str
) -> None:
    tool = builder()
    write(tmp_path / "src", "dynamigrate/__init__.py", "")
    write(tmp_path / "src", "boto_like/__init__.py", "")  # stands for an installed dependency
    write(tmp_path / "mine", relative, "")
    files = tool.collect([tmp_path / "src"])  # type: ignore[attr-defined]
    with pytest.raises(SystemExit, match="would replace files of the Lambda package"):
        tool.add_extra(files, tmp_path / "mine")  # type: ignore[attr-defined]
    with pytest.raises(SystemExit, match="is not a folder"):
        tool.add_extra(files, tmp_path / "absent")  # type: ignore[attr-defined]
