"""Worker process of the emulator's local Lambda runner: one warm "sandbox" of one function version.

Run as a script, never imported by the worker itself::

    python -I -u _bootstrap.py <request-fd> <response-fd>

``-I`` keeps the script's folder and ``PYTHON*`` variables off ``sys.path``; the
function's unpacked code folder (``LAMBDA_TASK_ROOT``) is then put FIRST on
``sys.path``, so the zip's copy of every module is what runs (boto3 comes from the
interpreter's site-packages, the way the Lambda runtime provides it). The environment
is the function's, prepared by the parent. Standard library only.

Protocol, on two dedicated pipes (stdout/stderr belong to the function's log):
``multiprocessing.connection`` framed JSON messages.

* worker -> parent, once after init: ``{"type": "ready", "pid", "initMs", "initError"}``
* parent -> worker, per invocation: ``{"requestId", "event", "timeoutMs", "invokedFunctionArn"}``
* worker -> parent, per invocation: ``{"requestId", "payload"}`` or ``{"requestId", "error"}``
  where ``error`` is ``{"errorMessage", "errorType", "requestId", "stackTrace"}``.

The worker prints ``START``/``END``/``REPORT`` lines around each invocation, as Lambda
writes them to CloudWatch Logs. EOF on the request pipe (parent gone) ends the worker.
"""

from __future__ import annotations

import decimal
import importlib
import json
import logging
import os
import resource
import sys
import time
import traceback
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any


class LambdaContext:
    """The context object of the Python runtime (same attribute types: memory size is a string there too)."""

    def __init__(self, request_id: str, invoked_function_arn: str, deadline_epoch_ms: int) -> None:
        self.aws_request_id = request_id
        self.invoked_function_arn = invoked_function_arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.client_context = None
        self.identity = None
        self._deadline_epoch_ms = deadline_epoch_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_epoch_ms - int(time.time() * 1000))


def _error(error_type: str, message: str, request_id: str = "", stack: list[str] | None = None) -> dict[str, Any]:
    return {"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": stack or []}


def _load_handler(handler: str) -> tuple[Any, dict[str, Any] | None]:
    try:
        module_name, function_name = handler.rsplit(".", 1)
    except ValueError:
        return None, _error("Runtime.MalformedHandlerName", f"Bad handler '{handler}': not enough values to unpack")
    module_name = module_name.replace("/", ".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        return None, _error("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}")
    except Exception as exc:  # the module's own init code failed
        stack = traceback.format_list(traceback.extract_tb(exc.__traceback__)[1:])
        return None, _error(type(exc).__name__, str(exc), stack=stack)
    function = getattr(module, function_name, None)
    if not callable(function):
        return None, _error("Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'")
    return function, None


def _max_memory_mb() -> int:
    """Peak resident memory of this process since exec (``ru_maxrss`` would include the forking parent)."""
    try:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def _decimal_default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return float(value)  # what the Lambda Python runtime's marshaller does
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _print_error(error: dict[str, Any]) -> None:
    lines = [f"[ERROR] {error['errorType']}: {error['errorMessage']}"]
    if error["stackTrace"]:
        lines.append("Traceback (most recent call last):")
        lines.extend(frame.rstrip("\n") for frame in error["stackTrace"])
    print("\n".join(lines), flush=True)


def _invoke(handler: Any, request: dict[str, Any]) -> dict[str, Any]:
    request_id = request["requestId"]
    context = LambdaContext(
        request_id, request["invokedFunctionArn"], int(time.time() * 1000) + int(request["timeoutMs"])
    )
    try:
        result = handler(request["event"], context)
    except Exception as exc:
        stack = traceback.format_list(traceback.extract_tb(exc.__traceback__)[1:])
        error = _error(type(exc).__name__, str(exc), request_id, stack)
        _print_error(error)
        return {"requestId": request_id, "error": error}
    try:
        payload = json.dumps(result, default=_decimal_default)
    except (TypeError, ValueError) as exc:
        error = _error("Runtime.MarshalError", f"Unable to marshal response: {exc}", request_id)
        _print_error(error)
        return {"requestId": request_id, "error": error}
    return {"requestId": request_id, "payload": payload}


def main(argv: list[str]) -> int:
    requests = Connection(int(argv[1]), writable=False)
    responses = Connection(int(argv[2]), readable=False)
    task_root = os.environ["LAMBDA_TASK_ROOT"]
    sys.path.insert(0, task_root)
    logging.basicConfig(stream=sys.stdout, format="[%(levelname)s]\t%(asctime)s\t%(message)s")

    started = time.monotonic()
    handler, init_error = _load_handler(os.environ["_HANDLER"])
    init_ms = (time.monotonic() - started) * 1000
    if init_error:
        _print_error(init_error)
    responses.send_bytes(
        json.dumps({"type": "ready", "pid": os.getpid(), "initMs": init_ms, "initError": init_error}).encode()
    )
    if init_error:
        return 1  # like Lambda, the next invocation starts a fresh sandbox and runs init again

    version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
    memory = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
    while True:
        try:
            request = json.loads(requests.recv_bytes())
        except EOFError:
            return 0
        request_id = request["requestId"]
        print(f"START RequestId: {request_id} Version: {version}", flush=True)
        began = time.monotonic()
        response = _invoke(handler, request)
        duration = (time.monotonic() - began) * 1000
        used_mb = _max_memory_mb()
        sys.stdout.flush()
        sys.stderr.flush()
        print(f"END RequestId: {request_id}", flush=True)
        print(
            f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms\tBilled Duration: {int(duration) + 1} ms\t"
            f"Memory Size: {memory} MB\tMax Memory Used: {used_mb} MB",
            flush=True,
        )
        responses.send_bytes(json.dumps(response).encode())


if __name__ == "__main__":
    sys.exit(main(sys.argv))
