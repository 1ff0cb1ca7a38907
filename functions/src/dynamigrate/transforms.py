"""Load a user's item transform (``package.module:function``) for the bulk paths.

A transform is a pure function from a source item (boto3 client form) to the
target item; the bulk copy, the export loader and verify apply it the same way.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dynamigrate.rule import Transform


class TransformLoadError(ValueError):
    """The ``module:function`` spec does not name an importable callable."""


def load(spec: str) -> Transform:
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise TransformLoadError(f"transform {spec!r} must look like package.module:function")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise TransformLoadError(
            f"transform module {module_name!r} cannot be imported ({exc}); is it on PYTHONPATH?"
        ) from exc
    function = getattr(module, attribute, None)
    if not callable(function):
        raise TransformLoadError(f"{module_name} has no function {attribute!r}")
    return function  # type: ignore[no-any-return]
