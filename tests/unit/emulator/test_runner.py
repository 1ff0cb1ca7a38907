"""The local Lambda runner: direct Invoke calls against the emulator."""

from __future__ import annotations

import base64
import json
import os
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from tests.unit.emulator._testkit import ACCOUNT_A, make_zip, poll, unique

if TYPE_CHECKING:
    from dynamigrate.emulator import Emulator
    from tests.unit.emulator._testkit import Account

PROBE = """
import os, sys

def handler(event, context):
    print("probe saw", event)
    return {
        "event": event,
        "pid": os.getpid(),
        "cwd": os.getcwd(),
        "sys_path_0": sys.path[0],
        "module_file": __file__,
        "env": {k: v for k, v in os.environ.items() if k.startswith(("AWS_", "LAMBDA_", "_HANDLER", "GREETING"))},
        "context": {
            "function_name": context.function_name,
            "function_version": context.function_version,
            "invoked_function_arn": context.invoked_function_arn,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "aws_request_id": context.aws_request_id,
            "log_group_name": context.log_group_name,
            "log_stream_name": context.log_stream_name,
            "remaining": context.get_remaining_time_in_millis(),
        },
    }
"""


def test_given_a_function_when_invoked_then_its_handler_runs_with_the_lambda_environment(
    emu: Emulator, account_a: Account
) -> None:
    name = account_a.create_function(PROBE, timeout=7, env={"GREETING": "hello"})

    response = account_a.client("lambda").invoke(FunctionName=name, Payload=b'{"n": 1}', LogType="Tail")
    result = json.loads(response["Payload"].read())

    assert "FunctionError" not in response
    assert result["event"] == {"n": 1}
    env = result["env"]
    task_root = env["LAMBDA_TASK_ROOT"]
    assert env["GREETING"] == "hello"
    assert env["AWS_ENDPOINT_URL"] == emu.endpoint_url
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == name
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{name}"
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"].endswith(env["AWS_LAMBDA_LOG_STREAM_NAME"][-32:])
    assert "[$LATEST]" in env["AWS_LAMBDA_LOG_STREAM_NAME"]
    assert env["_HANDLER"] == "handler.handler"
    assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} <= env.keys()
    # The zip's code runs from its unpacked folder, first on sys.path.
    assert result["sys_path_0"] == task_root == result["cwd"]
    assert result["module_file"] == os.path.join(task_root, "handler.py")  # noqa: PTH118
    assert str(emu.work_dir) in task_root
    context = result["context"]
    assert context["function_name"] == name
    assert context["function_version"] == "$LATEST"
    assert context["invoked_function_arn"] == f"arn:aws:lambda:us-east-1:{ACCOUNT_A}:function:{name}"
    assert context["memory_limit_in_mb"] == "256"
    assert context["log_group_name"] == env["AWS_LAMBDA_LOG_GROUP_NAME"]
    assert context["log_stream_name"] == env["AWS_LAMBDA_LOG_STREAM_NAME"]
    assert 0 < context["remaining"] <= 7000
    # LogType=Tail returns the invocation's log lines; the log file keeps them all.
    tail = base64.b64decode(response["LogResult"]).decode()
    assert f"START RequestId: {context['aws_request_id']}" in tail
    assert "probe saw {'n': 1}" in tail
    assert f"REPORT RequestId: {context['aws_request_id']}" in tail
    assert emu.work_dir is not None
    log = (emu.work_dir / "logs" / f"{name}.log").read_text()
    assert "probe saw {'n': 1}" in log


def test_given_a_zip_with_its_own_copy_of_the_package_then_that_copy_runs_not_the_installed_one(
    account_a: Account,
) -> None:
    code = make_zip(
        {
            "dynamigrate/__init__.py": "ORIGIN = 'zip'\n",
            "dynamigrate/handlers/__init__.py": "",
            "dynamigrate/handlers/probe.py": """
                import dynamigrate

                def lambda_handler(event, context):
                    return {"origin": dynamigrate.ORIGIN, "file": dynamigrate.__file__}
            """,
        }
    )
    name = account_a.create_function("", code=code, handler="dynamigrate.handlers.probe.lambda_handler")

    result, error = account_a.invoke(name)

    assert error is None
    assert result["origin"] == "zip"
    assert "/code/" in result["file"]


def test_given_warm_workers_when_invoked_repeatedly_then_one_process_serves_them(
    emu: Emulator, account_a: Account
) -> None:
    name = account_a.create_function("import os\ndef handler(event, context):\n    return os.getpid()\n")

    pids = {account_a.invoke(name)[0] for _ in range(5)}

    assert len(pids) == 1
    assert pids <= set(emu.worker_pids())
    stats = emu.stats()[f"arn:aws:lambda:us-east-1:{ACCOUNT_A}:function:{name}"]
    assert stats["invocations"] == 5
    assert stats["workers_started"] == 1


def test_given_a_handler_that_raises_then_a_lambda_style_error_is_returned_and_the_worker_survives(
    emu: Emulator, account_a: Account
) -> None:
    source = """
        import os

        def handler(event, context):
            if event.get("fail"):
                raise ValueError("bad input")
            return os.getpid()
    """
    name = account_a.create_function(source)
    pid, _ = account_a.invoke(name)

    error, function_error = account_a.invoke(name, {"fail": True})

    assert function_error is not None
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "bad input"
    assert any("raise ValueError" in frame for frame in error["stackTrace"])
    assert account_a.invoke(name) == (pid, None)
    stats = emu.stats()[f"arn:aws:lambda:us-east-1:{ACCOUNT_A}:function:{name}"]
    assert (stats["invocations"], stats["errors"], stats["timeouts"]) == (3, 1, 0)
    assert emu.work_dir is not None
    assert "[ERROR] ValueError: bad input" in (emu.work_dir / "logs" / f"{name}.log").read_text()


def test_given_a_handler_past_its_timeout_then_it_is_killed_reported_and_replaced(
    emu: Emulator, account_a: Account
) -> None:
    source = """
        import os, time

        def handler(event, context):
            if event.get("sleep"):
                time.sleep(event["sleep"])
            return os.getpid()
    """
    name = account_a.create_function(source, timeout=1)
    first_pid, _ = account_a.invoke(name)

    error, function_error = account_a.invoke(name, {"sleep": 30})

    assert function_error is not None
    assert error["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in error["errorMessage"]
    assert first_pid not in emu.worker_pids()
    second_pid, _ = account_a.invoke(name)
    assert second_pid != first_pid
    stats = emu.stats()[f"arn:aws:lambda:us-east-1:{ACCOUNT_A}:function:{name}"]
    assert (stats["errors"], stats["timeouts"], stats["workers_started"]) == (1, 1, 2)


def test_given_a_worker_that_crashes_then_the_invocation_fails_and_a_new_worker_takes_over(account_a: Account) -> None:
    source = """
        import os

        def handler(event, context):
            if event.get("crash"):
                os._exit(3)
            return os.getpid()
    """
    name = account_a.create_function(source)
    first_pid, _ = account_a.invoke(name)

    error, function_error = account_a.invoke(name, {"crash": True})

    assert function_error is not None
    assert error["errorType"] == "Runtime.ExitError"
    assert "exit status 3" in error["errorMessage"]
    second_pid, second_error = account_a.invoke(name)
    assert second_error is None
    assert second_pid != first_pid


def test_given_a_handler_that_cannot_be_imported_then_an_import_error_is_reported(account_a: Account) -> None:
    name = account_a.create_function("import no_such_module\n")

    error, function_error = account_a.invoke(name)

    assert function_error is not None
    assert error["errorType"] == "Runtime.ImportModuleError"
    assert "no_such_module" in error["errorMessage"]


def test_given_a_configuration_update_then_new_workers_run_the_new_configuration(account_a: Account) -> None:
    source = "import os\ndef handler(event, context):\n    return [os.getpid(), os.environ['COLOUR']]\n"
    name = account_a.create_function(source, env={"COLOUR": "blue"})
    (pid, colour), _ = account_a.invoke(name)
    assert colour == "blue"

    account_a.client("lambda").update_function_configuration(
        FunctionName=name, Environment={"Variables": {"COLOUR": "green"}}
    )
    (new_pid, new_colour), _ = account_a.invoke(name)

    assert new_colour == "green"
    assert new_pid != pid


def test_given_a_function_role_then_its_aws_calls_land_in_that_account_across_accounts(
    account_a: Account, account_b: Account
) -> None:
    bucket = unique("bucket-b")
    account_b.client("s3").create_bucket(Bucket=bucket)
    source = """
        import boto3

        def handler(event, context):
            identity = boto3.client("sts").get_caller_identity()
            boto3.client("s3").put_object(Bucket=event["bucket"], Key="from-a.txt", Body=b"hi")
            return identity["Account"]
    """
    name = account_a.create_function(source, timeout=20)

    caller_account, error = account_a.invoke(name, {"bucket": bucket})

    assert error is None
    assert caller_account == ACCOUNT_A
    body = account_b.client("s3").get_object(Bucket=bucket, Key="from-a.txt")["Body"].read()
    assert body == b"hi"


def test_given_a_tls_only_bucket_policy_then_conditional_statements_apply_as_on_aws(
    account_a: Account, account_b: Account
) -> None:
    bucket = unique("tls-only")
    s3_b = account_b.client("s3")
    s3_b.create_bucket(Bucket=bucket)
    arn = f"arn:aws:s3:::{bucket}"
    s3_b.put_bucket_policy(
        Bucket=bucket,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "DenyInsecureTransport",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:*",
                        "Resource": [arn, f"{arn}/*"],
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    },
                    {
                        "Sid": "AllowWriter",
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_A}:root"},
                        "Action": "s3:PutObject",
                        "Resource": f"{arn}/changes/*",
                        "Condition": {"ArnEquals": {"aws:PrincipalArn": account_a.role_arn}},
                    },
                    {
                        "Sid": "DenyParked",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:*",
                        "Resource": f"{arn}/x/*",
                    },
                ],
            }
        ),
    )
    source = """
        import boto3

        def handler(event, context):
            s3 = boto3.client("s3")
            s3.put_object(Bucket=event["bucket"], Key="changes/1.json", Body=b"{}")
            try:
                s3.put_object(Bucket=event["bucket"], Key="x/1.json", Body=b"{}")
            except Exception as exc:
                return type(exc).__name__ + ": " + str(exc)
            return "not denied"
    """
    name = account_a.create_function(source, timeout=20)

    result, error = account_a.invoke(name, {"bucket": bucket})

    assert error is None, result
    assert "AccessDenied" in result or "403" in result  # an unconditional Deny still denies
    assert s3_b.get_object(Bucket=bucket, Key="changes/1.json")["Body"].read() == b"{}"


def test_given_an_emf_line_then_cloudwatch_in_the_function_account_has_the_metric(
    account_a: Account, account_b: Account
) -> None:
    source = """
        import json, time

        def handler(event, context):
            print(json.dumps({
                "_aws": {
                    "Timestamp": int(time.time() * 1000),
                    "CloudWatchMetrics": [{
                        "Namespace": "Dynamigrate",
                        "Dimensions": [["service"]],
                        "Metrics": [{"Name": "ItemsCopied", "Unit": "Count"}],
                    }],
                },
                "service": "writer",
                "ItemsCopied": [3.0, 4.0],
            }))
            return "ok"
    """
    name = account_a.create_function(source)

    account_a.invoke(name)

    def datapoints(account: Account) -> list[dict[str, float]]:
        now = datetime.now(UTC)
        response = account.client("cloudwatch").get_metric_statistics(
            Namespace="Dynamigrate",
            MetricName="ItemsCopied",
            Dimensions=[{"Name": "service", "Value": "writer"}],
            StartTime=now - timedelta(minutes=5),
            EndTime=now + timedelta(minutes=5),
            Period=60,
            Statistics=["Sum", "SampleCount"],
        )
        return list(response["Datapoints"])

    points = poll(lambda: datapoints(account_a))
    assert sum(p["Sum"] for p in points) == 7.0
    assert sum(p["SampleCount"] for p in points) == 2.0
    assert datapoints(account_b) == []
