"""SSE-KMS as S3 enforces it: the key must exist, be enabled, and its key policy must let the requester use it.

moto's S3 stores whatever ``x-amz-server-side-encryption-aws-kms-key-id`` (or bucket default
key) it is given without looking at KMS. AWS S3 calls KMS for the requester: an unknown key,
a disabled key, or a key policy that does not allow the requester fails the request. The
makers below wrap moto's S3 (installed, documented and undone by
:mod:`dynamigrate.emulator._moto_patches`); objects without ``aws:kms`` never reach KMS code.

Key names resolve like AWS: a key ARN names its own account and region; an alias, an alias
ARN or a bare key id resolve in the requester's account (in the bucket's region, where S3
calls KMS). That is why a writer in another account must use the full key ARN. The key
ARN is what the object records (``SSEKMSKeyId``), as AWS does.

Key policy evaluation (a request is allowed when an ``Allow`` statement matches and no
``Deny`` does): a statement matches when its ``Action`` (or ``NotAction``) covers the KMS
action, its ``Resource`` the key ARN (or is absent), its ``Principal`` names the requester
(``"*"``; for AWS principals the role ARN, the assumed-role session ARN, the IAM user ARN,
the requester account's root ARN or bare account id; for services the service principal)
and its ``Condition`` holds in the request context. A condition on a key the emulator does
not know means the statement does not apply. IAM policies are not evaluated (moto allows
every call), so a key policy naming the requester's account root is enough, within the
account and across accounts alike.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from moto.iam.models import iam_backends
from moto.kms.models import kms_backends
from moto.s3.exceptions import S3ClientError
from moto.sts.models import sts_backends
from moto.utilities.utils import get_partition

from dynamigrate.emulator._policy import condition_holds

if TYPE_CHECKING:
    from collections.abc import Callable

    from moto.kms.models import Key
    from moto.s3.models import FakeBucket, FakeKey, S3Backend
    from moto.s3.responses import S3Response
    from moto.sqs.models import Queue

LOG = logging.getLogger(__name__)

GENERATE_DATA_KEY = "kms:GenerateDataKey"
DECRYPT = "kms:Decrypt"
S3_SERVICE = "s3.amazonaws.com"

_ENCRYPTION = "x-amz-server-side-encryption"
_KEY_ID = "x-amz-server-side-encryption-aws-kms-key-id"
_BUCKET_KEY = "x-amz-server-side-encryption-bucket-key-enabled"

# The S3 object request being served on this thread (set around moto's S3Response._key_response).
_tls = threading.local()

Decision = Literal["allow", "deny", "none"]


class KmsRequestError(S3ClientError):
    """An S3 error caused by KMS, serialised by moto as S3 serialises errors (AccessDenied is a 403, the rest 400)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)


@dataclass(frozen=True)
class Principal:
    """Who asks KMS: an AWS principal (role session, IAM user, account root) or a service principal."""

    arn: str  # shown in AccessDenied messages (the session ARN for an assumed role)
    principal_arn: str  # aws:PrincipalArn (the role ARN for an assumed role)
    account: str
    names: frozenset[str]  # the "AWS" principal values of a key policy that name it
    service: str | None = None


# ------------------------------------------------------------------ policies


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


def key_policy_decision(
    policy: str | None, action: str, key_arn: str, principal: Principal, context: dict[str, str]
) -> Decision:
    """``deny`` if a Deny statement applies, else ``allow`` if an Allow statement does, else ``none``."""
    try:
        document = json.loads(policy or "{}")
    except ValueError:
        return "none"
    statements = document.get("Statement", []) if isinstance(document, dict) else []
    allowed = False
    for statement in _as_list(statements):
        if not isinstance(statement, dict) or not _statement_applies(statement, action, key_arn, principal, context):
            continue
        if statement.get("Effect") == "Deny":
            return "deny"
        allowed = allowed or statement.get("Effect") == "Allow"
    return "allow" if allowed else "none"


# ---------------------------------------------------------------------- keys


def _is_key_arn(key_id: str) -> bool:
    parts = key_id.split(":", 5)
    return len(parts) == 6 and parts[0] == "arn" and parts[2] == "kms" and parts[5].startswith("key/")


def resolve_key(key_id: str, account: str, region: str) -> Key:
    """The KMS key ``key_id`` names; aliases, alias ARNs and bare key ids are looked up in ``account``/``region``."""
    if _is_key_arn(key_id):
        _, _, _, key_region, key_account, resource = key_id.split(":", 5)
        try:
            key = kms_backends[key_account][key_region].keys.get(resource.removeprefix("key/"))
        except KeyError:  # not a region moto knows
            key = None
        if key is None:
            raise KmsRequestError("KMS.NotFoundException", f"Key '{key_id}' does not exist")
        return key
    backend = kms_backends[account][region]
    if ":alias/" in key_id or key_id.startswith("alias/"):
        raw_id = backend.get_key_id_from_alias(backend.get_alias_name(key_id))
    else:
        raw_id = key_id
    key = backend.keys.get(raw_id) if raw_id else None
    if key is None:
        raise KmsRequestError(
            "KMS.NotFoundException",
            f"Key '{key_id}' does not exist in account {account} (region {region}): an alias, an alias ARN or a "
            "key id names a key of the requester's account; a KMS key in another account must be named by its "
            "full key ARN (arn:aws:kms:<region>:<account>:key/<key-id>)",
        )
    return key


def _check_region(key: Key, region: str) -> None:
    if key.region != region:
        raise KmsRequestError(
            "KMS.NotFoundException",
            f"Key '{key.arn}' is in region {key.region}; S3 encrypts with keys of the bucket's region ({region})",
        )


def _check_state(key: Key) -> None:
    if key.key_state == "Enabled":
        return
    if key.key_state == "Disabled":
        raise KmsRequestError("KMS.DisabledException", f"{key.arn} is disabled.")
    if key.key_state == "PendingDeletion":
        raise KmsRequestError("KMS.KMSInvalidStateException", f"{key.arn} is pending deletion.")
    raise KmsRequestError("KMS.KMSInvalidStateException", f"{key.arn} is {key.key_state}.")


def _authorize(key: Key, action: str, principal: Principal, context: dict[str, str]) -> None:
    decision = key_policy_decision(key.policy, action, key.arn, principal, context)
    if decision == "allow":
        return
    reason = (
        "with an explicit deny in a resource-based policy"
        if decision == "deny"
        else f"because no resource-based policy allows the {action} action"
    )
    raise KmsRequestError(
        "AccessDenied", f"User: {principal.arn} is not authorized to perform: {action} on resource: {key.arn} {reason}"
    )


# -------------------------------------------------------------- S3 requests


def requester(response: S3Response) -> Principal:
    """The principal of an S3 request: its assumed role, IAM user, or else the account root."""
    account = str(response.current_account)
    access_key = str(response.access_key)
    partition = get_partition(response.region)
    root = f"arn:{partition}:iam::{account}:root"
    role = sts_backends[account][partition].get_assumed_role_from_access_key(access_key)
    if role is not None:
        names = frozenset({role.role_arn, role.arn, root, account})
        return Principal(arn=role.arn, principal_arn=role.role_arn, account=account, names=names)
    user = iam_backends[account][partition].get_user_from_access_key_id(access_key)
    if user is not None:
        names = frozenset({user.arn, root, account})
        return Principal(arn=user.arn, principal_arn=user.arn, account=account, names=names)
    return Principal(arn=root, principal_arn=root, account=account, names=frozenset({root, account}))


def _current() -> S3Response | None:
    return getattr(_tls, "request", None)


def _is_kms(encryption: Any) -> bool:
    return isinstance(encryption, str) and encryption.startswith("aws:kms")


def _default_rule(bucket: FakeBucket) -> dict[str, Any]:
    rule = (bucket.encryption or {}).get("Rule") or {}
    return rule if isinstance(rule, dict) else {}


def effective_encryption(
    bucket: FakeBucket, encryption: str | None, key_id: str | None
) -> tuple[str | None, str | None]:
    """The algorithm and key moto stores: the request's, else the bucket default's (s3/models.py:2316-2328)."""
    if bucket.encryption:
        default = _default_rule(bucket).get("ApplyServerSideEncryptionByDefault") or {}
        key_id = key_id or default.get("KMSMasterKeyID")
        encryption = encryption or default.get("SSEAlgorithm")
    return encryption, key_id


def _use_key(
    request: S3Response, bucket: FakeBucket, object_name: str, key_id: str, action: str, *, bucket_key: bool
) -> Key:
    """Resolve ``key_id`` for ``request`` and check that its principal may perform ``action`` with it through S3."""
    principal = requester(request)
    key = resolve_key(key_id, principal.account, bucket.region_name)
    context = {
        "aws:PrincipalArn": principal.principal_arn,
        "aws:PrincipalAccount": principal.account,
        "kms:CallerAccount": principal.account,
        "kms:ViaService": f"s3.{bucket.region_name}.amazonaws.com",
        "aws:SecureTransport": "true",
        # S3's encryption context: the bucket ARN with S3 Bucket Keys, else the object's ARN.
        "kms:EncryptionContext:aws:s3:arn": bucket.arn if bucket_key else f"{bucket.arn}/{object_name}",
    }
    _check_region(key, bucket.region_name)
    _authorize(key, action, principal, context)
    _check_state(key)
    return key


def _bucket_key(value: Any, bucket: FakeBucket) -> bool:
    if value is None:
        value = _default_rule(bucket).get("BucketKeyEnabled")
    return str(value).lower() == "true"


def _check_stored(request: S3Response, bucket: FakeBucket, obj: FakeKey, action: str) -> None:
    """``action`` on a stored object's key; a key recorded by other than its ARN resolves in the bucket's account."""
    if not _is_kms(obj.encryption) or not obj.kms_key_id:
        return
    key_id = str(obj.kms_key_id)
    if not _is_key_arn(key_id):
        key_id = resolve_key(key_id, bucket.account_id, bucket.region_name).arn
    _use_key(request, bucket, obj.name, key_id, action, bucket_key=_bucket_key(obj.bucket_key_enabled, bucket))


# The makers: each takes moto's original and returns the replacement (see _moto_patches).


def make_key_response(original: Callable[..., Any]) -> Callable[..., Any]:
    """``S3Response._key_response``: remember the object request being served on this thread."""

    def _key_response(self: S3Response, request: Any, full_url: str) -> Any:
        outer, _tls.request = _current(), self
        try:
            return original(self, request, full_url)
        finally:
            _tls.request = outer

    return _key_response


def _named(names: tuple[str, ...], args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any] | None:
    """A call's arguments by parameter name (``names``: the method's parameters in order); None if it has more."""
    if len(args) > len(names):
        return None
    return dict(zip(names, args, strict=False)) | kwargs


# Parameters of moto's methods, in order (s3/models.py:2291, :2687, :2774).
_PUT_OBJECT = ("bucket_name", "key_name", "value", "storage", "etag", "multipart", "encryption", "kms_key_id")
_CREATE_UPLOAD = ("bucket_name", "key_name", "metadata", "storage_type", "tags", "acl", "sse_encryption", "kms_key_id")
_UPLOAD_PART_COPY = ("dest_bucket_name", "multipart_id", "part_id", "src_bucket_name", "src_key_name", "src_version_id")


def make_put_object(original: Callable[..., Any]) -> Callable[..., Any]:
    """``S3Backend.put_object``: PutObject and CopyObject need ``kms:GenerateDataKey``; the key ARN is stored."""

    def put_object(self: S3Backend, *args: Any, **kwargs: Any) -> Any:
        request = _current()
        # Only object PUTs (PutObject, CopyObject); CompleteMultipartUpload (a POST) was checked at its creation.
        call = _named(_PUT_OBJECT, args, kwargs) if request is not None and request.method == "PUT" else None
        if request is None or call is None:
            return original(self, *args, **kwargs)
        bucket = self.get_bucket(str(call["bucket_name"]))
        encryption, key_id = effective_encryption(bucket, call.get("encryption"), call.get("kms_key_id"))
        if not _is_kms(encryption) or not key_id:
            return original(self, **call)
        bucket_key = _bucket_key(call.get("bucket_key_enabled"), bucket)
        key = _use_key(request, bucket, str(call["key_name"]), key_id, GENERATE_DATA_KEY, bucket_key=bucket_key)
        return original(self, **(call | {"kms_key_id": key.arn}))

    return put_object


def make_copy_object(original: Callable[..., Any]) -> Callable[..., Any]:
    """``S3Backend.copy_object``: reading an SSE-KMS source needs ``kms:Decrypt`` (the copy's put is checked too)."""

    def copy_object(self: S3Backend, src_key: FakeKey, *args: Any, **kwargs: Any) -> Any:
        request = _current()
        if request is not None and _is_kms(src_key.encryption):
            _check_stored(request, self.get_bucket(str(src_key.bucket_name)), src_key, DECRYPT)
        return original(self, src_key, *args, **kwargs)

    return copy_object


def make_create_multipart_upload(original: Callable[..., Any]) -> Callable[..., Any]:
    """``S3Backend.create_multipart_upload``: ``kms:GenerateDataKey``; the upload records the key ARN."""

    def create_multipart_upload(self: S3Backend, *args: Any, **kwargs: Any) -> Any:
        request = _current()
        call = _named(_CREATE_UPLOAD, args, kwargs) if request is not None else None
        if request is None or call is None:
            return original(self, *args, **kwargs)
        bucket = self.get_bucket(str(call["bucket_name"]))
        encryption, key_id = effective_encryption(bucket, call.get("sse_encryption"), call.get("kms_key_id"))
        if not _is_kms(encryption) or not key_id:
            return original(self, **call)
        bucket_key = _bucket_key(request.headers.get(_BUCKET_KEY), bucket)
        key = _use_key(request, bucket, str(call["key_name"]), key_id, GENERATE_DATA_KEY, bucket_key=bucket_key)
        return original(self, **(call | {"kms_key_id": key.arn}))

    return create_multipart_upload


def _check_upload(request: S3Response, backend: S3Backend, bucket_name: str, upload_id: str) -> None:
    bucket = backend.get_bucket(bucket_name)
    upload = bucket.multiparts.get(upload_id)
    if upload is None:
        return  # moto answers NoSuchUpload
    encryption, key_id = effective_encryption(bucket, upload.sse_encryption, upload.kms_key_id)
    if _is_kms(encryption) and key_id:
        _use_key(request, bucket, str(upload.key_name), key_id, DECRYPT, bucket_key=_bucket_key(None, bucket))


def make_upload_part(original: Callable[..., Any]) -> Callable[..., Any]:
    """``S3Backend.upload_part``: a part of an SSE-KMS upload needs ``kms:Decrypt`` (S3 API reference, UploadPart)."""

    def upload_part(self: S3Backend, bucket_name: str, multipart_id: str, *args: Any, **kwargs: Any) -> Any:
        request = _current()
        if request is not None:
            _check_upload(request, self, bucket_name, multipart_id)
        return original(self, bucket_name, multipart_id, *args, **kwargs)

    return upload_part


def make_upload_part_copy(original: Callable[..., Any]) -> Callable[..., Any]:
    """``S3Backend.upload_part_copy``: ``kms:Decrypt`` of the upload's key and of an SSE-KMS source."""

    def upload_part_copy(self: S3Backend, *args: Any, **kwargs: Any) -> Any:
        request = _current()
        call = _named(_UPLOAD_PART_COPY, args, kwargs) if request is not None else None
        if request is not None and call is not None:
            _check_upload(request, self, str(call["dest_bucket_name"]), str(call["multipart_id"]))
            source = self.get_object(
                str(call["src_bucket_name"]), str(call["src_key_name"]), version_id=call.get("src_version_id")
            )
            if source is not None and _is_kms(source.encryption):
                _check_stored(request, self.get_bucket(str(call["src_bucket_name"])), source, DECRYPT)
        return original(self, *args, **kwargs)

    return upload_part_copy


def make_get_object(original: Callable[..., Any]) -> Callable[..., Any]:
    """``S3Response.get_object``: returning an SSE-KMS object's content needs ``kms:Decrypt``."""

    def get_object(self: S3Response) -> Any:
        response = original(self)
        status, headers = response[0], response[1]
        if status in (200, 206) and _is_kms(headers.get(_ENCRYPTION)) and headers.get(_KEY_ID):
            bucket = self.backend.get_bucket(self.bucket_name)
            key_id = str(headers[_KEY_ID])
            if not _is_key_arn(key_id):
                key_id = resolve_key(key_id, bucket.account_id, bucket.region_name).arn
            object_name = str(self.parse_key_name())
            bucket_key = _bucket_key(headers.get(_BUCKET_KEY, "false"), bucket)
            _use_key(self, bucket, object_name, key_id, DECRYPT, bucket_key=bucket_key)
        return response

    return get_object


# ------------------------------------------------------- S3 -> SQS (service)


def _aws_managed(key_id: str) -> bool:
    return key_id == "alias/aws/sqs" or key_id.endswith(":alias/aws/sqs")


def s3_may_send_to_queue(queue: Queue, bucket_name: str, bucket_account: str) -> bool:
    """Whether S3 may put an event of ``bucket_name`` into ``queue``; logs an ERROR naming what is missing if not.

    A queue encrypted with a customer managed key (``KmsMasterKeyId``) takes S3's events only
    if the key policy lets the service principal ``s3.amazonaws.com`` use the key
    (``kms:GenerateDataKey`` and ``kms:Decrypt``), with ``aws:SourceAccount`` the bucket
    owner and ``aws:SourceArn`` the bucket ARN. AWS drops the event otherwise, silently.
    """
    key_id = str(getattr(queue, "kms_master_key_id", None) or "")
    if not key_id or _aws_managed(key_id):
        return True
    bucket_arn = f"arn:{get_partition(queue.region)}:s3:::{bucket_name}"
    where = f"S3 event notification of bucket {bucket_name} to queue {queue.queue_arn} dropped"
    try:
        key = resolve_key(key_id, queue.account_id, queue.region)
        _check_region(key, queue.region)
        _check_state(key)
    except KmsRequestError as exc:
        LOG.error("%s: the queue's KMS key %s is not usable (%s: %s)", where, key_id, exc.code, exc.message)
        return False
    principal = Principal(arn=S3_SERVICE, principal_arn=S3_SERVICE, account="", names=frozenset(), service=S3_SERVICE)
    context = {
        "aws:SourceAccount": bucket_account,
        "aws:SourceArn": bucket_arn,
        "aws:SecureTransport": "true",
        "aws:PrincipalServiceName": S3_SERVICE,
        "kms:ViaService": f"sqs.{queue.region}.amazonaws.com",
        "kms:EncryptionContext:aws:sqs:arn": queue.queue_arn,
    }
    missing = [
        action
        for action in (GENERATE_DATA_KEY, DECRYPT)
        if key_policy_decision(key.policy, action, key.arn, principal, context) != "allow"
    ]
    if missing:
        LOG.error(
            "%s: the key policy of the queue's KMS key %s does not allow the service principal %s to perform %s "
            "(with aws:SourceAccount=%s, aws:SourceArn=%s); AWS drops such events without an error",
            where,
            key.arn,
            S3_SERVICE,
            " and ".join(missing),
            bucket_account,
            bucket_arn,
        )
        return False
    return True
