"""Event source mapping pollers: DynamoDB streams and SQS queues, with Lambda's batching and failure semantics.

Streams are read straight from moto's stream shard (under the DynamoDB write lock, so
a poller never sees half a transaction). SQS is read through the emulator's HTTP
endpoint with the mapping account's credentials, like any client (ReceiveMessage,
DeleteMessageBatch), so moto's own receive logic (receive counts, visibility timeouts,
redrive to the dead-letter queue) applies; instead of long polls, which could not be
interrupted at shutdown, consumers make short receives and sleep until a message is
sent (a hook on ``Queue.add_message``) or the earliest in-flight or delayed message
becomes visible. Settings are read
from moto's ``EventSourceMapping`` object before every batch, so ``UpdateEventSourceMapping``
takes effect at the next batch.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from moto.awslambda.models import lambda_backends
from moto.dynamodb.models import dynamodb_backends
from moto.sqs.models import sqs_backends

from dynamigrate.emulator._events import (
    dynamodb_event_record,
    failure_object_key,
    fit_payload,
    parse_batch_item_failures,
    record_size,
    sqs_event_record,
    stream_failure_record,
)
from dynamigrate.emulator._moto_patches import DDB_LOCK

if TYPE_CHECKING:
    from moto.awslambda.models import EventSourceMapping, LambdaFunction
    from moto.dynamodb.models.table import StreamShard
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

    from dynamigrate.emulator._runner import InvocationResult, LambdaRunner
    from dynamigrate.emulator._stats import StatsRegistry

LOG = logging.getLogger(__name__)

RETRY_BACKOFF_SECONDS = 0.2  # AWS backs off for seconds to minutes; tests need fast retries
IDLE_POLL_SECONDS = 0.5  # safety net; pollers are woken by writes and mapping changes
SQS_IDLE_SECONDS = 1.0  # longest sleep of an idle SQS consumer between receives
REPORT_BATCH_ITEM_FAILURES = "ReportBatchItemFailures"


class PollerHost(Protocol):
    """What pollers need from the emulator."""

    endpoint_url: str
    runner: LambdaRunner
    stats: StatsRegistry
    activity: threading.Condition

    def client(self, service: str, account_id: str, region: str) -> Any: ...

    def role_client(self, service: str, role_arn: str, region: str) -> Any: ...


class Poller:
    """One enabled-or-paused event source mapping; subclasses deliver its records."""

    def __init__(self, host: PollerHost, esm: EventSourceMapping) -> None:
        self.host = host
        self.esm = esm
        self.uuid = esm.uuid
        self.account_id = esm.account_id
        self.region = esm.region
        self._stop = threading.Event()
        self._state = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._wakeup = threading.Condition()
        self._poked = 0  # generation counter: a poke between check and wait is never lost
        self.source: tuple[str, str, str, str] = ("", "", "", "")  # (service, account, region, name)

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        for index in range(self._thread_count()):
            thread = threading.Thread(
                target=self._guarded, args=(index,), name=f"esm-{self.uuid[:8]}-{index}", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.poke()

    def poke(self) -> None:
        """Wake the poller's threads: new records, a mapping change or shutdown."""
        with self._wakeup:
            self._poked += 1
            self._wakeup.notify_all()

    def join(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def _thread_count(self) -> int:
        return 1

    def _guarded(self, index: int) -> None:
        """Run the poller; an unexpected error is logged and polling resumes after a pause."""
        try:
            while not self.stopped:
                try:
                    self._run(index)
                    return
                except Exception:
                    LOG.exception("event source mapping %s: poller error; retrying in 1 s", self.uuid)
                    self._stop.wait(1.0)
        finally:
            self._notify()

    def _run(self, index: int) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------- helpers

    def exists(self) -> bool:
        """False once the mapping is deleted (or moto was reset)."""
        try:
            return lambda_backends[self.account_id][self.region].get_event_source_mapping(self.uuid) is self.esm
        except KeyError:  # pragma: no cover - backends are created on demand
            return False

    @property
    def enabled(self) -> bool:
        return bool(self.esm.enabled)

    def idle(self) -> bool:
        """Nothing left to deliver (paused and deleted mappings are idle)."""
        raise NotImplementedError

    def _generation(self) -> int:
        with self._wakeup:
            return self._poked

    def _wait(self, timeout: float, since: int | None = None) -> None:
        """Sleep until poked (after generation ``since``, if given) or ``timeout`` seconds pass."""
        if timeout <= 0 or self.stopped:
            return
        with self._wakeup:  # leaf lock: never take another lock while holding it
            start = self._poked if since is None else since
            self._wakeup.wait_for(lambda: self._poked != start, timeout)

    def _notify(self) -> None:
        with self.host.activity:
            self.host.activity.notify_all()

    def _function(self) -> LambdaFunction | None:
        try:
            return lambda_backends[self.account_id][self.region].get_function(self.esm.function_arn)
        except Exception:
            LOG.warning("event source mapping %s: function %s not found", self.uuid, self.esm.function_arn)
            return None

    def _invoke(self, function: LambdaFunction, records: list[dict[str, Any]]) -> InvocationResult:
        return self.host.runner.invoke(function, {"Records": records}, invoked_arn=self.esm.function_arn)

    @property
    def _reports_item_failures(self) -> bool:
        return REPORT_BATCH_ITEM_FAILURES in (self.esm.function_response_types or [])


# ------------------------------------------------------------------ DynamoDB streams


@dataclass
class _Segment:
    """Records [start, start+len(records)) of the shard that are being (re)tried together."""

    start: int
    records: list[dict[str, Any]]
    retries: int = 0
    invokes: int = 0
    request_id: str | None = None
    function_error: str | None = None

    def tail(self, count: int) -> _Segment:
        """The segment without its first ``count`` records."""
        return _Segment(
            self.start + count,
            self.records[count:],
            self.retries,
            self.invokes,
            self.request_id,
            self.function_error,
        )


class StreamPoller(Poller):
    """One shard reader: one batch in flight, in order, with retries, bisection and on-failure destinations."""

    def __init__(self, host: PollerHost, esm: EventSourceMapping, start_index: int, shard_id: str) -> None:
        super().__init__(host, esm)
        arn = esm.event_source_arn  # arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>
        self._table_name = arn.split(":", 5)[5].split("/")[1]
        self._stream_label = arn.split("/stream/", 1)[1]
        self._stream_account = arn.split(":")[4]  # not the mapping's own with cross-account access
        self.source = ("dynamodb", self._stream_account, self.region, self._table_name)
        self._shard_id = shard_id
        self._position = start_index  # checkpoint: index in the shard of the next record to deliver
        self._segments: deque[_Segment] = deque()  # failing batch, possibly bisected, from the checkpoint on
        self._busy = False

    @staticmethod
    def starting_index(esm: EventSourceMapping, shard: StreamShard) -> int:
        """Where a new mapping starts reading. Called under DDB_LOCK, inside CreateEventSourceMapping."""
        position = (esm.starting_position or "TRIM_HORIZON").upper()
        if position == "LATEST":
            return len(shard.items)
        if position == "AT_TIMESTAMP" and esm.starting_position_timestamp is not None:
            since = float(esm.starting_position_timestamp)
            for index, item in enumerate(shard.items):
                if item.record["dynamodb"]["ApproximateCreationDateTime"].replace(tzinfo=UTC).timestamp() >= since:
                    return index
            return len(shard.items)
        return 0

    def _shard(self) -> StreamShard | None:
        """The live shard, looked up every time: the table may be deleted, re-created or its stream replaced."""
        table = dynamodb_backends[self._stream_account][self.region].tables.get(self._table_name)
        if table is None or table.stream_shard is None or table.latest_stream_label != self._stream_label:
            return None  # table deleted or stream replaced: this stream has ended
        return table.stream_shard

    def _shard_length(self) -> int:
        shard = self._shard()
        if shard is None:
            return 0
        with DDB_LOCK:
            return len(shard.items)

    def idle(self) -> bool:
        if not self.enabled or self.stopped:
            return True
        with self._state:
            if self._busy or self._segments:
                return False
            position = self._position
        return position >= self._shard_length()

    def _run(self, index: int) -> None:
        while not self.stopped and self.exists():
            generation = self._generation()
            if not self.enabled:
                self._wait(IDLE_POLL_SECONDS, generation)
                continue
            segment = self._next_segment()
            if segment is None:
                self._wait(IDLE_POLL_SECONDS, generation)
                continue
            try:
                self._process(segment)
            finally:
                with self._state:
                    self._busy = False
                self._notify()

    def _next_segment(self) -> _Segment | None:
        with self._state:
            if self._segments:
                self._busy = True
                return self._segments[0]
            position = self._position
        batch_size = int(self.esm.batch_size)
        window = float(self.esm.max_batch_window or 0)
        available = self._shard_length() - position
        if available <= 0:
            return None
        deadline = time.monotonic() + window
        while available < batch_size and not self.stopped and self.enabled:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            generation = self._generation()
            available = self._shard_length() - position
            if available >= batch_size:
                break
            self._wait(min(remaining, IDLE_POLL_SECONDS), generation)
            available = self._shard_length() - position
        shard = self._shard()
        if shard is None:
            return None
        with DDB_LOCK:
            items = [item.to_json() for item in shard.items[position : position + min(batch_size, available)]]
        records = [dynamodb_event_record(item, self.region, self.esm.event_source_arn) for item in items]
        records = records[: fit_payload([record_size(record) for record in records])]
        segment = _Segment(position, records)
        with self._state:
            self._segments.append(segment)
            self._busy = True
        return segment

    # ----------------------------------------------------------- outcomes

    def _checkpoint(self, segment: _Segment, count: int) -> None:
        """Records [segment.start, segment.start+count) are done; the segment shrinks or goes."""
        with self._state:
            self._position = segment.start + count
            if self._segments and self._segments[0] is segment:
                self._segments.popleft()
                if count < len(segment.records):
                    self._segments.appendleft(segment.tail(count))

    def _replace_head(self, *segments: _Segment) -> None:
        with self._state:
            self._segments.popleft()
            self._segments.extendleft(reversed(segments))

    def _process(self, segment: _Segment) -> None:
        function = self._function()
        if function is None:
            self._stop.wait(RETRY_BACKOFF_SECONDS * 5)
            return
        live = self._discard_expired(function, segment)
        if live is None:
            return
        segment = live
        result = self._invoke(function, segment.records)
        if self.stopped:
            return
        segment.invokes += 1
        segment.request_id = result.request_id
        segment.function_error = result.function_error
        failed_at: int | None = None  # index in the segment of the first failed record
        if result.ok:
            if not self._reports_item_failures:
                failed_at = len(segment.records)
            else:
                sequence_numbers = [record["dynamodb"]["SequenceNumber"] for record in segment.records]
                failed = parse_batch_item_failures(result.payload, set(sequence_numbers))
                if failed is not None:
                    failed_at = next(
                        (i for i, seq in enumerate(sequence_numbers) if seq in failed), len(sequence_numbers)
                    )
        if failed_at is not None:
            self._succeeded(function, segment, failed_at)
            return
        # The whole batch failed.
        if self.esm.bisect_on_error and len(segment.records) > 1:
            middle = len(segment.records) // 2  # bisecting does not consume a retry, as on AWS
            first = _Segment(segment.start, segment.records[:middle], segment.retries, segment.invokes)
            self._replace_head(first, segment.tail(middle))
            return
        self._retry_or_discard(function, segment)

    def _succeeded(self, function: LambdaFunction, segment: _Segment, failed_at: int) -> None:
        if failed_at:
            self.host.stats.add(self.esm.function_arn, records_delivered=failed_at)
        if failed_at == len(segment.records):
            self._checkpoint(segment, failed_at)
            return
        # Partial batch response: checkpoint before the lowest failed record, retry from there.
        self._checkpoint(segment, failed_at)
        with self._state:
            remaining = self._segments[0]
        self._retry_or_discard(function, remaining)

    def _retry_or_discard(self, function: LambdaFunction, segment: _Segment) -> None:
        segment.retries += 1
        max_retries = self.esm.max_retry_attempts
        if max_retries is not None and int(max_retries) >= 0 and segment.retries > int(max_retries):
            self._discard(function, segment, "RetryAttemptsExhausted")
            self._checkpoint(segment, len(segment.records))
            return
        self._stop.wait(RETRY_BACKOFF_SECONDS)

    def _discard_expired(self, function: LambdaFunction, segment: _Segment) -> _Segment | None:
        max_age = self.esm.max_record_age
        if max_age is None or int(max_age) < 0:
            return segment
        oldest_allowed = time.time() - int(max_age)
        expired = 0
        for record in segment.records:
            if record["dynamodb"]["ApproximateCreationDateTime"] >= oldest_allowed:
                break
            expired += 1
        if not expired:
            return segment
        self._discard(
            function,
            _Segment(
                segment.start,
                segment.records[:expired],
                invokes=segment.invokes,
                request_id=segment.request_id,
                function_error=segment.function_error,
            ),
            "RecordAgeExceeded",
        )
        self._checkpoint(segment, expired)
        if expired == len(segment.records):
            return None
        with self._state:
            return self._segments[0]

    def _discard(self, function: LambdaFunction, segment: _Segment, condition: str) -> None:
        """Send the discarded batch's invocation record to the on-failure destination, if any."""
        destination = ((self.esm.destination_config or {}).get("OnFailure") or {}).get("Destination")
        if not destination:
            LOG.warning("event source mapping %s discarded %d records (%s)", self.uuid, len(segment.records), condition)
            return
        service = destination.split(":")[2]
        now = datetime.now(UTC)
        document = stream_failure_record(
            records=segment.records,
            shard_id=self._shard_id,
            stream_arn=self.esm.event_source_arn,
            function_arn=self.esm.function_arn,
            condition=condition,
            invoke_count=segment.invokes,
            request_id=segment.request_id,
            executed_version=str(function.version),
            function_error=segment.function_error,
            now=now,
            include_payload=service == "s3",
        )
        try:
            _deliver(
                self.host,
                destination,
                document,
                function,
                key=failure_object_key(self.uuid, self._shard_id, now, str(uuid.uuid4())),
            )
        except Exception:  # AWS counts a DestinationDeliveryFailures metric and moves on
            LOG.exception("event source mapping %s could not deliver to %s", self.uuid, destination)
            return
        self.host.stats.add(self.esm.function_arn, on_failure_batches=1, on_failure_records=len(segment.records))


def _deliver(host: PollerHost, destination: str, document: dict[str, Any], function: LambdaFunction, key: str) -> None:
    parts = destination.split(":", 5)
    service, region, account_id, resource = parts[2], parts[3], parts[4], parts[5]
    body = json.dumps(document)
    if service == "s3":
        # Written with the function's execution role, as Lambda does.
        s3 = host.role_client("s3", function.role, function.region)
        s3.put_object(Bucket=resource, Key=key, Body=body.encode(), ContentType="application/json")
    elif service == "sqs":
        sqs = host.client("sqs", account_id, region)
        sqs.send_message(QueueUrl=f"{host.endpoint_url}/{account_id}/{resource}", MessageBody=body)
    elif service == "sns":
        host.client("sns", account_id, region).publish(TopicArn=destination, Message=body)
    else:
        raise ValueError(f"unsupported on-failure destination {destination}")


# ---------------------------------------------------------------------------- SQS


class SqsPoller(Poller):
    """Polls one queue with up to ``MaximumConcurrency`` batches in flight."""

    def __init__(self, host: PollerHost, esm: EventSourceMapping) -> None:
        super().__init__(host, esm)
        parts = esm.event_source_arn.split(":")
        self._queue_account, self._queue_name = parts[4], parts[5]
        self.source = ("sqs", self._queue_account, self.region, self._queue_name)
        self._queue_url = f"{host.endpoint_url}/{self._queue_account}/{self._queue_name}"
        self._busy = 0

    def _thread_count(self) -> int:
        return self.host.runner.workers_per_function

    def _concurrency(self) -> int:
        """``ScalingConfig.MaximumConcurrency`` (default 2), capped by the function's warm workers."""
        configured = (self.esm.scaling_config or {}).get("MaximumConcurrency") or 2
        return max(1, min(int(configured), self.host.runner.workers_per_function))

    def idle(self) -> bool:
        if not self.enabled or self.stopped:
            return True
        with self._state:
            if self._busy:
                return False
        queue = sqs_backends[self._queue_account][self.region].queues.get(self._queue_name)
        if queue is None:
            return True
        return not (
            queue.approximate_number_of_messages
            or queue.approximate_number_of_messages_not_visible
            or queue.approximate_number_of_messages_delayed
        )

    def _next_visible_in(self) -> float:
        """Seconds until the earliest in-flight or delayed message becomes receivable (capped)."""
        queue = sqs_backends[self._queue_account][self.region].queues.get(self._queue_name)
        if queue is None:
            return SQS_IDLE_SECONDS
        now_ms = time.time() * 1000
        pending = [
            max(message.visible_at, message.delayed_until) - now_ms
            for message in list(queue._messages)
            if not message.visible or message.delayed
        ]
        return min([SQS_IDLE_SECONDS, *(max(0.02, ms / 1000 + 0.01) for ms in pending)])

    def _run(self, index: int) -> None:
        sqs: SQSClient = self.host.client("sqs", self._queue_account, self.region)
        while not self.stopped and self.exists():
            generation = self._generation()
            if not self.enabled or index >= self._concurrency():
                self._wait(IDLE_POLL_SECONDS, generation)
                continue
            try:
                messages = self._receive(sqs)
            except Exception as exc:
                if not self.stopped:
                    LOG.warning("event source mapping %s: receive from %s failed: %s", self.uuid, self._queue_url, exc)
                self._stop.wait(IDLE_POLL_SECONDS)
                continue
            if not messages:
                self._wait(self._next_visible_in(), generation)
                continue
            with self._state:
                self._busy += 1
            try:
                self._process(sqs, messages)
            finally:
                with self._state:
                    self._busy -= 1
                self._notify()

    def _receive_once(self, sqs: SQSClient, count: int) -> list[MessageTypeDef]:
        response = sqs.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=max(1, min(10, count)),
            WaitTimeSeconds=0,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return list(response.get("Messages", []))

    def _receive(self, sqs: SQSClient) -> list[MessageTypeDef]:
        """One batch: several receives of up to 10 within ``MaximumBatchingWindowInSeconds``."""
        batch_size = int(self.esm.batch_size)
        messages = self._receive_once(sqs, batch_size)
        if not messages:
            return []
        deadline = time.monotonic() + float(self.esm.max_batch_window or 0)
        while len(messages) < batch_size and not self.stopped:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            generation = self._generation()
            more = self._receive_once(sqs, batch_size - len(messages))
            if more:
                messages.extend(more)
            else:
                self._wait(min(remaining, self._next_visible_in()), generation)
        return messages

    def _process(self, sqs: SQSClient, messages: list[MessageTypeDef]) -> None:
        function = self._function()
        if function is None:
            return  # the messages become visible again after the visibility timeout
        records = [sqs_event_record(message, self.esm.event_source_arn, self.region) for message in messages]
        result = self._invoke(function, records)
        if self.stopped or not result.ok:
            return  # a function error deletes nothing: the messages reappear after the visibility timeout
        done = messages
        if self._reports_item_failures:
            failed = parse_batch_item_failures(result.payload, {m["MessageId"] for m in messages})
            if failed is None:
                return
            done = [message for message in messages if message["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            chunk = done[start : start + 10]
            sqs.delete_message_batch(
                QueueUrl=self._queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )
        if done:
            self.host.stats.add(self.esm.function_arn, records_delivered=len(done))
