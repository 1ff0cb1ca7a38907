"""SSE-KMS enforced as AWS S3 does: key resolution, key policies, key state, and S3 -> KMS-encrypted SQS."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.exceptions import ClientError

from dynamigrate.emulator import Emulator
from dynamigrate.emulator._kms_enforcement import Principal, key_policy_decision
from tests.unit.emulator._testkit import ACCOUNT_A, ACCOUNT_B, Account, unique

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

_BOTO = boto3.session.Session(region_name="us-east-1")
SESSION = "kms-test"
VIA_S3 = "s3.us-east-1.amazonaws.com"
WRITER = "writer"  # role names in account A
READER = "reader"
OTHER = "other"


def role_arn(account_id: str, name: str) -> str:
    return f"arn:aws:iam::{account_id}:role/{name}"


def session_arn(account_id: str, name: str) -> str:
    return f"arn:aws:sts::{account_id}:assumed-role/{name}/{SESSION}"


def role_client(account: Account, name: str, service: str = "s3") -> Any:
    """A client of role ``name`` in ``account`` (moto's STS: the role need not exist)."""
    credentials = account.client("sts").assume_role(RoleArn=role_arn(account.account_id, name), RoleSessionName=SESSION)
    return _BOTO.client(  # type: ignore[call-overload]
        service,
        endpoint_url=account.emu.endpoint_url,
        aws_access_key_id=credentials["Credentials"]["AccessKeyId"],
        aws_secret_access_key=credentials["Credentials"]["SecretAccessKey"],
        aws_session_token=credentials["Credentials"]["SessionToken"],
    )


def key_policy(account_id: str, *statements: dict[str, Any]) -> str:
    """The account administers and uses the key through IAM (as AWS's default policy), plus ``statements``."""
    root = {
        "Sid": "Account",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [root, *statements]})


def allow(principal: Any, *actions: str, condition: dict[str, Any] | None = None) -> dict[str, Any]:
    statement = {"Effect": "Allow", "Principal": principal, "Action": list(actions), "Resource": "*"}
    return statement | ({"Condition": condition} if condition else {})


def writer_may(*actions: str, name: str = WRITER) -> dict[str, Any]:
    """What modules/kms-key grants a role of account A: the actions, only through S3."""
    via_s3 = {"StringEquals": {"kms:ViaService": VIA_S3}}
    return allow({"AWS": role_arn(ACCOUNT_A, name)}, *actions, condition=via_s3)


def create_key(account: Account, *statements: dict[str, Any], alias: str | None = None) -> dict[str, Any]:
    kms = account.client("kms")
    metadata = kms.create_key(Policy=key_policy(account.account_id, *statements))["KeyMetadata"]
    if alias:
        kms.create_alias(AliasName=alias, TargetKeyId=metadata["KeyId"])
    return dict(metadata)


def create_bucket(account: Account, default_encryption: dict[str, Any] | None = None) -> str:
    name = unique("bucket")
    s3 = account.client("s3")
    s3.create_bucket(Bucket=name)
    if default_encryption is not None:
        s3.put_bucket_encryption(
            Bucket=name,
            ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": default_encryption}]},
        )
    return name


def kms_put(client: Any, bucket: str, key_id: str, name: str = "changes/1.json") -> dict[str, Any]:
    return dict(
        client.put_object(Bucket=bucket, Key=name, Body=b"{}", ServerSideEncryption="aws:kms", SSEKMSKeyId=key_id)
    )


def error_of(call: Callable[[], Any]) -> tuple[int, str, str]:
    """(HTTP status, error code, message) of a call that must fail."""
    with pytest.raises(ClientError) as info:
        call()
    response = info.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"], response["Error"]["Message"]


def denied(principal: str, action: str, key_arn: str) -> str:
    return (
        f"User: {principal} is not authorized to perform: {action} on resource: {key_arn} "
        f"because no resource-based policy allows the {action} action"
    )


def missing(client: Any, bucket: str, name: str) -> bool:
    try:
        client.head_object(Bucket=bucket, Key=name)
    except ClientError as exc:
        return exc.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    return False


# ------------------------------------------------------------------ PutObject


def test_given_a_key_policy_allowing_the_writer_role_then_a_cross_account_put_with_the_key_arn_uses_that_key(
    account_a: Account, account_b: Account
) -> None:
    key = create_key(account_b, writer_may("kms:GenerateDataKey"))
    bucket = create_bucket(account_b)

    put = kms_put(role_client(account_a, WRITER), bucket, key["Arn"])

    assert put["SSEKMSKeyId"] == key["Arn"]
    head = account_b.client("s3").head_object(Bucket=bucket, Key="changes/1.json")
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == key["Arn"]


@pytest.mark.parametrize("name", ["alias", "alias ARN", "key id"])
def test_given_a_key_of_another_account_not_named_by_its_key_arn_then_the_put_fails_with_not_found(
    account_a: Account, account_b: Account, name: str
) -> None:
    key = create_key(account_b, writer_may("kms:GenerateDataKey"), alias="alias/changes")
    key_id = {
        "alias": "alias/changes",
        "alias ARN": f"arn:aws:kms:us-east-1:{ACCOUNT_B}:alias/changes",
        "key id": key["KeyId"],
    }[name]
    bucket = create_bucket(account_b)
    writer = role_client(account_a, WRITER)

    status, code, message = error_of(lambda: kms_put(writer, bucket, key_id))

    assert (status, code) == (400, "KMS.NotFoundException")
    assert f"Key '{key_id}' does not exist in account {ACCOUNT_A}" in message
    assert "a KMS key in another account must be named by its full key ARN" in message
    assert missing(account_b.client("s3"), bucket, "changes/1.json")
    # In the key's own account the same names resolve (and the key ARN is what the object records).
    assert kms_put(account_b.client("s3"), bucket, key_id)["SSEKMSKeyId"] == key["Arn"]


def test_given_a_key_policy_allowing_another_role_only_then_the_put_is_denied_as_aws_denies_it(
    account_a: Account, account_b: Account
) -> None:
    key = create_key(account_b, writer_may("kms:GenerateDataKey", name=OTHER))
    bucket = create_bucket(account_b)
    writer = role_client(account_a, WRITER)

    status, code, message = error_of(lambda: kms_put(writer, bucket, key["Arn"]))

    assert (status, code) == (403, "AccessDenied")
    assert message == denied(session_arn(ACCOUNT_A, WRITER), "kms:GenerateDataKey", key["Arn"])
    assert missing(account_b.client("s3"), bucket, "changes/1.json")
    kms_put(role_client(account_a, OTHER), bucket, key["Arn"])  # the role the policy names may


def test_given_a_key_policy_allowing_the_writer_account_root_then_any_role_of_that_account_may_write(
    account_a: Account, account_b: Account
) -> None:
    # Cross-account delegation to the other account's IAM (which the emulator does not enforce).
    key = create_key(account_b, allow({"AWS": ACCOUNT_A}, "kms:GenerateDataKey"))
    bucket = create_bucket(account_b)

    assert kms_put(role_client(account_a, WRITER), bucket, key["Arn"])["SSEKMSKeyId"] == key["Arn"]


def test_given_a_deny_statement_for_the_writer_then_it_wins_over_an_allow(
    account_a: Account, account_b: Account
) -> None:
    deny = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "kms:*",
        "Resource": "*",
        "Condition": {"StringEquals": {"aws:PrincipalAccount": ACCOUNT_A}},
    }
    key = create_key(account_b, writer_may("kms:GenerateDataKey"), deny)
    bucket = create_bucket(account_b)
    writer = role_client(account_a, WRITER)

    status, code, message = error_of(lambda: kms_put(writer, bucket, key["Arn"]))

    assert (status, code) == (403, "AccessDenied")
    assert message == (
        f"User: {session_arn(ACCOUNT_A, WRITER)} is not authorized to perform: kms:GenerateDataKey on resource: "
        f"{key['Arn']} with an explicit deny in a resource-based policy"
    )
    kms_put(account_b.client("s3"), bucket, key["Arn"])  # the deny names account A only


def test_given_a_condition_that_does_not_hold_then_the_statement_does_not_allow(
    account_a: Account, account_b: Account
) -> None:
    via_sqs = {"StringEquals": {"kms:ViaService": "sqs.us-east-1.amazonaws.com"}}
    key = create_key(account_b, allow({"AWS": role_arn(ACCOUNT_A, WRITER)}, "kms:GenerateDataKey", condition=via_sqs))
    bucket = create_bucket(account_b)
    writer = role_client(account_a, WRITER)

    assert error_of(lambda: kms_put(writer, bucket, key["Arn"]))[1] == "AccessDenied"


@pytest.mark.parametrize(
    ("change", "code", "message"),
    [
        ("disable", "KMS.DisabledException", "{arn} is disabled."),
        ("schedule deletion", "KMS.KMSInvalidStateException", "{arn} is pending deletion."),
    ],
)
def test_given_a_key_that_is_not_enabled_then_the_put_fails_with_kmss_state_error(
    account_a: Account, account_b: Account, change: str, code: str, message: str
) -> None:
    key = create_key(account_b, writer_may("kms:GenerateDataKey"))
    kms = account_b.client("kms")
    if change == "disable":
        kms.disable_key(KeyId=key["KeyId"])
    else:
        kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    bucket = create_bucket(account_b)
    writer = role_client(account_a, WRITER)

    assert error_of(lambda: kms_put(writer, bucket, key["Arn"])) == (400, code, message.format(arn=key["Arn"]))

    if change != "disable":
        kms.cancel_key_deletion(KeyId=key["KeyId"])  # leaves the key disabled
    kms.enable_key(KeyId=key["KeyId"])
    assert kms_put(writer, bucket, key["Arn"])["SSEKMSKeyId"] == key["Arn"]


def test_given_bucket_default_kms_encryption_then_a_put_naming_no_key_is_checked_against_the_default_key(
    account_a: Account, account_b: Account
) -> None:
    key = create_key(account_b, writer_may("kms:GenerateDataKey"))
    bucket = create_bucket(account_b, {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key["Arn"]})

    role_client(account_a, WRITER).put_object(Bucket=bucket, Key="allowed.json", Body=b"{}")
    other = role_client(account_a, OTHER)
    status, code, message = error_of(lambda: other.put_object(Bucket=bucket, Key="denied.json", Body=b"{}"))

    head = account_b.client("s3").head_object(Bucket=bucket, Key="allowed.json")
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", key["Arn"])
    assert (status, code) == (403, "AccessDenied")
    assert message == denied(session_arn(ACCOUNT_A, OTHER), "kms:GenerateDataKey", key["Arn"])
    assert missing(account_b.client("s3"), bucket, "denied.json")


def test_given_a_bucket_default_key_alias_then_it_resolves_in_the_writers_account(
    account_a: Account, account_b: Account
) -> None:
    key = create_key(account_b, writer_may("kms:GenerateDataKey"), alias="alias/changes")
    bucket = create_bucket(account_b, {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "alias/changes"})

    account_b.client("s3").put_object(Bucket=bucket, Key="own.json", Body=b"{}")
    writer = role_client(account_a, WRITER)
    status, code, _ = error_of(lambda: writer.put_object(Bucket=bucket, Key="cross.json", Body=b"{}"))

    # The object records the key ARN the alias resolved to, as AWS does.
    assert account_b.client("s3").head_object(Bucket=bucket, Key="own.json")["SSEKMSKeyId"] == key["Arn"]
    assert (status, code) == (400, "KMS.NotFoundException")


# ------------------------------------------------------------- other S3 calls


def test_given_an_sse_kms_object_then_get_object_needs_kms_decrypt_and_head_object_does_not(
    account_a: Account, account_b: Account
) -> None:
    key = create_key(account_b, writer_may("kms:GenerateDataKey"), writer_may("kms:Decrypt", name=READER))
    bucket = create_bucket(account_b)
    writer = role_client(account_a, WRITER)
    kms_put(writer, bucket, key["Arn"])

    status, code, message = error_of(lambda: writer.get_object(Bucket=bucket, Key="changes/1.json"))
    head = writer.head_object(Bucket=bucket, Key="changes/1.json")
    body = role_client(account_a, READER).get_object(Bucket=bucket, Key="changes/1.json")["Body"].read()

    assert (status, code) == (403, "AccessDenied")
    assert message == denied(session_arn(ACCOUNT_A, WRITER), "kms:Decrypt", key["Arn"])
    assert head["SSEKMSKeyId"] == key["Arn"]
    assert body == b"{}"
    assert account_b.client("s3").get_object(Bucket=bucket, Key="changes/1.json")["Body"].read() == b"{}"


def test_given_sse_s3_then_kms_is_never_consulted(account_a: Account, account_b: Account) -> None:
    unusable = create_key(account_b)  # only account B may use it
    aes_bucket = create_bucket(account_b, {"SSEAlgorithm": "AES256"})
    kms_bucket = create_bucket(account_b, {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": unusable["Arn"]})
    plain_bucket = create_bucket(account_b)
    writer = role_client(account_a, WRITER)

    writer.put_object(Bucket=aes_bucket, Key="a", Body=b"1")
    writer.put_object(Bucket=kms_bucket, Key="a", Body=b"2", ServerSideEncryption="AES256")  # the request wins
    writer.put_object(Bucket=plain_bucket, Key="a", Body=b"3")

    assert writer.get_object(Bucket=aes_bucket, Key="a")["ServerSideEncryption"] == "AES256"
    copied = writer.get_object(Bucket=kms_bucket, Key="a")
    assert (copied["ServerSideEncryption"], copied["Body"].read()) == ("AES256", b"2")
    assert "SSEKMSKeyId" not in copied
    assert writer.get_object(Bucket=plain_bucket, Key="a")["Body"].read() == b"3"


def test_given_sse_kms_copies_then_the_source_needs_decrypt_and_the_destination_generate_data_key(
    account_a: Account, account_b: Account
) -> None:
    key = create_key(account_b, writer_may("kms:GenerateDataKey"))
    bucket = create_bucket(account_b)
    s3_b = account_b.client("s3")
    s3_b.put_object(Bucket=bucket, Key="plain", Body=b"p")
    kms_put(s3_b, bucket, key["Arn"], name="secret")
    writer = role_client(account_a, WRITER)
    other = role_client(account_a, OTHER)

    from_kms = error_of(lambda: writer.copy_object(Bucket=bucket, Key="copy-1", CopySource=f"{bucket}/secret"))
    to_kms = error_of(
        lambda: other.copy_object(
            Bucket=bucket,
            Key="copy-2",
            CopySource=f"{bucket}/plain",
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=key["Arn"],
        )
    )
    writer.copy_object(
        Bucket=bucket,
        Key="copy-3",
        CopySource=f"{bucket}/plain",
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=key["Arn"],
    )

    assert from_kms[2] == denied(session_arn(ACCOUNT_A, WRITER), "kms:Decrypt", key["Arn"])
    assert to_kms[2] == denied(session_arn(ACCOUNT_A, OTHER), "kms:GenerateDataKey", key["Arn"])
    assert s3_b.head_object(Bucket=bucket, Key="copy-3")["SSEKMSKeyId"] == key["Arn"]
    assert missing(s3_b, bucket, "copy-1")
    assert missing(s3_b, bucket, "copy-2")


def test_given_an_sse_kms_multipart_upload_then_create_needs_generate_data_key_and_parts_need_decrypt(
    account_a: Account, account_b: Account
) -> None:
    key = create_key(
        account_b, writer_may("kms:GenerateDataKey"), writer_may("kms:GenerateDataKey", "kms:Decrypt", name=READER)
    )
    bucket = create_bucket(account_b, {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key["Arn"]})
    writer = role_client(account_a, WRITER)  # GenerateDataKey only (a PutObject writer)
    exporter = role_client(account_a, READER)  # GenerateDataKey and Decrypt (what multipart needs)

    denied_create = error_of(lambda: role_client(account_a, OTHER).create_multipart_upload(Bucket=bucket, Key="x"))
    upload = writer.create_multipart_upload(Bucket=bucket, Key="w")["UploadId"]
    denied_part = error_of(lambda: writer.upload_part(Bucket=bucket, Key="w", UploadId=upload, PartNumber=1, Body=b"1"))
    upload = exporter.create_multipart_upload(Bucket=bucket, Key="e")["UploadId"]
    etag = exporter.upload_part(Bucket=bucket, Key="e", UploadId=upload, PartNumber=1, Body=b"1")["ETag"]
    exporter.complete_multipart_upload(
        Bucket=bucket, Key="e", UploadId=upload, MultipartUpload={"Parts": [{"ETag": etag, "PartNumber": 1}]}
    )

    assert denied_create[2] == denied(session_arn(ACCOUNT_A, OTHER), "kms:GenerateDataKey", key["Arn"])
    assert denied_part[2] == denied(session_arn(ACCOUNT_A, WRITER), "kms:Decrypt", key["Arn"])
    head = account_b.client("s3").head_object(Bucket=bucket, Key="e")
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", key["Arn"])


# ------------------------------------------------------ S3 -> encrypted SQS


def notified_queue(account: Account, bucket: str, kms_key: str) -> str:
    """A queue encrypted with ``kms_key`` that ``bucket`` notifies of created objects; returns its URL."""
    url, arn = account.create_queue(KmsMasterKeyId=kms_key)
    account.client("s3").put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={"QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]},
    )
    return url


def object_events(account: Account, url: str) -> list[str]:
    """Keys of the object events in the queue (the s3:TestEvent aside)."""
    messages = account.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    bodies = [json.loads(message["Body"]) for message in messages]
    return [record["s3"]["object"]["key"] for body in bodies for record in body.get("Records", [])]


@pytest.mark.parametrize("source", ["this bucket", "a bucket pattern"])
def test_given_a_key_policy_allowing_s3_for_the_bucket_then_events_reach_the_kms_encrypted_queue(
    account_b: Account, source: str, caplog: pytest.LogCaptureFixture
) -> None:
    bucket = create_bucket(account_b)
    source_arn = f"arn:aws:s3:::{bucket}" if source == "this bucket" else "arn:aws:s3:::bucket-*"
    condition = {"StringEquals": {"aws:SourceAccount": ACCOUNT_B}, "ArnLike": {"aws:SourceArn": [source_arn]}}
    key = create_key(
        account_b, allow({"Service": "s3.amazonaws.com"}, "kms:GenerateDataKey", "kms:Decrypt", condition=condition)
    )
    url = notified_queue(account_b, bucket, key["Arn"])

    with caplog.at_level(logging.ERROR, logger="dynamigrate.emulator"):
        account_b.client("s3").put_object(Bucket=bucket, Key="changes/1.json", Body=b"{}")

    assert object_events(account_b, url) == ["changes%2F1.json"]
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


@pytest.mark.parametrize(
    ("statement", "missing_actions"),
    [
        (  # the condition names another bucket
            allow(
                {"Service": ["s3.amazonaws.com"]},
                "kms:GenerateDataKey",
                "kms:Decrypt",
                condition={"ArnLike": {"aws:SourceArn": "arn:aws:s3:::another-bucket"}},
            ),
            "kms:GenerateDataKey and kms:Decrypt",
        ),
        (allow({"Service": "s3.amazonaws.com"}, "kms:GenerateDataKey"), "kms:Decrypt"),
        (allow({"AWS": f"arn:aws:iam::{ACCOUNT_B}:root"}, "kms:*"), "kms:GenerateDataKey and kms:Decrypt"),
    ],
)
def test_given_a_key_policy_not_allowing_s3_for_the_bucket_then_events_are_dropped_and_logged(
    account_b: Account, statement: dict[str, Any], missing_actions: str, caplog: pytest.LogCaptureFixture
) -> None:
    bucket = create_bucket(account_b)
    key = create_key(account_b, statement)
    url = notified_queue(account_b, bucket, key["KeyId"])

    with caplog.at_level(logging.ERROR, logger="dynamigrate.emulator"):
        account_b.client("s3").put_object(Bucket=bucket, Key="changes/1.json", Body=b"{}")

    attributes = account_b.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0"  # the test event was dropped too
    errors = [record.getMessage() for record in caplog.records if record.levelno == logging.ERROR]
    assert len(errors) == 2  # the s3:TestEvent of the notification configuration and the object's event
    assert all(f"bucket {bucket}" in error for error in errors)
    assert all(f"arn:aws:sqs:us-east-1:{ACCOUNT_B}:" in error and key["Arn"] in error for error in errors)
    assert all(f"s3.amazonaws.com to perform {missing_actions} " in error for error in errors)
    assert all(f"aws:SourceArn=arn:aws:s3:::{bucket}" in error for error in errors)


@pytest.mark.parametrize("kms_key", ["alias/aws/sqs", None])
def test_given_a_queue_with_an_aws_managed_key_or_sqs_managed_sse_then_events_are_delivered(
    account_b: Account, kms_key: str | None
) -> None:
    bucket = create_bucket(account_b)
    url, arn = account_b.create_queue(**({"KmsMasterKeyId": kms_key} if kms_key else {"SqsManagedSseEnabled": "true"}))
    account_b.client("s3").put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={"QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]},
    )

    account_b.client("s3").put_object(Bucket=bucket, Key="k", Body=b"{}")

    assert object_events(account_b, url) == ["k"]


# ------------------------------------------------------------- key policies


def aws_principal(account_id: str, role: str) -> Principal:
    root = f"arn:aws:iam::{account_id}:root"
    names = frozenset({role_arn(account_id, role), session_arn(account_id, role), root, account_id})
    return Principal(session_arn(account_id, role), role_arn(account_id, role), account_id, names)


KEY_ARN = f"arn:aws:kms:us-east-1:{ACCOUNT_B}:key/k"
CONTEXT = {"aws:PrincipalAccount": ACCOUNT_A, "kms:CallerAccount": ACCOUNT_A, "kms:ViaService": VIA_S3}


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ({"Effect": "Allow", "Principal": "*", "Action": "kms:GenerateDataKey*", "Resource": "*"}, "allow"),
        ({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "KMS:generatedatakey", "Resource": "*"}, "allow"),
        ({"Effect": "Allow", "Principal": {"AWS": [ACCOUNT_B, ACCOUNT_A]}, "Action": "kms:*"}, "allow"),
        ({"Effect": "Allow", "Principal": {"AWS": session_arn(ACCOUNT_A, "r")}, "Action": "kms:*"}, "allow"),
        ({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_B}:root"}, "Action": "kms:*"}, "none"),
        ({"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "kms:*"}, "none"),
        ({"Effect": "Allow", "Principal": "*", "NotAction": "kms:Decrypt", "Resource": "*"}, "allow"),
        ({"Effect": "Allow", "Principal": "*", "NotAction": "kms:Generate*", "Resource": "*"}, "none"),
        ({"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": f"{KEY_ARN}-other"}, "none"),
        ({"Effect": "Allow", "NotPrincipal": {"AWS": ACCOUNT_B}, "Action": "kms:*", "Resource": "*"}, "allow"),
        (  # condition holds
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "kms:*",
                "Condition": {"StringEquals": {"kms:CallerAccount": ACCOUNT_A}},
            },
            "allow",
        ),
        (  # condition does not hold
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "kms:*",
                "Condition": {"StringEquals": {"kms:CallerAccount": ACCOUNT_B}},
            },
            "none",
        ),
        (  # a condition on a key the emulator does not know: the statement does not apply
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "kms:*",
                "Condition": {"StringEquals": {"aws:SourceVpce": "v"}},
            },
            "none",
        ),
        ({"Effect": "Deny", "Principal": "*", "Action": "kms:GenerateDataKey"}, "deny"),
    ],
)
def test_given_a_key_policy_statement_then_it_decides_as_kms_does(statement: dict[str, Any], expected: str) -> None:
    policy = json.dumps({"Statement": [statement]})

    assert (
        key_policy_decision(policy, "kms:GenerateDataKey", KEY_ARN, aws_principal(ACCOUNT_A, "r"), CONTEXT) == expected
    )


def test_given_a_deny_and_an_allow_then_the_deny_wins_whatever_the_order() -> None:
    allow_all = {"Effect": "Allow", "Principal": "*", "Action": "kms:*"}
    deny_all = {"Effect": "Deny", "Principal": "*", "Action": "kms:*"}
    principal = aws_principal(ACCOUNT_A, "r")

    for statements in ([allow_all, deny_all], [deny_all, allow_all]):
        policy = json.dumps({"Statement": statements})
        assert key_policy_decision(policy, "kms:Decrypt", KEY_ARN, principal, CONTEXT) == "deny"


def test_given_a_stopped_emulator_then_moto_s3_is_restored(tmp_path: Path) -> None:
    from moto.s3 import notifications
    from moto.s3.models import S3Backend
    from moto.s3.responses import S3Response

    def current() -> tuple[Any, ...]:
        return (
            S3Backend.put_object,
            S3Backend.copy_object,
            S3Backend.create_multipart_upload,
            S3Backend.upload_part,
            S3Backend.upload_part_copy,
            S3Response._key_response,
            S3Response.get_object,
            notifications._send_sqs_message,
        )

    originals = current()
    with Emulator(work_dir=tmp_path / "emulator"):
        assert all(patched is not original for patched, original in zip(current(), originals, strict=True))
    assert current() == originals
