"""Local Lambda runner: each function version runs in a small pool of warm worker processes."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import boto3

from dynamigrate.emulator._emf import MAX_DATA_PER_REQUEST, parse_emf

if TYPE_CHECKING:
    from collections.abc import Callable

    from moto.awslambda.models import LambdaFunction
    from mypy_boto3_cloudwatch import CloudWatchClient

    from dynamigrate.emulator._stats import StatsRegistry

LOG = logging.getLogger(__name__)

BOOTSTRAP = Path(__file__).with_name("_bootstrap.py")
INIT_TIMEOUT_SECONDS = 10.0  # Lambda's init phase limit
LOG_TAIL_BYTES = 4096  # what Invoke's LogType=Tail returns
_OUTPUT_GRACE_SECONDS = 2.0  # wait for a worker's END/REPORT lines after its response


@dataclass(frozen=True)
class FunctionConfig:
    """Everything that defines one warm sandbox; a change (code or configuration) means new workers."""

    function_arn: str
    function_name: str
    version: str
    account_id: str
    region: str
    handler: str
    runtime: str
    package_type: str
    role: str
    timeout: int
    memory_size: int
    environment: tuple[tuple[str, str], ...]
    code_sha256: str

    @classmethod
    def from_moto(cls, function: LambdaFunction) -> tuple[FunctionConfig, bytes]:
        code: bytes = getattr(function, "code_bytes", b"") or b""
        try:  # moto keeps base64(sha256(zip)); reuse it rather than hashing megabytes per invocation
            digest = base64.b64decode(function.code_sha_256, validate=True).hex()
        except (AttributeError, TypeError, ValueError):
            digest = ""
        if len(digest) != 64:
            digest = hashlib.sha256(code).hexdigest()
        config = cls(
            function_arn=function.function_arn,
            function_name=function.function_name,
            version=str(function.version),
            account_id=function.account_id,
            region=function.region,
            handler=function.handler or "",
            runtime=function.run_time or "",
            package_type=function.package_type or "Zip",
            role=function.role,
            timeout=int(function.timeout or 3),
            memory_size=int(function.memory_size or 128),
            environment=tuple(sorted((str(k), str(v)) for k, v in (function.environment_vars or {}).items())),
            code_sha256=digest,
        )
        return config, code

    @property
    def log_group(self) -> str:
        return f"/aws/lambda/{self.function_name}"


@dataclass(frozen=True)
class InvocationResult:
    """Outcome of one invocation, shaped like Lambda's Invoke response."""

    request_id: str
    payload: str
    """The handler's JSON result, or the JSON error document (errorMessage, errorType, ...)."""
    function_error: str | None = None
    """``"Unhandled"`` when the invocation failed (exception, init error, crash, timeout)."""
    timed_out: bool = False
    log_tail: str = ""

    @property
    def ok(self) -> bool:
        return self.function_error is None


def _error_payload(error_type: str, message: str, request_id: str) -> str:
    return json.dumps({"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": []})


class _LogFiles:
    """One append-only log file per function name: ``<work_dir>/logs/<function-name>.log``."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._lock = threading.Lock()
        self._files: dict[str, tuple[IO[str], threading.Lock]] = {}

    def write(self, function_name: str, line: str) -> None:
        with self._lock:
            entry = self._files.get(function_name)
            if entry is None:
                self._folder.mkdir(parents=True, exist_ok=True)
                opened: IO[str] = (self._folder / f"{function_name}.log").open("a", encoding="utf-8")
                entry = (opened, threading.Lock())
                self._files[function_name] = entry
        handle, file_lock = entry
        with file_lock:
            if not handle.closed:
                handle.write(line + "\n")
                handle.flush()

    def close(self) -> None:
        with self._lock:
            for handle, file_lock in self._files.values():
                with file_lock:
                    handle.close()
            self._files.clear()


class _Worker:
    """One worker process and the thread that reads its output."""

    def __init__(self, pool: _Pool, process: subprocess.Popen[bytes], requests: Connection, responses: Connection):
        self.pool = pool
        self.process = process
        self.pid = process.pid
        self._requests = requests
        self._responses = responses
        self._cond = threading.Condition()
        self._capture: list[str] | None = None
        self._report_marker = ""
        self._report_seen = False
        self._disposed = False
        self._reader = threading.Thread(target=self._read_output, name=f"lambda-log-{self.pid}", daemon=True)
        self._reader.start()

    # -------------------------------------------------------------- output

    def _read_output(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        for raw in iter(stdout.readline, b""):
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            self.pool.runner.logs.write(self.pool.config.function_name, line)
            metrics = parse_emf(line)
            if metrics:
                self.pool.publish_metrics(metrics)
            with self._cond:
                if self._capture is not None:
                    self._capture.append(line)
                if self._report_marker and line.startswith(self._report_marker):
                    self._report_seen = True
                    self._cond.notify_all()
        with self._cond:
            self._report_seen = True
            self._cond.notify_all()

    def _begin_capture(self, request_id: str) -> None:
        with self._cond:
            self._capture = []
            self._report_marker = f"REPORT RequestId: {request_id}"
            self._report_seen = False

    def _end_capture(self, wait: bool) -> str:
        with self._cond:
            if wait:
                self._cond.wait_for(lambda: self._report_seen, timeout=_OUTPUT_GRACE_SECONDS)
            lines = self._capture or []
            self._capture = None
            self._report_marker = ""
        return "\n".join(lines)[-LOG_TAIL_BYTES:]

    # ---------------------------------------------------------- lifecycle

    def wait_ready(self, timeout: float) -> dict[str, Any] | None:
        """Wait for init; returns the init error (or a crash/timeout error), None when warm."""
        try:
            if not self._responses.poll(timeout):
                self.dispose()
                return {
                    "errorType": "Runtime.InitTimeout",
                    "errorMessage": f"Init timed out after {timeout:.2f} seconds",
                }
            message = json.loads(self._responses.recv_bytes())
        except (EOFError, OSError):
            self.dispose()
            return {"errorType": "Runtime.ExitError", "errorMessage": f"Runtime exited during init: {self._exit()}"}
        error: dict[str, Any] | None = message.get("initError")
        if error:
            self.dispose()
        return error

    def _exit(self) -> str:
        code = self.process.wait()
        return f"signal: {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"

    def alive(self) -> bool:
        return self.process.poll() is None

    def terminate(self) -> None:
        """SIGKILL the worker's process group. Any thread; the owner of the worker then sees EOF."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)  # the worker leads its own session/group

    def dispose(self) -> None:
        """Kill, reap and release the pipes. Only the thread owning the worker (or none) calls this."""
        self.terminate()
        self.process.wait()
        with self._cond:
            if self._disposed:
                return
            self._disposed = True
        for conn in (self._requests, self._responses):
            conn.close()
        self._reader.join(timeout=_OUTPUT_GRACE_SECONDS)
        if self.process.stdout:
            self.process.stdout.close()

    # ---------------------------------------------------------- invocation

    def invoke(self, request_id: str, event: Any, invoked_arn: str) -> tuple[InvocationResult, bool]:
        """Run one invocation; returns the result and whether the worker may be reused."""
        config = self.pool.config
        message = json.dumps(
            {
                "requestId": request_id,
                "event": event,
                "timeoutMs": config.timeout * 1000,
                "invokedFunctionArn": invoked_arn,
            }
        ).encode()
        self._begin_capture(request_id)
        try:
            self._requests.send_bytes(message)
            if self._responses.poll(config.timeout):
                response = json.loads(self._responses.recv_bytes())
                tail = self._end_capture(wait=True)
                if "error" in response:
                    return InvocationResult(request_id, json.dumps(response["error"]), "Unhandled", log_tail=tail), True
                return InvocationResult(request_id, response["payload"], log_tail=tail), True
        except (EOFError, OSError):
            self.dispose()
            status = self._exit()
            tail = self._end_capture(wait=False)
            self._log_abnormal_end(request_id, f"RequestId: {request_id} Error: Runtime exited with error: {status}")
            payload = _error_payload(
                "Runtime.ExitError", f"RequestId: {request_id} Error: Runtime exited with error: {status}", request_id
            )
            return InvocationResult(request_id, payload, "Unhandled", log_tail=tail), False
        # Timed out: kill the sandbox, as Lambda does, and let the pool start a fresh one.
        self.dispose()
        tail = self._end_capture(wait=False)
        message_text = f"Task timed out after {config.timeout:.2f} seconds"
        self._log_abnormal_end(request_id, f"{datetime.now(UTC).isoformat()} {request_id} {message_text}")
        payload = json.dumps(
            {"errorType": "Sandbox.Timedout", "errorMessage": f"RequestId: {request_id} Error: {message_text}"}
        )
        return InvocationResult(request_id, payload, "Unhandled", timed_out=True, log_tail=tail), False

    def _log_abnormal_end(self, request_id: str, text: str) -> None:
        logs, name = self.pool.runner.logs, self.pool.config.function_name
        logs.write(name, text)
        logs.write(name, f"END RequestId: {request_id}")
        logs.write(name, f"REPORT RequestId: {request_id}\tStatus: error")


@dataclass
class _Pool:
    """Up to ``size`` warm workers of one function version (one :class:`FunctionConfig`)."""

    runner: LambdaRunner
    config: FunctionConfig
    code_dir: Path
    credentials: dict[str, str]
    size: int
    _cond: threading.Condition = field(default_factory=threading.Condition)
    _idle: list[_Worker] = field(default_factory=list)
    _workers: set[_Worker] = field(default_factory=set)
    _starting: int = 0
    _retired: bool = False
    _cloudwatch: CloudWatchClient | None = None

    def environment(self) -> dict[str, str]:
        config, runner = self.config, self.runner
        env = {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
        }
        env.update(dict(config.environment))
        env.update(
            {
                # Reserved variables win over the function's own, as on Lambda.
                "AWS_ENDPOINT_URL": runner.endpoint_url,
                "AWS_REGION": config.region,
                "AWS_DEFAULT_REGION": config.region,
                "AWS_ACCESS_KEY_ID": self.credentials["aws_access_key_id"],
                "AWS_SECRET_ACCESS_KEY": self.credentials["aws_secret_access_key"],
                "AWS_SESSION_TOKEN": self.credentials["aws_session_token"],
                "AWS_LAMBDA_FUNCTION_NAME": config.function_name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_size),
                "AWS_LAMBDA_FUNCTION_VERSION": config.version,
                "AWS_LAMBDA_LOG_GROUP_NAME": config.log_group,
                "AWS_LAMBDA_LOG_STREAM_NAME": f"{datetime.now(UTC):%Y/%m/%d}/[{config.version}]{uuid.uuid4().hex}",
                "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{config.runtime}",
                "_HANDLER": config.handler,
                "LAMBDA_TASK_ROOT": str(self.code_dir),
                "LAMBDA_RUNTIME_DIR": str(BOOTSTRAP.parent),
                "TMPDIR": str(runner.tmp_dir),
                # Keep the developer's ~/.aws config and instance metadata out of the sandbox.
                "AWS_CONFIG_FILE": str(runner.tmp_dir / "no-aws-config"),
                "AWS_SHARED_CREDENTIALS_FILE": str(runner.tmp_dir / "no-aws-credentials"),
                "AWS_EC2_METADATA_DISABLED": "true",
            }
        )
        return env

    def _spawn(self) -> tuple[_Worker | None, dict[str, Any] | None]:
        request_r, request_w = os.pipe()
        response_r, response_w = os.pipe()
        try:
            process = subprocess.Popen(
                [sys.executable, "-I", "-u", str(BOOTSTRAP), str(request_r), str(response_w)],
                pass_fds=(request_r, response_w),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=self.environment(),
                cwd=self.code_dir,
                start_new_session=True,  # Ctrl-C goes to the emulator, which then kills its workers
            )
        except BaseException:
            for fd in (request_r, request_w, response_r, response_w):
                os.close(fd)
            raise
        os.close(request_r)
        os.close(response_w)
        worker = _Worker(self, process, Connection(request_w, readable=False), Connection(response_r, writable=False))
        self.runner.stats.add(self.config.function_arn, workers_started=1)
        self.runner.logs.write(
            self.config.function_name, f"INIT_START Function: {self.config.function_arn} Worker: {worker.pid}"
        )
        with self._cond:
            self._workers.add(worker)
        if self.runner.closed:
            worker.terminate()  # raced the shutdown: wait_ready() sees EOF and disposes of it
        error = worker.wait_ready(max(INIT_TIMEOUT_SECONDS, float(self.config.timeout)))
        if error is not None:
            with self._cond:
                self._workers.discard(worker)
            return None, error
        return worker, None

    def acquire(self) -> tuple[_Worker | None, dict[str, Any] | None]:
        """A warm worker, starting one if the pool has room; else wait for one to be released."""
        with self._cond:
            while True:
                if self.runner.closed:
                    return None, {"errorType": "Runtime.Shutdown", "errorMessage": "the emulator is shutting down"}
                while self._idle:
                    worker = self._idle.pop()
                    if worker.alive():
                        return worker, None
                    self._workers.discard(worker)  # crashed while idle: replace it
                    worker.dispose()
                if len(self._workers) + self._starting < self.size:
                    self._starting += 1
                    break
                self._cond.wait()
        try:
            return self._spawn()
        finally:
            with self._cond:
                self._starting -= 1
                self._cond.notify()

    def release(self, worker: _Worker, reusable: bool) -> None:
        with self._cond:
            keep = reusable and not self._retired and not self.runner.closed and worker.alive()
            if keep:
                self._idle.append(worker)
            else:
                self._workers.discard(worker)
            self._cond.notify()
        if not keep:
            worker.dispose()

    def retire(self, kill_busy: bool = False) -> None:
        """Stop reusing workers (code or configuration changed, or shutdown).

        Idle workers are disposed of now; busy ones when released, or, with
        ``kill_busy``, killed now (their invocation then fails and its thread cleans up).
        """
        with self._cond:
            self._retired = True
            idle = list(self._idle)
            busy = [worker for worker in self._workers if worker not in idle]
            self._idle.clear()
            for worker in idle:
                self._workers.discard(worker)
            self._cond.notify_all()
        for worker in idle:
            worker.dispose()
        if kill_busy:
            for worker in busy:
                worker.terminate()

    def publish_metrics(self, metrics: dict[str, list[dict[str, Any]]]) -> None:
        """Send EMF metrics to CloudWatch in the function's own account and region."""
        try:
            if self._cloudwatch is None:
                self._cloudwatch = boto3.session.Session(
                    aws_access_key_id=self.credentials["aws_access_key_id"],
                    aws_secret_access_key=self.credentials["aws_secret_access_key"],
                    aws_session_token=self.credentials["aws_session_token"],
                    region_name=self.config.region,
                ).client("cloudwatch", endpoint_url=self.runner.endpoint_url)
            for namespace, data in metrics.items():
                for start in range(0, len(data), MAX_DATA_PER_REQUEST):
                    self._cloudwatch.put_metric_data(
                        Namespace=namespace,
                        MetricData=data[start : start + MAX_DATA_PER_REQUEST],  # type: ignore[arg-type]
                    )
        except Exception:
            LOG.exception("could not publish EMF metrics of %s", self.config.function_name)


class LambdaRunner:
    """Runs moto's Lambda functions in warm local worker processes."""

    def __init__(
        self,
        *,
        work_dir: Path,
        endpoint_url: str,
        workers_per_function: int,
        role_credentials: Callable[[str, str], dict[str, str]],
        stats: StatsRegistry,
        on_activity: Callable[[], None],
    ) -> None:
        self.work_dir = work_dir
        self.endpoint_url = endpoint_url
        self.workers_per_function = max(1, workers_per_function)
        self.stats = stats
        self.logs = _LogFiles(work_dir / "logs")
        self.tmp_dir = work_dir / "tmp"
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        self.closed = False
        self._role_credentials = role_credentials
        self._on_activity = on_activity
        self._lock = threading.Condition()
        self._pools: dict[FunctionConfig, _Pool] = {}
        self._current: dict[str, FunctionConfig] = {}
        self._inflight = 0

    # -------------------------------------------------------------- helpers

    def inflight(self) -> int:
        with self._lock:
            return self._inflight

    def _code_dir(self, config: FunctionConfig, code: bytes) -> Path:
        """Unpack the function's zip once per code hash (atomic rename, so concurrent callers agree)."""
        target = self.work_dir / "code" / config.code_sha256
        if target.is_dir():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.parent / f".{config.code_sha256}.{uuid.uuid4().hex}"
        with zipfile.ZipFile(io.BytesIO(code)) as archive:
            archive.extractall(staging)
        try:
            staging.rename(target)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)  # another thread won the race
        return target

    def _pool(self, config: FunctionConfig, code: bytes) -> _Pool:
        with self._lock:
            pool = self._pools.get(config)
            if pool is not None:
                return pool
        code_dir = self._code_dir(config, code)
        credentials = self._role_credentials(config.role, config.region)
        with self._lock:
            pool = self._pools.get(config)
            if pool is None:
                pool = _Pool(self, config, code_dir, credentials, self.workers_per_function)
                self._pools[config] = pool
                previous = self._current.get(config.function_arn)
                self._current[config.function_arn] = config
                old = self._pools.pop(previous) if previous is not None and previous in self._pools else None
            else:
                old = None
        if old is not None:
            old.retire()
        return pool

    # ---------------------------------------------------------- invocation

    def invoke(self, function: LambdaFunction, event: Any, invoked_arn: str | None = None) -> InvocationResult:
        """Invoke synchronously (RequestResponse); never raises for function-side failures."""
        config, code = FunctionConfig.from_moto(function)
        request_id = str(uuid.uuid4())
        with self._lock:
            self._inflight += 1
        try:
            result = self._invoke(config, code, event, invoked_arn or config.function_arn, request_id)
        except Exception as exc:  # the runner itself failed: report it like a service-side error
            LOG.exception("local runner failed to invoke %s", config.function_arn)
            payload = _error_payload("Runtime.EmulatorError", f"{type(exc).__name__}: {exc}", request_id)
            result = InvocationResult(request_id, payload, "Unhandled")
        finally:
            with self._lock:
                self._inflight -= 1
                self._lock.notify_all()
        self.stats.add(
            config.function_arn,
            invocations=1,
            errors=0 if result.ok else 1,
            timeouts=1 if result.timed_out else 0,
        )
        self._on_activity()
        return result

    def _invoke(
        self, config: FunctionConfig, code: bytes, event: Any, invoked_arn: str, request_id: str
    ) -> InvocationResult:
        if config.package_type != "Zip" or not config.runtime.startswith("python") or not code:
            message = (
                f"the emulator's local runner runs Python zip functions only "
                f"(runtime={config.runtime or 'none'}, package type={config.package_type})"
            )
            return InvocationResult(request_id, _error_payload("Runtime.Unsupported", message, request_id), "Unhandled")
        pool = self._pool(config, code)
        worker, init_error = pool.acquire()
        if worker is None:
            error = dict(init_error or {})
            error.setdefault("errorType", "Runtime.Unknown")
            error.setdefault("errorMessage", "")
            error["requestId"] = request_id
            error.setdefault("stackTrace", [])
            return InvocationResult(request_id, json.dumps(error), "Unhandled")
        reusable = False
        try:
            result, reusable = worker.invoke(request_id, event, invoked_arn)
        finally:
            pool.release(worker, reusable)
        return result

    def invoke_for_moto(self, function: LambdaFunction, event: Any) -> tuple[str, bool, str]:
        """The ``LambdaFunction._invoke_lambda`` contract: (payload, errored, logs)."""
        result = self.invoke(function, event)
        return result.payload, not result.ok, result.log_tail

    # ------------------------------------------------------------ shutdown

    def close(self) -> None:
        """Kill every worker (busy ones too) and close the log files. Idempotent."""
        with self._lock:
            self.closed = True
            pools = list(self._pools.values())
            self._pools.clear()
            self._current.clear()
        for pool in pools:
            pool.retire(kill_busy=True)
        with self._lock:
            self._lock.wait_for(lambda: self._inflight == 0, timeout=10)
        for pool in pools:  # workers started by invocations that raced the shutdown
            pool.retire(kill_busy=True)
        self.logs.close()

    def worker_pids(self) -> list[int]:
        """Process ids of every live worker (for tests and diagnostics)."""
        with self._lock:
            pools = list(self._pools.values())
        pids: list[int] = []
        for pool in pools:
            with pool._cond:
                pids.extend(worker.pid for worker in pool._workers)
        return pids
