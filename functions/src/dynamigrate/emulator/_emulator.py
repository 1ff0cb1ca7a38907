"""The embedded emulator: moto's server plus the local Lambda runner and event source mapping pollers."""

from __future__ import annotations

import atexit
import gc
import logging
import os
import re
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import botocore.session
from botocore.config import Config
from moto.dynamodb.models import dynamodb_backends
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

from dynamigrate.emulator import _moto_patches
from dynamigrate.emulator._pollers import Poller, SqsPoller, StreamPoller
from dynamigrate.emulator._runner import LambdaRunner
from dynamigrate.emulator._stats import FunctionStats, StatsRegistry
from dynamigrate.emulator._version import check_moto_version

if TYPE_CHECKING:
    from types import FrameType, TracebackType

    from moto.awslambda.models import EventSourceMapping, LambdaBackend, LambdaFunction
    from mypy_boto3_sts import STSClient

LOG = logging.getLogger(__name__)

_ACCOUNT_ID = re.compile(r"^\d{12}$")
_SESSION_NAME = "dynamigrate-emulator"
_SETTLE_SECONDS = 0.2  # wait_idle(): how long "idle" must hold
_POLL_SECONDS = 0.05  # wait_idle(): re-check period (SQS visibility timeouts expire silently)
_JOIN_SECONDS = 5.0  # shutdown: wait per poller thread

# The emulator's own clients come from one session per process (loading service models is the slow part of
# creating a client), each with explicit credentials. boto3 sessions are not thread-safe: hence the lock.
_BOTO = boto3.session.Session()
_BOTO_LOCK = threading.Lock()
# State machine tasks: Step Functions retries by the state's own Retry, and a Lambda task may run 15 minutes.
_TASK_CLIENT_CONFIG = Config(
    retries={"total_max_attempts": 1}, read_timeout=960, connect_timeout=10, parameter_validation=False
)


class _Core:
    """State shared by the moto hooks and the pollers (the facade below is the public API)."""

    def __init__(self, endpoint_url: str, region: str, work_dir: Path, lambda_workers: int) -> None:
        self.endpoint_url = endpoint_url
        # An AWS config file whose profile points every client at the emulator (see session()).
        self._config_file = work_dir / "aws-config"
        self._config_file.write_text(
            f"[profile {_SESSION_NAME}]\nendpoint_url = {endpoint_url}\nregion = {region}\n"
            "s3 =\n    addressing_style = path\n"
        )
        self.activity = threading.Condition()  # leaf lock: nothing else is taken while holding it
        self.stats = StatsRegistry()
        self.stopping = False
        self._clients: dict[tuple[str, str, str], Any] = {}
        self._credentials: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()
        self._pollers: dict[str, Poller] = {}
        self._sessions: dict[str, boto3.Session] = {}
        with _BOTO_LOCK:
            self._sts: STSClient = _BOTO.client(
                "sts",
                region_name=region,
                endpoint_url=endpoint_url,
                aws_access_key_id="dynamigrate",
                aws_secret_access_key="emulator",
            )
        self.runner = LambdaRunner(
            work_dir=work_dir,
            endpoint_url=endpoint_url,
            workers_per_function=lambda_workers,
            role_credentials=lambda role_arn, _region: self.assume(role_arn),
            stats=self.stats,
            on_activity=self.notify,
        )

    # ---------------------------------------------------------- credentials

    def assume(self, role_arn: str) -> dict[str, str]:
        """Credentials of ``role_arn`` from the emulator's STS (cached: moto scans every key per request)."""
        with self._lock:
            cached = self._credentials.get(role_arn)
        if cached is not None:
            return cached
        response = self._sts.assume_role(RoleArn=role_arn, RoleSessionName=_SESSION_NAME)["Credentials"]
        credentials = {
            "aws_access_key_id": response["AccessKeyId"],
            "aws_secret_access_key": response["SecretAccessKey"],
            "aws_session_token": response["SessionToken"],
        }
        with self._lock:
            return self._credentials.setdefault(role_arn, credentials)

    @staticmethod
    def account_role(account_id: str) -> str:
        return f"arn:aws:iam::{account_id}:role/{_SESSION_NAME}"

    def _cached_client(self, service: str, region: str, role_arn: str) -> Any:
        key = (service, region, role_arn)
        with self._lock:
            client = self._clients.get(key)
        if client is None:
            credentials = self.assume(role_arn)
            with _BOTO_LOCK:
                client = _BOTO.client(  # type: ignore[call-overload]
                    service, region_name=region, endpoint_url=self.endpoint_url, **credentials
                )
            with self._lock:
                client = self._clients.setdefault(key, client)
        return client

    def client(self, service: str, account_id: str, region: str) -> Any:
        return self._cached_client(service, region, self.account_role(account_id))

    def session(self, account_id: str, region: str) -> boto3.Session:
        """A session whose clients default to the emulator (an ``endpoint_url`` profile setting)."""
        with self._lock:
            session = self._sessions.get(account_id)
        if session is None:
            credentials = self.assume(self.account_role(account_id))
            core = botocore.session.Session()
            core.set_config_variable("config_file", str(self._config_file))
            core.set_config_variable("credentials_file", str(self._config_file.with_name("no-credentials")))
            core.set_config_variable("profile", _SESSION_NAME)
            session = boto3.session.Session(
                aws_access_key_id=credentials["aws_access_key_id"],
                aws_secret_access_key=credentials["aws_secret_access_key"],
                aws_session_token=credentials["aws_session_token"],
                region_name=region,
                botocore_session=core,
            )
            with self._lock:
                session = self._sessions.setdefault(account_id, session)
        return session

    def role_client(self, service: str, role_arn: str, region: str) -> Any:
        return self._cached_client(service, region, role_arn)

    def service_client(self, service: str, region: str, role_arn: str) -> Any:
        """A client for a state machine task: the execution role's account, no retries, Lambda-long reads."""
        credentials = self.assume(role_arn)
        with _BOTO_LOCK:
            return _BOTO.client(  # type: ignore[call-overload]
                service,
                region_name=region,
                endpoint_url=self.endpoint_url,
                config=_TASK_CLIENT_CONFIG,
                **credentials,
            )

    # ------------------------------------------------------------- pollers

    def notify(self) -> None:
        with self.activity:
            self.activity.notify_all()

    def idle(self) -> bool:
        if self.runner.inflight():
            return False
        with self._lock:
            pollers = list(self._pollers.values())
        return all(poller.idle() for poller in pollers if poller.exists())

    def stop(self) -> None:
        """Stop pollers, kill every worker (in-flight invocations fail fast), wait for the threads."""
        self.stopping = True
        with self._lock:
            pollers = list(self._pollers.values())
            self._pollers.clear()
        for poller in pollers:
            poller.stop()
        self.notify()
        self.runner.close()
        for poller in pollers:
            poller.join(timeout=_JOIN_SECONDS)

    # ----------------------------------------- hooks called by patched moto

    def invoke(self, function: LambdaFunction, event: Any) -> tuple[str, bool, str]:
        if self.stopping:
            return '{"errorType": "Runtime.Shutdown", "errorMessage": "the emulator is stopping"}', True, ""
        return self.runner.invoke_for_moto(function, event)

    def esm_created(self, backend: LambdaBackend, esm: EventSourceMapping) -> None:
        if self.stopping:
            return
        poller: Poller
        if esm.event_source_arn.split(":")[2] == "sqs":
            poller = SqsPoller(self, esm)
        else:
            _, _, _, region, account, resource = esm.event_source_arn.split(":", 5)
            table_name = resource.split("/")[1]  # the stream may be another account's (cross-account access)
            shard = dynamodb_backends[account][region].get_table(table_name).stream_shard
            if shard is None:  # pragma: no cover - moto only accepts ARNs of live streams
                return
            poller = StreamPoller(self, esm, StreamPoller.starting_index(esm, shard), shard.id)
        if esm.filter_criteria:
            LOG.warning("event source mapping %s: FilterCriteria are not emulated; every record is delivered", esm.uuid)
        with self._lock:
            self._pollers[esm.uuid] = poller
        poller.start()

    def esm_changed(self, esm: EventSourceMapping) -> None:
        with self._lock:
            poller = self._pollers.get(esm.uuid)
        if poller is not None:
            poller.poke()
        self.notify()

    def esm_deleted(self, uuid: str) -> None:
        with self._lock:
            poller = self._pollers.pop(uuid, None)
        if poller is not None:
            poller.stop()
        self.notify()

    def _poke(self, source: tuple[str, str, str, str]) -> None:
        with self._lock:
            pollers = [poller for poller in self._pollers.values() if poller.source == source]
        for poller in pollers:
            poller.poke()
        self.notify()

    def stream_appended(self, account_id: str, region: str, table_name: str) -> None:
        self._poke(("dynamodb", account_id, region, table_name))

    def sqs_message_added(self, account_id: str, region: str, queue_name: str) -> None:
        self._poke(("sqs", account_id, region, queue_name))


class Emulator:
    """moto's server, in this process, whose Lambda functions and event source mappings really run.

    Use it as a context manager (or call :meth:`start` and :meth:`stop`). One per process:
    moto keeps its state in module globals, and the emulator resets it on start and stop.
    The package documentation (``dynamigrate.emulator``) says what is emulated and how.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        region: str = "us-east-1",
        work_dir: Path | None = None,
        lambda_workers: int = 2,
    ) -> None:
        if lambda_workers < 1:
            raise ValueError("lambda_workers must be at least 1")
        self.host = host
        self.port = port
        self.region = region
        self.lambda_workers = lambda_workers
        self.work_dir = Path(work_dir) if work_dir is not None else None
        self.endpoint_url = ""
        self._temp_dir: str | None = None
        self._server: ThreadedMotoServer | None = None
        self._core: _Core | None = None
        self._werkzeug_level: int | None = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    # ------------------------------------------------------------ lifecycle

    def start(self) -> Emulator:
        """Patch moto, start its server on ``host:port`` (port 0 picks a free one); returns self."""
        if self._core is not None:
            return self
        check_moto_version()
        if "MOTO_ACCOUNT_ID" in os.environ:
            raise RuntimeError(
                "MOTO_ACCOUNT_ID is set: moto would put every request in that one account and the emulator's "
                "cross-account behaviour would silently disappear. Unset it."
            )
        hooks = _LateHooks()
        _moto_patches.install(hooks)
        try:
            _moto_patches.reset_moto_state()
            if self.work_dir is None:
                self._temp_dir = tempfile.mkdtemp(prefix="dynamigrate-emulator-")
                self.work_dir = Path(self._temp_dir)
            self.work_dir.mkdir(parents=True, exist_ok=True)
            werkzeug = logging.getLogger("werkzeug")
            self._werkzeug_level = werkzeug.level
            if werkzeug.level == logging.NOTSET:
                werkzeug.setLevel(logging.WARNING)  # no access-log line per request
            self._server = _FastStopServer(ip_address=self.host, port=self.port, verbose=False)
            self._server.start()
            bound_host, self.port = self._server.get_host_and_port()
            connect_host = "127.0.0.1" if bound_host in ("0.0.0.0", "") else bound_host
            self.endpoint_url = f"http://{connect_host}:{self.port}"
            self._core = _Core(self.endpoint_url, self.region, self.work_dir, self.lambda_workers)
            hooks.core = self._core
        except BaseException:
            self._teardown()
            raise
        atexit.register(self.stop)
        return self

    def stop(self) -> None:
        """Stop pollers, kill every worker process, stop the server, restore and reset moto. Idempotent."""
        if self._core is None and self._server is None:
            return
        atexit.unregister(self.stop)
        self._teardown()

    def _teardown(self) -> None:
        if self._core is not None:
            self._core.stop()
        if self._server is not None:
            self._server.stop()
            self._server = None
        _moto_patches.uninstall()
        _moto_patches.reset_moto_state()
        if self._werkzeug_level is not None:
            logging.getLogger("werkzeug").setLevel(self._werkzeug_level)
            self._werkzeug_level = None
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None
            self.work_dir = None
        self._core = None

    def _running(self) -> _Core:
        if self._core is None:
            raise RuntimeError("the emulator is not running: use it as a context manager or call start()")
        return self._core

    # ---------------------------------------------------------- credentials

    def credentials(self, account_id: str) -> dict[str, str]:
        """``aws_access_key_id`` / ``aws_secret_access_key`` / ``aws_session_token`` landing in ``account_id``.

        Obtained through the emulator's STS ``AssumeRole`` (moto puts calls made with them
        in the role's account; the role does not have to exist).
        """
        if not _ACCOUNT_ID.match(account_id):
            raise ValueError(f"account_id must be 12 digits, got {account_id!r}")
        core = self._running()
        return dict(core.assume(core.account_role(account_id)))

    def session(self, account_id: str) -> boto3.Session:
        """A boto3 session in ``account_id`` whose clients and resources talk to the emulator.

        ``session.client("dynamodb")`` needs no ``endpoint_url`` (the session's profile sets
        it, from a config file in ``work_dir``; an explicit ``endpoint_url`` still wins). One
        session per account, cached, so its clients share loaded service models; like any
        boto3 session it is not thread-safe.
        """
        self.credentials(account_id)  # validates the account id
        return self._running().session(account_id, self.region)

    # ----------------------------------------------------------- observing

    def stats(self) -> dict[str, FunctionStats]:
        """Counters per function, keyed by unqualified function ARN (names repeat across accounts)."""
        return self._running().stats.snapshot()

    def worker_pids(self) -> list[int]:
        """Process ids of the live Lambda worker processes."""
        return self._core.runner.worker_pids() if self._core else []

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until nothing is left to deliver and nothing runs; False if ``timeout`` seconds pass first.

        Idle means: every enabled event source mapping has delivered everything (streams:
        its position is at the end of the shard, no batch being retried; SQS: no visible,
        in-flight or delayed message) and no invocation is running, continuously for a
        short settle time. Paused (disabled) and deleted mappings do not count.
        """
        core = self._running()
        deadline = time.monotonic() + timeout
        idle_since: float | None = None
        while True:
            now = time.monotonic()
            if core.idle():
                idle_since = now if idle_since is None else idle_since
                if now - idle_since >= _SETTLE_SECONDS:
                    return True
            else:
                idle_since = None
            if now >= deadline:
                return False
            with core.activity:
                core.activity.wait(min(_POLL_SECONDS, max(0.0, deadline - now)))


class _FastStopServer(ThreadedMotoServer):
    """moto's ThreadedMotoServer (moto 5.2.x internals), with two fixes.

    It polls for shutdown every 50 ms instead of 500 ms, and a failure to listen (port
    taken) is raised by :meth:`start`; moto's own ``start()`` would wait forever for a
    server thread that already died.
    """

    _error: BaseException | None = None

    def _server_entry(self) -> None:
        try:
            app = DomainDispatcherApplication(create_backend_app)
            self._server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler)
        except BaseException as exc:
            self._error = exc
            self._server_ready_event.set()
            return
        self._server_ready_event.set()
        self._server.serve_forever(poll_interval=0.05)

    def start(self) -> None:
        super().start()
        if self._error is not None:
            raise OSError(
                f"the emulator cannot listen on {self._ip_address}:{self._port}: {self._error}"
            ) from self._error


class _LateHooks:
    """Routes moto's callbacks to the core once it exists (the server must start before the core)."""

    core: _Core | None = None

    def _get(self) -> _Core | None:
        core = self.core
        return None if core is None or core.stopping else core

    def invoke(self, function: LambdaFunction, event: Any) -> tuple[str, bool, str]:
        core = self._get()
        if core is None:
            return '{"errorType": "Runtime.Shutdown", "errorMessage": "the emulator is not running"}', True, ""
        return core.invoke(function, event)

    def esm_created(self, backend: LambdaBackend, esm: EventSourceMapping) -> None:
        if core := self._get():
            core.esm_created(backend, esm)

    def esm_changed(self, esm: EventSourceMapping) -> None:
        if core := self._get():
            core.esm_changed(esm)

    def esm_deleted(self, uuid: str) -> None:
        if core := self._get():
            core.esm_deleted(uuid)

    def stream_appended(self, account_id: str, region: str, table_name: str) -> None:
        if core := self._get():
            core.stream_appended(account_id, region, table_name)

    def sqs_message_added(self, account_id: str, region: str, queue_name: str) -> None:
        if core := self._get():
            core.sqs_message_added(account_id, region, queue_name)

    def service_client(self, service: str, region: str, role_arn: str) -> Any:
        core = self._get()
        if core is None:
            raise RuntimeError("the emulator is not running")
        return core.service_client(service, region, role_arn)


# The emulator's process holds every table in memory as millions of small, acyclic objects (moto's
# items and their DynamoTypes). With CPython's default thresholds (700, 10, 10) the cyclic collector
# walks all of them again and again while tables fill, so writes got slower as the data grew
# (measured in `make bench`: the ceiling 5% and the last backfills 10-14% faster with these
# thresholds). Rarer collections keep the cost per write flat; cycles are still collected.
SERVE_GC_THRESHOLDS = (100_000, 50, 1_000)


def serve(host: str, port: int, region: str, work_dir: Path, lambda_workers: int = 2) -> None:
    """Run the emulator in the foreground until SIGINT or SIGTERM (for ``dynamigrate emulator``)."""
    stop = threading.Event()
    gc.set_threshold(*SERVE_GC_THRESHOLDS)  # this process is the emulator's own (see above)

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with Emulator(host=host, port=port, region=region, work_dir=work_dir, lambda_workers=lambda_workers) as emu:
            print(f"dynamigrate emulator (moto {check_moto_version()}) listening on {emu.endpoint_url}")
            print(f"  export AWS_ENDPOINT_URL={emu.endpoint_url}")
            print(f"  Lambda code and logs under {work_dir} (logs/<function-name>.log); stop with Ctrl-C", flush=True)
            while not stop.wait(1.0):
                pass
            print("dynamigrate emulator: shutting down", flush=True)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
