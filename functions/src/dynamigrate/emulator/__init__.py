"""Embedded AWS emulator: moto 5.2.x in this process, with Lambda functions and event source mappings that run.

Test infrastructure, not product: it lets ``dynamigrate demo`` and the integration
tests rehearse a whole migration without AWS and without Docker::

    source table write -> DynamoDB stream -> (event source mapping) -> stream-to-S3 Lambda
      -> S3 object in the target account's bucket -> S3 event notification -> SQS queue
      -> (event source mapping) -> writer Lambda -> target table

Everything in that pipeline is created by ``terraform apply`` against the emulator
(or by boto3); the emulator makes the functions and mappings Terraform created run.
Step Functions state machines run too (moto's interpreter, including Distributed
Map over S3), their tasks calling services in the execution role's account: the
export-load path (Export to S3 -> state machine -> loader Lambda) rehearses end to end.

Usage
-----
::

    from dynamigrate.emulator import Emulator, serve

    with Emulator(host="127.0.0.1", port=0, region="us-east-1", work_dir=Path("build/emu"), lambda_workers=2) as emu:
        emu.endpoint_url                  # "http://127.0.0.1:<port>" (port 0 picks a free port)
        ddb = emu.session("111111111111").client("dynamodb")   # clients default to the emulator
        emu.credentials("222222222222")   # aws_access_key_id / aws_secret_access_key / aws_session_token
        emu.wait_idle(timeout=60)         # True once nothing is left to deliver and nothing runs
        emu.stats()                       # per function ARN: invocations, errors, timeouts, records, ...

    serve(host="127.0.0.1", port=4566, region="us-east-1", work_dir=Path("build/emulator"))  # foreground

* Accounts: ``credentials(account_id)`` / ``session(account_id)`` come from the
  emulator's STS ``AssumeRole`` of ``arn:aws:iam::<account>:role/dynamigrate-emulator``
  (the role need not exist); moto puts every call made with them in that account. The
  session's profile (a config file in ``work_dir``) sets ``endpoint_url``, so its clients
  and resources need no ``endpoint_url``. ``MOTO_ACCOUNT_ID`` must not be set (it would
  put everything in one account); the emulator refuses to start if it is.
* One emulator per process: moto keeps its state in module globals. The emulator
  resets moto's state when it starts and when it stops.
* ``work_dir``: ``code/<sha256>/`` (each function zip, unpacked once per code hash),
  ``logs/<function-name>.log`` (everything the function prints, with Lambda's
  ``START``/``END``/``REPORT`` lines; functions of the same name in two accounts share a
  file), ``tmp/`` (the functions' ``TMPDIR``) and ``aws-config``. Without ``work_dir`` a
  temporary folder is used and removed at stop.
* ``stats()`` is keyed by unqualified function ARN (names repeat across accounts);
  ``records_delivered`` counts event source records a function processed successfully,
  ``on_failure_batches``/``on_failure_records`` what went to on-failure destinations.
* Shutdown (``stop()``, leaving the ``with`` block, SIGINT/SIGTERM for ``serve``, or
  interpreter exit) stops the pollers, SIGKILLs every worker process group, even in the
  middle of an invocation, stops the server and restores moto. Workers also exit on
  their own when the emulator process dies (EOF on their request pipe).

What is patched in moto, and why
--------------------------------
moto runs Lambda functions only in Docker, and pushes event source records to Lambda
synchronously inside the write request, one record per invocation, clearing the stream
shard afterwards (so sequence numbers repeat). The patches (``_moto_patches.py``,
written against moto 5.2.5; the package refuses to import with another series) are
applied when an emulator starts and removed when it stops, each replacing one
attribute and restoring the original:

* ``LambdaFunction._invoke_lambda`` runs the function in the local runner (below).
  moto's ``Invoke`` API around it is kept (``LogType=Tail`` returns the invocation's log).
* ``LambdaBackend.create/update/delete_event_source_mapping``: the mapping stays in
  moto (List/Get/Update/Delete behave as usual) but is unregistered from its table or
  queue, so moto never pushes; the emulator's pollers deliver instead.
* DynamoDB: one lock serialises every write with its stream record (stream order =
  write order, unique increasing sequence numbers; moto races there), ``UpdateItem`` of a
  missing item emits one INSERT (moto emits two), and a cancelled transaction leaves no
  stream record. ``_dynamodb_fixes`` (atomic, isolated ``TransactWriteItems``;
  permanent, not reversible) is installed first and shares the lock.
* SQS: receive and delete hold the queue's message lock (moto's delete rebuilds the
  list unlocked and can lose a message sent at the same moment); ``add_message`` never
  pushes to Lambda and wakes the queue's pollers.
* S3 notifications are sent from the bucket owner's account (moto uses the caller's, so
  a PutObject from account A into B's bucket silently lost its notification).
* ``ThreadedMotoServer`` is subclassed to stop in 50 ms and to raise when the port is
  taken (moto's ``start()`` hangs forever then).

Local Lambda runner
-------------------
Python zip functions run in warm worker processes: up to ``lambda_workers`` per
function version (code or configuration change = new workers; more concurrent
invocations wait for a free worker, where Lambda would scale out). A worker is
``sys.executable -I -u _bootstrap.py`` with the unpacked zip FIRST on ``sys.path`` (so
the zip's copy of ``dynamigrate`` runs, not the editable install; boto3 comes from the
interpreter, as the Lambda runtime provides it) and an environment built like
Lambda's: the function's variables, then ``AWS_ENDPOINT_URL`` (the emulator),
``AWS_REGION``/``AWS_DEFAULT_REGION``, credentials of the function's execution role
(``AssumeRole`` through the emulator, so its calls land in the role's account: that is
what makes cross-account calls real), ``AWS_LAMBDA_FUNCTION_NAME``/``_MEMORY_SIZE``/
``_VERSION``, ``AWS_LAMBDA_LOG_GROUP_NAME``/``_LOG_STREAM_NAME``, ``_HANDLER``,
``LAMBDA_TASK_ROOT``, ``AWS_EXECUTION_ENV``; nothing else from the parent but ``PATH``
(``AWS_CONFIG_FILE``/``AWS_SHARED_CREDENTIALS_FILE`` point at nothing, so the
developer's ``~/.aws`` stays out). The handler gets the Python runtime's context object
(``function_name``, ``function_version``, ``invoked_function_arn``,
``memory_limit_in_mb`` (a string, as in the real runtime), ``aws_request_id``,
``log_group_name``, ``log_stream_name``, ``get_remaining_time_in_millis()``).
Requests and responses travel on a dedicated pipe pair; stdout and stderr go to the
function's log file. A handler exception is returned as Lambda does
(``errorMessage``/``errorType``/``stackTrace``, a function error); init failures as
``Runtime.ImportModuleError``/``Runtime.HandlerNotFound``; a handler past the
function's timeout is killed (``Sandbox.Timedout``, "Task timed out after N.NN
seconds") and a crashed worker is reported (``Runtime.ExitError``); both are replaced by
a fresh worker on the next invocation. Printed lines that are CloudWatch Embedded Metric
Format documents (``_aws.CloudWatchMetrics``, e.g. Powertools ``Metrics``) become
``PutMetricData`` calls in the function's account and region before the invocation
returns, so ``get_metric_statistics`` there shows them.

Event source mappings
---------------------
One poller per mapping, reading its settings from moto's ``EventSourceMapping`` before
every batch: ``Enabled=false`` pauses it (a paused mapping delivers nothing and does
not count for ``wait_idle``), a deleted mapping stops it.

DynamoDB streams (read straight from moto's shard, under the write lock, so a poller
never sees half a transaction): ``StartingPosition`` TRIM_HORIZON, LATEST (taken at
creation) or AT_TIMESTAMP; batches of up to ``BatchSize`` records and 6 MB, waiting up
to ``MaximumBatchingWindowInSeconds`` to fill one; the event as Lambda delivers it
(``eventID``, ``eventName``, ``eventVersion`` 1.1, ``eventSource`` aws:dynamodb,
``awsRegion``, ``dynamodb`` with ``ApproximateCreationDateTime`` in epoch seconds,
``Keys``, ``NewImage``/``OldImage``, ``SequenceNumber``, ``SizeBytes``,
``StreamViewType``, binary values base64-encoded, and ``eventSourceARN``). One batch in
flight, in order. ``ReportBatchItemFailures``: the batch is checkpointed before the
lowest failed sequence number and retried from there; an unknown, empty or null
identifier (or an invalid response) fails the whole batch; without it any function
error fails the whole batch. Failures retry up to ``MaximumRetryAttempts`` (-1: until
``MaximumRecordAgeInSeconds``), ``BisectBatchOnFunctionError`` halves a failing batch
(not consuming a retry), records older than ``MaximumRecordAgeInSeconds`` are
discarded. Discarded batches go to ``DestinationConfig.OnFailure``: an S3 bucket gets
one object per batch under ``aws/lambda/<ESM UUID>/<shardId>/YYYY/MM/DD/
YYYY-MM-DDTHH.MM.SS-<uuid>`` holding the invocation record (``requestContext``,
``responseContext``, ``version``, ``timestamp``, ``DDBStreamBatchInfo``) plus
``payload`` (``{"Records": [...]}``, the discarded records), written with the
function's role; SQS and SNS get the record without payload. Then the stream moves on.
Retries back off 200 ms (AWS: seconds to minutes).

SQS (through the emulator's HTTP API with the queue account's credentials, so moto's
own receive semantics apply): receives of up to 10 messages, several within
``MaximumBatchingWindowInSeconds`` up to ``BatchSize``; the event as Lambda delivers it
(``messageId``, ``receiptHandle``, ``body``, ``attributes`` with
``ApproximateReceiveCount``/``SentTimestamp``/..., ``messageAttributes``,
``md5OfBody``, ``eventSource`` aws:sqs, ``eventSourceARN``, ``awsRegion``). Success
deletes the batch; a ``batchItemFailures`` response (with ``ReportBatchItemFailures``)
deletes all but the failed messages; a function error deletes nothing, so messages
come back after the queue's visibility timeout, and moto moves a message to the
dead-letter queue on the receive after ``maxReceiveCount``. Up to
``ScalingConfig.MaximumConcurrency`` (default 2, capped at ``lambda_workers``) batches in
flight per queue. Consumers make short receives and sleep until a message is sent to
the queue or the earliest in-flight message becomes visible (no long polls, so
shutdown is immediate).

Why these access paths: streams have no usable HTTP equivalent in moto (its
GetRecords leaks an iterator per call and reports every record in us-east-1), and the
shard read must be atomic with writes; SQS over HTTP keeps receive counts, visibility
timeouts and redrive exactly as moto implements them for any client.

Not implemented (documented gaps)
---------------------------------
``ParallelizationFactor`` (one batch per shard; moto has one shard per stream),
tumbling windows, ``FilterCriteria`` (a warning is logged; every record is delivered),
Kinesis (moto's synchronous push, running in the local runner), Kafka/MQ/DocumentDB
sources, real retry timings, validation of mapping settings (minimum record age, queue
visibility timeout versus function timeout), stream retention and shard rollover
(records stay in memory for the emulator's lifetime), the SQS 6 MB batch limit, FIFO
ordering beyond moto's message-group locking, asynchronous invocation (``InvocationType
Event`` runs synchronously inside the request; ``DryRun`` runs the function, as moto
does), the ``X-Amz-Function-Error`` header value (moto says ``Handled``), layers,
container images, non-Python runtimes, memory limits, throttling and reserved
concurrency, CloudWatch Logs (logs go to files), and IAM enforcement (moto allows
every call; resource policies are evaluated where the pipeline depends on them:
bucket policy conditions, stream resource policies for cross-account mappings, and
KMS key policies for SSE-KMS objects and notifications into encrypted queues). S3
notifications to a queue or topic in a third account are not
delivered (they are sent from the bucket owner's account).

Using LocalStack instead
------------------------
Where Docker is available, LocalStack (``localstack start``, endpoint
``http://localhost:4566``) runs the same Terraform and tests without this package: it
runs functions in containers and implements event source mappings itself. Point
Terraform's provider ``endpoints`` (or ``tflocal``) and ``AWS_ENDPOINT_URL`` at it. For
accounts, LocalStack takes the account id from a 12-digit ``AWS_ACCESS_KEY_ID`` (use
``aws_access_key_id=<account id>``, any secret) instead of STS credentials, and it has
no ``wait_idle``/``stats``: poll the target state with deadlines instead. Tests that need
LocalStack are marked ``localstack`` and skipped when no endpoint is reachable.
"""

from dynamigrate.emulator._version import MotoVersionError, check_moto_version

check_moto_version()  # before anything imports moto internals: a clear message, not an ImportError

from dynamigrate.emulator._emulator import Emulator, serve  # noqa: E402
from dynamigrate.emulator._stats import FunctionStats  # noqa: E402

__all__ = ["Emulator", "FunctionStats", "MotoVersionError", "serve"]
