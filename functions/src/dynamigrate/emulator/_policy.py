"""Resource policy evaluation (statements, principals, IAM conditions) for the policies the emulator enforces.

Shared by the bucket policy, stream resource policy and KMS key policy checks of
:mod:`dynamigrate.emulator._moto_patches` and :mod:`dynamigrate.emulator._kms_enforcement`.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass
from typing import Any, Literal

Decision = Literal["allow", "deny", "none"]


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


@dataclass(frozen=True)
class Principal:
    """Who asks: an AWS principal (role session, IAM user, account root) or a service principal."""

    arn: str  # shown in AccessDenied messages (the session ARN for an assumed role)
    principal_arn: str  # aws:PrincipalArn (the role ARN for an assumed role)
    account: str
    names: frozenset[str]  # the "AWS" principal values of a policy that name it
    service: str | None = None


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _principal_matches(spec: Any, principal: Principal) -> bool:
    if spec == "*":
        return True
    if not isinstance(spec, dict):
        return False
    aws = [str(value) for value in _as_list(spec.get("AWS"))]
    if "*" in aws:
        return True
    if principal.service is not None:
        return principal.service in _as_list(spec.get("Service"))
    return any(value in principal.names for value in aws)


def _statement_applies(
    statement: dict[str, Any], action: str, resource: str, principal: Principal, context: dict[str, str]
) -> bool:
    action = action.lower()
    if "NotAction" in statement:
        if any(fnmatch.fnmatchcase(action, str(p).lower()) for p in _as_list(statement["NotAction"])):
            return False
    elif not any(fnmatch.fnmatchcase(action, str(p).lower()) for p in _as_list(statement.get("Action"))):
        return False
    if "NotResource" in statement:
        if any(fnmatch.fnmatchcase(resource, str(p)) for p in _as_list(statement["NotResource"])):
            return False
    elif "Resource" in statement and not any(
        fnmatch.fnmatchcase(resource, str(p)) for p in _as_list(statement["Resource"])
    ):
        return False
    if "NotPrincipal" in statement:
        if _principal_matches(statement["NotPrincipal"], principal):
            return False
    elif not _principal_matches(statement.get("Principal"), principal):
        return False
    condition = statement.get("Condition")
    return not condition or condition_holds(condition, context) is True


def policy_decision(
    policy: str | None, action: str, resource: str, principal: Principal, context: dict[str, str]
) -> Decision:
    """``deny`` if a Deny statement applies, else ``allow`` if an Allow statement does, else ``none``."""
    try:
        document = json.loads(policy or "{}")
    except ValueError:
        return "none"
    statements = document.get("Statement", []) if isinstance(document, dict) else []
    allowed = False
    for statement in _as_list(statements):
        if not isinstance(statement, dict) or not _statement_applies(statement, action, resource, principal, context):
            continue
        if statement.get("Effect") == "Deny":
            return "deny"
        allowed = allowed or statement.get("Effect") == "Allow"
    return "allow" if allowed else "none"
