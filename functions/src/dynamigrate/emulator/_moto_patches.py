"""Reversible patches to moto 5.2.x (written and tested against moto 5.2.5).

Every patch replaces one attribute of one moto class or module and keeps the original,
so :func:`uninstall` restores moto exactly; :func:`install` refuses to run twice (one
emulator per process). Line numbers refer to moto 5.2.5. What is patched and why:

``moto.awslambda.models.LambdaFunction._invoke_lambda``
    moto runs functions in Docker. The replacement hands the invocation to the
    emulator's local runner (warm worker processes). Everything moto does around it
    (``Invoke`` API, function errors header, ``LogType=Tail``) is kept.

``moto.awslambda.models.LambdaBackend.create/update/delete_event_source_mapping``
    moto registers each mapping on its source (``Table.lambda_event_source_mappings``,
    ``Queue.lambda_event_source_mappings``) and then pushes every write to Lambda
    synchronously inside the write request, one record per invocation, and clears the
    stream shard afterwards (dynamodb/models/table.py:235-243, sqs/models.py:577).
    ``delete_event_source_mapping`` forgets the mapping but leaves it registered on the
    source (awslambda/models.py:2215), so moto would keep pushing. The wrappers
    unregister the mapping from its source (the mapping itself stays in moto, so
    List/Get/Update/Delete behave normally) and tell the emulator, whose pollers deliver.

``LambdaBackend.create_event_source_mapping`` for a stream in another account
    moto looks stream ARNs up in the mapping's own account only and refuses the rest.
    AWS reads a stream across accounts when the stream's resource-based policy allows
    the function's execution role (DynamoDB cross-account stream access, 2024). The
    wrapper creates such a mapping when the policy allows ``dynamodb:GetRecords`` to the
    role (conditions evaluated on ``aws:PrincipalArn`` and ``aws:PrincipalAccount``) and
    refuses it as AWS does otherwise; the pollers read the shard of the stream's account.

``moto.dynamodb.models.table.StreamShard.add`` and the write methods of ``DynamoDBBackend``
    All DynamoDB writes are serialised by one re-entrant lock, the one of
    :mod:`dynamigrate.emulator._dynamodb_fixes` (installed first; it makes
    ``TransactWriteItems`` check-then-apply instead of moto's snapshot-and-restore, and
    it stays installed: it is not reversible). So a table change and its stream record
    are atomic and stream order equals write order (moto computes the sequence number as
    ``len(items) + start`` without a lock, table.py:230: concurrent writers could share
    one). ``update_item`` of a missing item makes moto emit two INSERT records (a key-only
    put, then the update: dynamodb/models/__init__.py:516 and :545); only the last is
    kept, as DynamoDB emits one. A transaction's
    records are committed only if it succeeds. The ESM registry on the table is emptied
    before every write, so moto's synchronous push never runs and records stay in the
    shard (sequence numbers are never reused).

``moto.sqs.models.SQSBackend.receive_message`` and ``Queue.delete_message`` / ``Queue.add_message``
    ``Queue.delete_message`` rebuilds the message list without a lock (sqs/models.py:631);
    a message sent by another thread at that moment is lost. Receive and delete now hold the queue's own
    message lock (the one ``add_message`` already uses; long polls release it while they
    wait). ``add_message`` empties the queue's ESM registry first, so moto never invokes
    Lambda inside ``SendMessage``, then wakes the emulator's SQS pollers. moto moves a
    message to the dead-letter queue on the first receive after ``maxReceiveCount``
    receives, so the pollers' own receives drive the redrive.

``moto.sqs.models.Queue._set_attributes``
    ``SetQueueAttributes`` without a ``Policy`` attribute clears the queue policy
    (sqs/models.py:358 assigns ``attributes.get("Policy")`` unconditionally). AWS changes
    only the attributes a request names; so does the wrapper. Without it, a redrive
    policy and a queue policy applied by two Terraform resources in parallel race.

``moto.s3.notifications.send_event``
    moto sends bucket notifications from the account of the request, not of the bucket:
    a PutObject by account A into account B's bucket looks the notification queue up in
    account A and silently drops the event (s3/models.py:2368 passes the request's
    ``self.account_id``; s3/notifications.py:145 swallows the error). The wrapper passes the bucket
    owner's account, as AWS does; this is what makes "write straight into the target
    account's bucket" work.

``moto.s3.notifications._send_sqs_message``
    moto puts every S3 event into the queue (notifications.py:135). AWS delivers to a queue
    encrypted with a customer managed key (``KmsMasterKeyId``) only if the key policy lets
    the service principal ``s3.amazonaws.com`` perform ``kms:GenerateDataKey`` and
    ``kms:Decrypt`` (conditions evaluated on ``aws:SourceAccount`` = bucket owner,
    ``aws:SourceArn`` = bucket ARN) and an enabled key exists; otherwise it drops the event
    without an error. The wrapper drops it too and logs an ERROR (logger
    ``dynamigrate.emulator._kms_enforcement``) naming the bucket, the queue, the key and the
    missing permissions. SQS-managed SSE and ``alias/aws/sqs`` queues are not checked. The
    ``s3:TestEvent`` of ``send_test_event`` (notifications.py:288) goes the same way.

SSE-KMS: ``moto.s3.responses.S3Response._key_response`` and ``get_object``, ``moto.s3.models.S3Backend.put_object``,
``copy_object``, ``create_multipart_upload``, ``upload_part`` and ``upload_part_copy``
    (logic in :mod:`dynamigrate.emulator._kms_enforcement`). moto stores whatever
    ``x-amz-server-side-encryption-aws-kms-key-id`` or bucket default key it is given
    without looking at KMS (responses.py:2276-2277 read the headers and :2310 passes them
    on; models.py:2316-2328 apply the bucket default encryption). AWS S3
    calls KMS as the requester, so an unknown key, a disabled key or a key policy that does
    not allow the requester fails the request. The wrapper of ``_key_response``
    (responses.py:1904, the entry of every object request) keeps the request in a
    thread-local while it runs, so the backend wrappers know the requester: the role of
    its STS credentials (``get_assumed_role_from_access_key``, sts/models.py:108), an IAM
    user, else the account root. When the effective encryption (the request's, else the
    bucket default, exactly as models.py:2316-2328 computes it) is ``aws:kms`` with a key:
    ``put_object`` (models.py:2291; PutObject and CopyObject, i.e. PUT requests) and
    ``create_multipart_upload`` (:2687) need ``kms:GenerateDataKey`` and store the key ARN
    (what AWS records and HeadObject returns); ``upload_part`` (:2767) and
    ``upload_part_copy`` (:2774) need ``kms:Decrypt`` of the upload's key (S3 API reference,
    UploadPart), ``copy_object`` (:3048) and ``upload_part_copy`` of an SSE-KMS source too;
    ``get_object`` (responses.py:1999) checks ``kms:Decrypt`` on the response moto built
    (HeadObject needs no KMS). A key ARN names its account and region; an alias, alias ARN
    or key id resolves in the requester's account (kms/models.py:540
    ``get_key_id_from_alias``), in the bucket's region. Key policies are evaluated with
    :func:`condition_holds` on ``aws:PrincipalArn``, ``aws:PrincipalAccount``,
    ``kms:CallerAccount``, ``kms:ViaService`` (``s3.<bucket region>.amazonaws.com``),
    ``aws:SecureTransport`` and ``kms:EncryptionContext:aws:s3:arn``; the principal the
    policy may name is the role ARN, the session ARN, the IAM user ARN, the requester
    account's root ARN or account id, or ``"*"`` (IAM policies are not enforced, so the
    account root delegating to IAM allows, within and across accounts). Errors as S3 returns
    them: ``KMS.NotFoundException`` (400; names the key and says another account's key needs
    its full key ARN; also for a key outside the bucket's region),
    ``KMS.DisabledException`` / ``KMS.KMSInvalidStateException`` (400), ``AccessDenied``
    (403, "User: <principal> is not authorized to perform: kms:<action> on resource: <key
    ARN> because no resource-based policy allows the kms:<action> action", or "... with an
    explicit deny in a resource-based policy"). Objects without ``aws:kms`` never reach KMS
    code; writes outside an S3 object request (DynamoDB exports, Step Functions result
    writers, server access logs) are not checked. Left as moto does it: ``aws:kms`` without
    a key id on a bucket whose default names a key uses that key (AWS: ``aws/s3``); without
    a default no key is recorded.

``moto.s3.models.FakeBucket.get_permission``
    moto evaluates bucket policy conditions with ``StringEquals`` only and treats every
    other operator as satisfied (iam/policy_conditions.py:35-44), so the usual TLS-only
    statement (``Deny`` when ``Bool aws:SecureTransport = false``) denies every object
    request (403). The replacement evaluates conditions on the keys the emulator knows,
    with IAM's operators (``aws:SecureTransport`` is ``true``: the emulator stands in for
    AWS's HTTPS endpoints); a statement whose condition does not hold does not apply, and
    one conditioned on a key the emulator cannot know (``aws:PrincipalArn``,
    ``aws:SourceVpce``...) is ignored. Unconditional statements behave as in moto. IAM is
    not enforced beyond that.

``boto_client_for`` in the modules of ``moto.stepfunctions.parser`` (and moto's config)
    moto only runs state machines when ``execute_state_machine`` is set in its user
    config; the emulator sets it while installed. Its interpreter (LocalStack's) then
    calls services as account 123456789012 with fixed keys on ``localhost:$MOTO_PORT``
    (asl/utils/boto_client.py:14), so a task of a state machine in the target account
    would invoke or read nothing of that account. The replacement asks the emulator for
    a client of the execution role (credentials from the emulator's STS, so the role's
    account) on the emulator's endpoint. Every module that imported the function is
    patched, since each holds its own reference.

``moto.stepfunctions.responses.StepFunctionResponse.validate_state_machine_definition`` (added)
    moto has no ``ValidateStateMachineDefinition``; the AWS provider calls it before
    creating a state machine and retries the "not implemented" error until it times
    out. The added action parses the definition with moto's ASL parser (the one that
    runs executions) and answers ``OK`` or ``FAIL`` with the parser's message, as AWS
    answers with its diagnostics. ``ListStateMachineVersions`` (also missing, read by the
    provider after every create) lists the versions moto keeps on the state machine.

Kinesis mappings are left to moto (it pushes synchronously; the function then runs in
the local runner, without batching or retry semantics).
"""

from __future__ import annotations

import fnmatch
import importlib
import json
import threading
from importlib import metadata
from typing import TYPE_CHECKING, Any, Protocol, cast

from moto.awslambda.models import EventSourceMapping, LambdaBackend, LambdaFunction
from moto.core.config import default_user_config
from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends
from moto.dynamodb.models.table import StreamShard
from moto.iam.access_control import IAMPolicyStatement, PermissionResult
from moto.moto_api._internal.models import moto_api_backend
from moto.s3 import notifications as s3_notifications
from moto.s3.models import FakeBucket, S3Backend
from moto.s3.responses import S3Response
from moto.sqs.models import Queue, SQSBackend, sqs_backends
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.responses import StepFunctionResponse

from dynamigrate.emulator import _cloudwatch_fixes, _dynamodb_fixes
from dynamigrate.emulator import _kms_enforcement as kms
from dynamigrate.emulator._policy import condition_holds
from dynamigrate.emulator._version import TESTED_VERSION, MotoVersionError, check_moto_version

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from types import ModuleType

# One lock for every DynamoDB write in the process (all accounts and regions) and for
# the pollers' reads of stream shards. Re-entrant: backend methods call each other.
DDB_LOCK = _dynamodb_fixes.WRITE_LOCK

# What bucket policy conditions see: requests arrive as over AWS's HTTPS endpoints.
_REQUEST_CONTEXT = {"aws:SecureTransport": "true"}

_StreamWrite = tuple["StreamShard", Any, Any]


class Hooks(Protocol):
    """What the patched moto calls back into (the running emulator)."""

    def invoke(self, function: LambdaFunction, event: Any) -> tuple[str, bool, str]: ...

    def esm_created(self, backend: LambdaBackend, esm: EventSourceMapping) -> None: ...

    def esm_changed(self, esm: EventSourceMapping) -> None: ...

    def esm_deleted(self, uuid: str) -> None: ...

    def stream_appended(self, account_id: str, region: str, table_name: str) -> None: ...

    def sqs_message_added(self, account_id: str, region: str, queue_name: str) -> None: ...

    def service_client(self, service: str, region: str, role_arn: str) -> Any: ...


_state_lock = threading.Lock()
_hooks: Hooks | None = None
_originals: list[tuple[type | ModuleType, str, Any]] = []
_undo: list[Callable[[], None]] = []  # other reversible changes (moto's user config)
_tls = threading.local()


def installed() -> bool:
    return _hooks is not None


class _Detached:
    """Stands in when a request thread races :func:`uninstall` (shutdown): nothing runs, nothing is pushed."""

    def invoke(self, function: LambdaFunction, event: Any) -> tuple[str, bool, str]:
        return '{"errorType": "Runtime.Shutdown", "errorMessage": "the emulator is stopping"}', True, ""

    def esm_created(self, backend: LambdaBackend, esm: EventSourceMapping) -> None:
        pass

    def esm_changed(self, esm: EventSourceMapping) -> None:
        pass

    def esm_deleted(self, uuid: str) -> None:
        pass

    def stream_appended(self, account_id: str, region: str, table_name: str) -> None:
        pass

    def sqs_message_added(self, account_id: str, region: str, queue_name: str) -> None:
        pass

    def service_client(self, service: str, region: str, role_arn: str) -> Any:
        raise RuntimeError("the emulator is stopping")


def _active() -> Hooks:
    return _hooks or _Detached()


def _replace(owner: type, name: str, make: Callable[[Any], Any]) -> None:
    original = owner.__dict__.get(name)
    if original is None:
        raise MotoVersionError(
            f"moto {metadata.version('moto')} has no {owner.__module__}.{owner.__qualname__}.{name}; "
            f"dynamigrate.emulator is written against moto {TESTED_VERSION}"
        )
    _originals.append((owner, name, original))
    setattr(owner, name, make(original))


def _replace_function(module: ModuleType, name: str, make: Callable[[Any], Any]) -> None:
    original = module.__dict__.get(name)
    if original is None:
        raise MotoVersionError(
            f"moto {metadata.version('moto')} has no {module.__name__}.{name}; "
            f"dynamigrate.emulator is written against moto {TESTED_VERSION}"
        )
    _originals.append((module, name, original))
    setattr(module, name, make(original))


# ------------------------------------------------------------------ DynamoDB streams


def _frames() -> list[list[_StreamWrite]]:
    frames: list[list[_StreamWrite]] | None = getattr(_tls, "frames", None)
    if frames is None:
        frames = []
        _tls.frames = frames
    return frames


def _make_emit(original_add: Callable[..., None]) -> Callable[[StreamShard, Any, Any], None]:
    def emit(shard: StreamShard, old: Any, new: Any) -> None:
        frames = _frames()
        if frames:
            frames[-1].append((shard, old, new))
            return
        table = shard.table
        table.lambda_event_source_mappings.clear()
        original_add(shard, old, new)
        _active().stream_appended(table.account_id, table.region_name, table.name)

    return emit


def _captured(
    emit: Callable[[StreamShard, Any, Any], None],
    keep_on_success: Callable[[list[_StreamWrite]], list[_StreamWrite]],
    keep_on_error: Callable[[list[_StreamWrite]], list[_StreamWrite]],
) -> Callable[[Any], Any]:
    """Wrap a backend write: hold DDB_LOCK, collect its stream records, then emit a selection."""

    def make(original: Any) -> Any:
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            with DDB_LOCK:
                frames = _frames()
                frames.append([])
                try:
                    result = original(self, *args, **kwargs)
                except BaseException:
                    for write in keep_on_error(frames.pop()):
                        emit(*write)
                    raise
                for write in keep_on_success(frames.pop()):
                    emit(*write)
                return result

        return wrapper

    return make


def _locked(original: Any) -> Any:
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        with DDB_LOCK:
            return original(self, *args, **kwargs)

    return wrapper


def _install_dynamodb() -> None:
    original_add = StreamShard.__dict__["add"]
    emit = _make_emit(original_add)

    def make_add(_original: Any) -> Any:
        def add(self: StreamShard, old: Any, new: Any) -> None:
            with DDB_LOCK:
                emit(self, old, new)

        return add

    _replace(StreamShard, "add", make_add)
    for name in ("put_item", "delete_item", "execute_statement", "execute_transaction", "batch_execute_statement"):
        _replace(DynamoDBBackend, name, _locked)
    # update_item of a missing item: moto emits a key-only INSERT, then the real one.
    _replace(DynamoDBBackend, "update_item", _captured(emit, lambda ws: ws[-1:], lambda ws: ws))
    # A cancelled transaction is rolled back by moto: none of its records happened.
    _replace(DynamoDBBackend, "transact_write_items", _captured(emit, lambda ws: ws, lambda _ws: []))


# ---------------------------------------------------------------------------- SQS


def _install_sqs() -> None:
    def make_receive(original: Any) -> Any:
        def receive_message(self: SQSBackend, queue_name: str, *args: Any, **kwargs: Any) -> Any:
            queue = self.get_queue(queue_name)
            with queue._messages_lock:
                return original(self, queue_name, *args, **kwargs)

        return receive_message

    def make_delete(original: Any) -> Any:
        def delete_message(self: Queue, receipt_handle: str) -> None:
            with self._messages_lock:
                original(self, receipt_handle)

        return delete_message

    def make_add(original: Any) -> Any:
        def add_message(self: Queue, message: Any) -> None:
            self.lambda_event_source_mappings.clear()
            original(self, message)
            _active().sqs_message_added(self.account_id, self.region, self.name)  # wakes this queue's pollers

        return add_message

    def make_set_attributes(original: Any) -> Any:
        def _set_attributes(self: Queue, attributes: dict[str, Any], *args: Any, **kwargs: Any) -> None:
            policy = getattr(self, "policy", None)
            original(self, attributes, *args, **kwargs)
            if "Policy" not in attributes:
                self.policy = policy  # SetQueueAttributes changes only the attributes it names

        return _set_attributes

    _replace(SQSBackend, "receive_message", make_receive)
    _replace(Queue, "delete_message", make_delete)
    _replace(Queue, "add_message", make_add)
    _replace(Queue, "_set_attributes", make_set_attributes)


# ------------------------------------------------------------------ Step Functions

# The interpreter's modules that call other services (each imported boto_client_for by name).
_SFN_CALLERS = tuple(
    f"moto.stepfunctions.parser.asl.component.state.exec.{name}"
    for name in (
        "state_map.item_reader.eval.resource_eval_s3",
        "state_map.result_writer.resource_eval.resource_eval_s3",
        "state_task.lambda_eval_utils",
        "state_task.service.state_task_service_aws_sdk",
        "state_task.service.state_task_service_dynamodb",
        "state_task.service.state_task_service_sfn",
        "state_task.service.state_task_service_sqs",
        "state_task.service.state_task_service_sns",
        "state_task.service.state_task_service_events",
    )
)


def _install_stepfunctions() -> None:
    modules = [importlib.import_module(name) for name in _SFN_CALLERS]

    def make_client(_original: Any) -> Any:
        def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
            role_arn = getattr(state_credentials, "role_arn", None)
            if not role_arn:
                raise RuntimeError("a state machine task ran without an execution role")
            return _active().service_client(service, region, role_arn)

        return boto_client_for

    for module in modules:
        _replace_function(module, "boto_client_for", make_client)

    def validate_state_machine_definition(self: StepFunctionResponse) -> str:
        try:
            AmazonStateLanguageParser.parse(self._get_param("definition"))
        except Exception as exc:  # every parser error is a diagnostic, as AWS reports it
            diagnostic = {"severity": "ERROR", "code": "SCHEMA_VALIDATION_FAILED", "message": str(exc)[:1000]}
            return json.dumps({"result": "FAIL", "diagnostics": [diagnostic], "truncated": False})
        return json.dumps({"result": "OK", "diagnostics": [], "truncated": False})

    def list_state_machine_versions(self: StepFunctionResponse) -> str:
        machine = self.stepfunction_backend.describe_state_machine(self._get_param("stateMachineArn"))
        versions = [
            {"stateMachineVersionArn": version.arn, "creationDate": version.creation_date.timestamp()}
            for _, version in sorted(getattr(machine, "versions", {}).items(), reverse=True)
        ]
        return json.dumps({"stateMachineVersions": versions})

    for name, action in (
        ("validate_state_machine_definition", validate_state_machine_definition),
        ("list_state_machine_versions", list_state_machine_versions),
    ):
        if name in StepFunctionResponse.__dict__:
            raise MotoVersionError(
                f"moto {metadata.version('moto')} implements {name}; "
                f"dynamigrate.emulator is written against moto {TESTED_VERSION} and would hide it"
            )
        setattr(StepFunctionResponse, name, action)
        _undo.append(lambda name=name: delattr(StepFunctionResponse, name))  # type: ignore[misc]

    config = default_user_config.setdefault("stepfunctions", {})
    before = config.get("execute_state_machine", False)
    config["execute_state_machine"] = True

    def undo() -> None:
        config["execute_state_machine"] = before

    _undo.append(undo)


# ----------------------------------------------------------------------------- S3


def _event_bucket(event_body: Any) -> str | None:
    """The bucket an S3 notification is about (an event record, or the ``s3:TestEvent``)."""
    if not isinstance(event_body, dict):
        return None
    records = event_body.get("Records")
    if isinstance(records, list) and records:
        return cast("str | None", records[0].get("s3", {}).get("bucket", {}).get("name"))
    return cast("str | None", event_body.get("Bucket"))


def _install_s3() -> None:
    def make_send(original: Any) -> Any:
        def send_event(account_id: str, event_name: Any, bucket: Any, key: Any) -> None:
            original(getattr(bucket, "account_id", account_id), event_name, bucket, key)

        return send_event

    def make_send_sqs(original: Any) -> Any:
        # account_id is the bucket owner's (send_event above; send_test_event passes it too).
        def _send_sqs_message(account_id: str, event_body: Any, queue_name: str, region_name: str) -> None:
            try:
                queue = sqs_backends[account_id][region_name].queues.get(queue_name)
            except KeyError:  # a region moto does not know: moto's send fails and swallows it
                queue = None
            bucket_name = _event_bucket(event_body)
            if (
                queue is not None
                and bucket_name is not None
                and not kms.s3_may_send_to_queue(queue, bucket_name, account_id)
            ):
                return  # dropped (and logged), as AWS drops it
            original(account_id, event_body, queue_name, region_name)

        return _send_sqs_message

    _replace_function(s3_notifications, "send_event", make_send)
    _replace_function(s3_notifications, "_send_sqs_message", make_send_sqs)


def _install_s3_kms() -> None:
    _replace(S3Response, "_key_response", kms.make_key_response)
    _replace(S3Response, "get_object", kms.make_get_object)
    _replace(S3Backend, "put_object", kms.make_put_object)
    _replace(S3Backend, "copy_object", kms.make_copy_object)
    _replace(S3Backend, "create_multipart_upload", kms.make_create_multipart_upload)
    _replace(S3Backend, "upload_part", kms.make_upload_part)
    _replace(S3Backend, "upload_part_copy", kms.make_upload_part_copy)


def _install_s3_policies() -> None:
    def make_get_permission(_original: Any) -> Any:
        def get_permission(self: FakeBucket, action: str, resource: str) -> PermissionResult:
            if self.policy is None:
                return PermissionResult.NEUTRAL
            policy = self.policy.decode() if isinstance(self.policy, bytes) else str(self.policy)
            statements = json.loads(policy).get("Statement", [])
            permitted = False
            for statement in statements if isinstance(statements, list) else [statements]:
                condition = statement.get("Condition")
                if condition and condition_holds(condition, _REQUEST_CONTEXT) is not True:
                    continue  # does not hold, or cannot be known here: the statement does not apply
                unconditional = {key: value for key, value in statement.items() if key != "Condition"}
                result = IAMPolicyStatement(unconditional).is_action_permitted(action, resource)
                if result == PermissionResult.DENIED:
                    return result
                permitted = permitted or result == PermissionResult.PERMITTED
            return PermissionResult.PERMITTED if permitted else PermissionResult.NEUTRAL

        return get_permission

    _replace(FakeBucket, "get_permission", make_get_permission)


# ------------------------------------------------------------------------- Lambda


def _sources_of(backend: LambdaBackend) -> Iterator[dict[str, Any]]:
    for queue in sqs_backends[backend.account_id][backend.region_name].queues.values():
        yield queue.lambda_event_source_mappings
    for table in dynamodb_backends[backend.account_id][backend.region_name].tables.values():
        yield table.lambda_event_source_mappings


def _unregister(backend: LambdaBackend, esm: EventSourceMapping) -> None:
    for registry in _sources_of(backend):
        for key, value in list(registry.items()):
            if value is esm:
                del registry[key]


_STREAM_READ = "dynamodb:GetRecords"


def _stream_policy_allows(policy: str | None, role_arn: str, role_account: str, stream_arn: str) -> bool:
    """Whether a stream's resource-based policy lets ``role_arn`` read it (Allow, no matching Deny)."""
    if not policy:
        return False
    context = {"aws:PrincipalArn": role_arn, "aws:PrincipalAccount": role_account, **_REQUEST_CONTEXT}
    statements = json.loads(policy).get("Statement", [])
    allowed = False
    for statement in statements if isinstance(statements, list) else [statements]:
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        resources = statement.get("Resource", [])
        resources = [resources] if isinstance(resources, str) else resources
        principals = (statement.get("Principal") or {}).get("AWS", []) if statement.get("Principal") != "*" else ["*"]
        principals = [principals] if isinstance(principals, str) else principals
        if not any(fnmatch.fnmatchcase(_STREAM_READ, a) for a in actions):
            continue
        if not any(fnmatch.fnmatchcase(stream_arn, r) for r in resources):
            continue
        root = f"arn:aws:iam::{role_account}:root"
        if not any(p in ("*", role_arn, root, role_account) for p in principals):
            continue
        condition = statement.get("Condition")
        if condition and condition_holds(condition, context) is not True:
            continue
        if statement.get("Effect") == "Deny":
            return False
        allowed = allowed or statement.get("Effect") == "Allow"
    return allowed


def _cross_account_stream_mapping(backend: LambdaBackend, spec: dict[str, Any]) -> EventSourceMapping:
    """A mapping on another account's stream, if that stream's resource policy lets the function's role read it."""
    from moto.awslambda.exceptions import InvalidParameterValueException  # noqa: PLC0415

    arn = str(spec["EventSourceArn"])
    _, _, _, region, account, resource = arn.split(":", 5)
    function = backend._lambdas.get_function_by_name_or_arn_with_qualifier(spec["FunctionName"])
    table_name, _, label = resource.removeprefix("table/").partition("/stream/")
    table = dynamodb_backends[account][region].tables.get(table_name)
    if table is None or table.stream_shard is None or table.latest_stream_label != label:
        raise InvalidParameterValueException(f"Stream not found: {arn}")
    policy = dynamodb_backends[account][region].resource_policies.get(arn)
    if not _stream_policy_allows(policy.policy_doc if policy else None, function.role, backend.account_id, arn):
        raise InvalidParameterValueException(
            f"Cannot access stream {arn}. Please ensure the role can perform the GetRecords, GetShardIterator, "
            "DescribeStream, and ListStreams Actions on your stream in IAM, and that the stream's resource-based "
            f"policy allows the role {function.role} (cross-account access).",
        )
    fields = {"RegionName": backend.region_name, "AccountId": backend.account_id, "FunctionArn": function.function_arn}
    esm = EventSourceMapping({**spec, **fields})  # type: ignore[abstract]  # as moto builds it
    backend._event_source_mappings[esm.uuid] = esm
    return esm


def _install_lambda() -> None:
    def make_invoke(_original: Any) -> Any:
        def _invoke_lambda(self: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
            return _active().invoke(self, event)

        return _invoke_lambda

    def make_create(original: Any) -> Any:
        def create_event_source_mapping(self: LambdaBackend, spec: dict[str, Any]) -> EventSourceMapping:
            with DDB_LOCK:  # a LATEST starting position is taken while no write is half done
                arn = str(spec.get("EventSourceArn", ""))
                if arn.split(":")[2:3] == ["dynamodb"] and arn.split(":")[4] != self.account_id:
                    esm = _cross_account_stream_mapping(self, spec)
                    _active().esm_created(self, esm)
                    return esm
                esm = cast("EventSourceMapping", original(self, spec))
                if esm.event_source_arn.split(":")[2] in ("dynamodb", "sqs"):
                    _unregister(self, esm)
                    _active().esm_created(self, esm)
            return esm

        return create_event_source_mapping

    def make_update(original: Any) -> Any:
        def update_event_source_mapping(self: LambdaBackend, uuid: str, spec: dict[str, Any]) -> Any:
            esm = original(self, uuid, spec)
            if esm is not None:
                _active().esm_changed(esm)
            return esm

        return update_event_source_mapping

    def make_delete(original: Any) -> Any:
        def delete_event_source_mapping(self: LambdaBackend, uuid: str) -> Any:
            esm = original(self, uuid)
            if esm is not None:
                _unregister(self, esm)  # moto itself forgets to (the source would keep pushing)
                _active().esm_deleted(uuid)
            return esm

        return delete_event_source_mapping

    _replace(LambdaFunction, "_invoke_lambda", make_invoke)
    _replace(LambdaBackend, "create_event_source_mapping", make_create)
    _replace(LambdaBackend, "update_event_source_mapping", make_update)
    _replace(LambdaBackend, "delete_event_source_mapping", make_delete)


def install(hooks: Hooks) -> None:
    """Apply every patch, routing callbacks to ``hooks``. One emulator per process."""
    global _hooks  # noqa: PLW0603 - the patches are process-wide by nature
    check_moto_version()
    with _state_lock:
        if _hooks is not None:
            raise RuntimeError(
                "an Emulator is already running in this process (moto's state is process-wide); stop it first"
            )
        _dynamodb_fixes.install()  # idempotent and permanent; first, so our wrappers go around it
        _cloudwatch_fixes.install()
        try:
            _install_lambda()
            _install_dynamodb()
            _install_sqs()
            _install_s3()
            _install_s3_kms()
            _install_s3_policies()
            _install_stepfunctions()
        except BaseException:
            _restore()
            raise
        _hooks = hooks


def _restore() -> None:
    while _undo:
        _undo.pop()()
    while _originals:
        owner, name, original = _originals.pop()
        setattr(owner, name, original)


def uninstall() -> None:
    """Restore every patched moto attribute. Safe to call when nothing is installed."""
    global _hooks  # noqa: PLW0603
    with _state_lock:
        _restore()
        _hooks = None


def reset_moto_state() -> None:
    """Forget every resource in every account (moto's ``/moto-api/reset``)."""
    moto_api_backend.reset()
