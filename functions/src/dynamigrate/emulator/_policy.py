"""IAM condition evaluation for the resource policies the emulator enforces.

Shared by the bucket policy, stream resource policy and KMS key policy checks of
:mod:`dynamigrate.emulator._moto_patches` and :mod:`dynamigrate.emulator._kms_enforcement`.
"""

from __future__ import annotations

import fnmatch
from typing import Any


def _matches(operator: str, expected: Any, actual: str) -> bool | None:
    """One IAM condition operator on a known value; None when the operator is not supported here."""
    values = [str(value) for value in (expected if isinstance(expected, list) else [expected])]
    if operator == "Bool":
        return actual.lower() in {value.lower() for value in values}
    if operator == "Null":
        return any(value.lower() == "false" for value in values)  # the key is present
    negated = "Not" in operator  # StringNotEquals, StringNotLike, ArnNotEquals, ArnNotLike, ...
    positive = operator.replace("Not", "", 1)
    if positive in ("StringEquals", "ArnEquals"):
        hit = actual in values
    elif positive == "StringEqualsIgnoreCase":
        hit = actual.lower() in {value.lower() for value in values}
    elif positive in ("StringLike", "ArnLike"):
        hit = any(fnmatch.fnmatchcase(actual, value) for value in values)
    else:
        return None
    return hit != negated


def condition_holds(condition: dict[str, Any], context: dict[str, str]) -> bool | None:
    """Whether an IAM ``Condition`` block holds in ``context``; None if it needs a key not in ``context``."""
    known = {key.lower(): value for key, value in context.items()}
    for raw_operator, entries in condition.items():
        operator = raw_operator.split(":")[-1]  # ForAnyValue:/ForAllValues: on single-valued keys
        if_exists = operator.endswith("IfExists")
        operator = operator.removesuffix("IfExists")
        for key, expected in entries.items():
            actual = known.get(key.lower())
            if actual is None:
                if if_exists:
                    continue
                return None
            result = _matches(operator, expected, actual)
            if result is None:
                return None
            if not result:
                return False
    return True
