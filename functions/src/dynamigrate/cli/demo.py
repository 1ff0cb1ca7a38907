"""`dynamigrate demo`: rehearse a whole cross-account migration on the embedded emulator.

1. start the emulator; create a source and a target account in it, each with
   an admin role that Terraform and the CLI assume with an ExternalId;
2. create the source table with N items of every DynamoDB type, then enable
   its stream (as on a real table that already holds data);
3. create the (empty) target table, then ``terraform apply`` the repository's
   own ``examples/cross-account`` against the emulator;
4. start a live application that inserts, updates, overwrites, deletes and
   re-inserts items in the source table;
5. bulk-copy the existing items while the pipeline replicates live changes;
6. stop the application, wait for the pipeline to drain, verify item for
   item, and report. Exit 0 only if the tables are equal and nothing was
   parked or lost.
"""

from __future__ import annotations

import json
import multiprocessing
import queue
import random
import signal
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from rich.console import Console
from rich.table import Table

from dynamigrate.backfill import backfill
from dynamigrate.cli import sample
from dynamigrate.cli.progress import progress_bar, rate_advancer
from dynamigrate.cli.terraform import Terraform, emulator_override
from dynamigrate.rule import TableSchema, VersionRule
from dynamigrate.verify import verify

if TYPE_CHECKING:
    from collections.abc import Iterator

    import boto3
    from mypy_boto3_dynamodb import DynamoDBClient
    from rich.progress import Progress

ADMIN_ROLE = "dynamigrate-rehearsal-admin"
MAX_BATCH_BYTES = 12 * 1024 * 1024  # BatchWriteItem accepts 16 MB; leave room for encoding


class DemoError(RuntimeError):
    pass


class Sandbox(Protocol):
    """Where the rehearsal runs: the embedded emulator, or LocalStack."""

    endpoint_url: str

    def session(self, account_id: str) -> boto3.Session: ...

    def credentials(self, account_id: str) -> dict[str, str]: ...

    def wait_idle(self, timeout: float = 30.0) -> bool: ...

    def stats(self) -> Any: ...


@dataclass
class DemoOptions:
    items: int = 3000
    seed: int = 7
    serve: bool = False
    rate: float = 40.0
    live_seconds: float = 20.0
    segments: int = 4
    version_attribute: str | None = None
    rollback: bool = False  # deploy the rollback pipeline and end with a rollback rehearsal (attribute mode)
    rollback_window: bool = True  # with rollback: run the rollback window after the migration
    kms: bool = False  # create_kms_keys: a customer managed key in each account
    name: str = "rehearsal"
    region: str = "us-east-1"
    source_account: str = "111111111111"
    target_account: str = "222222222222"
    external_id: str = "dynamigrate-rehearsal"
    work_dir: Path = Path("build/demo")
    example_dir: Path = Path("examples/cross-account")
    lambda_zip: Path = Path("dist/dynamigrate-lambda.zip")
    drain_timeout: float = 180.0
    destroy: bool = False
    json_output: bool = False
    port: int = 0
    localstack: str | None = None


@dataclass
class Deployment:
    """What the rehearsal created: roles, table clients, Terraform and its outputs."""

    source_role_arn: str
    target_role_arn: str
    source: DynamoDBClient
    target: DynamoDBClient
    source_table: str = "orders"
    target_table: str = "orders"
    terraform: Terraform | None = None
    outputs: dict[str, Any] = field(default_factory=dict)


@dataclass
class Step:
    name: str
    seconds: float
    detail: str = ""


@dataclass
class Rehearsal:
    options: DemoOptions
    console: Console
    steps: list[Step] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------ helpers --

    def step(self, name: str, started: float, detail: str = "") -> None:
        seconds = time.monotonic() - started
        self.steps.append(Step(name, seconds, detail))
        if not self.options.json_output:
            suffix = f" [dim]{detail}[/]" if detail else ""
            self.console.print(f"[green]✓[/] {name} [dim]({seconds:.1f}s)[/]{suffix}")

    def progress(self) -> Progress:
        return progress_bar(self.console, disable=self.options.json_output)

    # ------------------------------------------------------------- phases --

    def sandbox(self) -> Sandbox:
        """The AWS the rehearsal runs against (imported lazily: moto is only needed here)."""
        opts = self.options
        if opts.localstack:
            from dynamigrate.emulator.localstack import LocalStack  # noqa: PLC0415

            return LocalStack(opts.localstack, region=opts.region)
        from dynamigrate.emulator import Emulator  # noqa: PLC0415

        return Emulator(port=opts.port, region=opts.region, work_dir=(opts.work_dir / "emulator").resolve())

    def run(self) -> int:
        opts = self.options
        self._preflight()
        started_all = time.monotonic()
        with ExitStack() as stack:
            t = time.monotonic()
            emu: Any = stack.enter_context(self.sandbox())  # type: ignore[arg-type]
            self.step("LocalStack reached" if opts.localstack else "embedded emulator started", t, emu.endpoint_url)
            deployment = self.deploy(emu, stack)
            self.report = {"endpoint_url": emu.endpoint_url, "items_seeded": opts.items}
            self.report.update(self.migrate(emu, deployment, stack))
            self.report["steps"] = [{"name": s.name, "seconds": round(s.seconds, 2)} for s in self.steps]
            self.report["total_seconds"] = round(time.monotonic() - started_all, 1)
            self._print_report()
            if opts.serve:
                self._serve(emu, deployment)
            return 0 if self.report["ok"] else 1

    def deploy(self, emu: Sandbox, stack: ExitStack) -> Deployment:
        """Accounts, tables with data, and the pipeline applied by Terraform."""
        opts = self.options
        t = time.monotonic()
        roles = {acct: self._bootstrap_account(emu, acct) for acct in (opts.source_account, opts.target_account)}
        self.step("source and target accounts created", t, f"{opts.source_account} -> {opts.target_account}")
        deployment = Deployment(
            source_role_arn=roles[opts.source_account],
            target_role_arn=roles[opts.target_account],
            source=emu.session(opts.source_account).client("dynamodb"),
            target=emu.session(opts.target_account).client("dynamodb"),
        )
        t = time.monotonic()
        self._create_source_table(deployment.source, deployment.source_table)
        self.step("source table loaded, stream enabled", t, f"{opts.items} items of every DynamoDB type")
        t = time.monotonic()
        stream = {"StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}}
        self._create_table(deployment.target, deployment.target_table, **(stream if opts.rollback else {}))
        deployment.terraform = self.terraform(emu, deployment)
        deployment.terraform.init()
        deployment.terraform.apply()
        deployment.outputs = deployment.terraform.outputs()
        stack.callback(self._maybe_destroy, deployment.terraform)
        self.step("terraform apply examples/cross-account", t, str(deployment.terraform.workdir))
        return deployment

    def migrate(self, emu: Sandbox, deployment: Deployment, stack: ExitStack) -> dict[str, Any]:
        """Live application + bulk copy + replication, then drain and verify."""
        opts = self.options
        traffic_stop, traffic_result, traffic_proc = self._start_application(
            emu, _traffic_main, table=deployment.source_table, existing=opts.items
        )
        traffic_started = time.monotonic()
        stack.callback(self._stop_process, traffic_proc, traffic_stop)
        traffic_stop.wait(min(3.0, opts.live_seconds / 4))

        t = time.monotonic()
        copy = self._backfill(deployment)
        self.step(
            "bulk copy while live changes replicate",
            t,
            f"{copy['written']} written, {copy['skipped_exists']} already replicated, "
            f"{copy['skipped_deleted']} deleted meanwhile",
        )
        remaining = opts.live_seconds - (time.monotonic() - traffic_started)
        if remaining > 0:
            traffic_stop.wait(remaining)
        traffic_stop.set()
        traffic: dict[str, Any] = self._collect_application(traffic_proc, traffic_result)
        if traffic.get("errors"):
            raise DemoError(f"the rehearsal application hit write errors: {traffic.get('error_samples')}")
        self.step("live application stopped", traffic_started, f"{traffic['total']} writes")

        t = time.monotonic()
        watch = getattr(emu, "watch_queue", None)
        if watch is not None:
            watch(opts.target_account, str(deployment.outputs["queue_url"]))
        if not emu.wait_idle(timeout=opts.drain_timeout):
            raise DemoError(f"the pipeline did not drain within {opts.drain_timeout:.0f}s: {emu.stats()}")
        drain_seconds = time.monotonic() - t
        self.step("pipeline drained", t)

        t = time.monotonic()
        result = self._verify(deployment)
        self.step("verify source against target", t, "equal" if result["equal"] else "DIFFERENT")
        pipeline = self._pipeline_figures(emu, deployment.outputs)
        ok = result["equal"] and not pipeline["parked"] and copy["reconciled"] and not copy["failed"]
        report: dict[str, Any] = {
            "ok": bool(ok),
            "copy": copy,
            "live_writes": traffic,
            "pipeline": pipeline,
            "drain_seconds": round(drain_seconds, 2),
            "verify": result,
        }
        keys = deployment.outputs.get("kms_key_arns") or {}
        if keys.get("target"):
            report["encryption"] = self._change_object_encryption(emu, deployment.outputs, keys)
            report["ok"] = bool(ok and report["encryption"]["change_objects_under_target_key"])
        if opts.rollback and opts.rollback_window:
            rollback = self.rollback_rehearsal(emu, deployment, stack)
            report["rollback"] = rollback
            report["ok"] = bool(report["ok"] and rollback["ok"])
        report["emulator"] = emu.stats()
        return report

    def rollback_rehearsal(self, emu: Sandbox, deployment: Deployment, stack: ExitStack) -> dict[str, Any]:
        """Traffic moves to the target while old instances still write the source: both converge, nothing echoes.

        For a window, one application writes the target table (the switch) and
        another the source table (instances not yet moved, or a rollback), on the
        same keys. The forward pipeline carries source writes to the target, the
        rollback pipeline target writes to the source; a change one direction
        wrote comes back equal and is skipped as stale. After the drain the two
        tables must be equal, and the streams quiet (no write ping-pongs).
        """
        opts = self.options
        source_cw = emu.session(opts.source_account).client("cloudwatch")
        target_cw = emu.session(opts.target_account).client("cloudwatch")
        before = {
            "forward": (_metric(target_cw, "ChangesApplied", "Sum"), _metric(target_cw, "ChangesStale", "Sum")),
            "reverse": (_metric(source_cw, "ChangesApplied", "Sum"), _metric(source_cw, "ChangesStale", "Sum")),
        }
        t = time.monotonic()
        apps = [
            self._start_application(
                emu, _traffic_main, table=table, existing=opts.items, account=account, seed=opts.seed + offset
            )
            for offset, (table, account) in enumerate(
                ((deployment.target_table, opts.target_account), (deployment.source_table, opts.source_account)), 1
            )
        ]
        for stop, _, proc in apps:
            stack.callback(self._stop_process, proc, stop)
        apps[0][0].wait(max(2.0, opts.live_seconds / 2))
        for stop, _, _ in apps:
            stop.set()
        writes = [self._collect_application(proc, results) for _, results, proc in apps]
        if any(w.get("errors") for w in writes):
            raise DemoError(
                f"the rollback-window applications hit write errors: {[w.get('error_samples') for w in writes]}"
            )
        self.step(
            "rollback window: writes in both accounts",
            t,
            f"{writes[0]['total']} to the target, {writes[1]['total']} to the source, same keys",
        )
        t = time.monotonic()
        if not emu.wait_idle(timeout=opts.drain_timeout):
            raise DemoError(f"the two pipelines did not drain within {opts.drain_timeout:.0f}s: {emu.stats()}")
        # A ping-pong would never let the pipelines go idle (each write makes a stream record
        # to deliver); once idle, they must stay so, with no change applied on either side.
        applied = (_metric(target_cw, "ChangesApplied", "Sum"), _metric(source_cw, "ChangesApplied", "Sum"))
        time.sleep(2.0)
        quiet = emu.wait_idle(timeout=opts.drain_timeout) and applied == (
            _metric(target_cw, "ChangesApplied", "Sum"),
            _metric(source_cw, "ChangesApplied", "Sum"),
        )
        self.step("both directions drained", t, "then idle: no echo" if quiet else "STILL WRITING")
        t = time.monotonic()
        result = self._verify(deployment)
        self.step("verify after the rollback window", t, "equal" if result["equal"] else "DIFFERENT")
        after = {
            "forward": (_metric(target_cw, "ChangesApplied", "Sum"), _metric(target_cw, "ChangesStale", "Sum")),
            "reverse": (_metric(source_cw, "ChangesApplied", "Sum"), _metric(source_cw, "ChangesStale", "Sum")),
        }
        directions = {
            name: {"applied": int(after[name][0] - before[name][0]), "stale": int(after[name][1] - before[name][1])}
            for name in before
        }
        return {
            "ok": bool(result["equal"] and quiet),
            "writes_to_target": writes[0]["total"],
            "writes_to_source": writes[1]["total"],
            "forward": directions["forward"],
            "reverse": directions["reverse"],
            "quiet_after_drain": quiet,
            "verify": result,
        }

    def _preflight(self) -> None:
        opts = self.options
        if not (opts.example_dir / "main.tf").is_file():
            raise DemoError(f"{opts.example_dir} has no main.tf: run the demo from the repository root")
        if not opts.lambda_zip.is_file():
            raise DemoError(f"{opts.lambda_zip} is missing: run `make build` first (or `make demo`)")

    def _bootstrap_account(self, emu: Sandbox, account: str) -> str:
        """An admin role in ``account`` that the rehearsal assumes with the ExternalId, as in real accounts."""
        iam = emu.session(account).client("iam")
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                    "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"sts:ExternalId": self.options.external_id}},
                }
            ],
        }
        role = iam.create_role(RoleName=ADMIN_ROLE, AssumeRolePolicyDocument=json.dumps(trust))["Role"]
        iam.put_role_policy(
            RoleName=ADMIN_ROLE,
            PolicyName="admin",
            PolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
            ),
        )
        return str(role["Arn"])

    def _create_table(self, client: DynamoDBClient, name: str, **extra: Any) -> None:
        client.create_table(
            TableName=name,
            KeySchema=sample.KEY_SCHEMA,  # type: ignore[arg-type]
            AttributeDefinitions=sample.ATTRIBUTE_DEFINITIONS,  # type: ignore[arg-type]
            BillingMode="PAY_PER_REQUEST",
            **extra,
        )

    def _create_source_table(self, client: DynamoDBClient, name: str) -> None:
        self._create_table(client, name)
        rng = random.Random(self.options.seed)
        with self.progress() as bar:
            task = bar.add_task("seeding source", total=self.options.items, rate="")
            for batch in _batches(
                sample.make_item(i, rng, version=sample.version_now()) for i in range(self.options.items)
            ):
                pending: dict[str, Any] = {name: [{"PutRequest": {"Item": item}} for item in batch]}
                while pending:
                    pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
                bar.advance(task, len(batch))
        client.update_table(
            TableName=name, StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
        )

    def terraform_variables(self, deployment: Deployment) -> dict[str, Any]:
        """The example's input variables for this rehearsal."""
        opts = self.options
        return {
            "name": opts.name,
            "region": opts.region,
            "source_account_id": opts.source_account,
            "target_account_id": opts.target_account,
            "source_role_arn": deployment.source_role_arn,
            "target_role_arn": deployment.target_role_arn,
            "external_id": opts.external_id,
            "source_table_name": deployment.source_table,
            "target_table_name": deployment.target_table,
            "version_attribute": opts.version_attribute,
            "rollback_enabled": opts.rollback,
            "create_kms_keys": opts.kms,
            "lambda_package_path": str(opts.lambda_zip.resolve()),
            "force_destroy": True,
        }

    def terraform(self, emu: Sandbox, deployment: Deployment, variables: dict[str, Any] | None = None) -> Terraform:
        """A working copy of the example, pointed at the emulator."""
        opts = self.options
        env = {
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_REGION": opts.region,
            "AWS_DEFAULT_REGION": opts.region,
        }
        return Terraform.prepare(
            opts.example_dir,
            (opts.work_dir / "terraform").resolve(),
            variables if variables is not None else self.terraform_variables(deployment),
            emulator_override(emu.endpoint_url, ("source", "target")),
            env=env,
        )

    def _start_application(
        self, emu: Sandbox, target: Any, *, account: str | None = None, **kwargs: Any
    ) -> tuple[Any, multiprocessing.Queue[Any], multiprocessing.process.BaseProcess]:
        """Run ``target`` (an application) in its own process, talking to the sandbox, until told to stop."""
        kwargs.setdefault("seed", self.options.seed)
        ctx = multiprocessing.get_context("spawn")
        stop = ctx.Event()
        results: multiprocessing.Queue[Any] = ctx.Queue()
        proc = ctx.Process(
            target=target,
            name="rehearsal-application",
            kwargs={
                "endpoint_url": emu.endpoint_url,
                "credentials": emu.credentials(account or self.options.source_account),
                "region": self.options.region,
                "rate": self.options.rate,
                "stop": stop,
                "results": results,
                **kwargs,
            },
            daemon=True,
        )
        proc.start()
        return stop, results, proc

    @staticmethod
    def _collect_application(proc: multiprocessing.process.BaseProcess, results: multiprocessing.Queue[Any]) -> Any:
        try:
            report = results.get(timeout=60)
        except queue.Empty as exc:
            raise DemoError("the rehearsal application did not report what it did") from exc
        proc.join(timeout=10)
        return report

    @staticmethod
    def _stop_process(proc: multiprocessing.process.BaseProcess, stop: Any) -> None:
        stop.set()
        proc.join(timeout=10)
        if proc.is_alive():
            proc.kill()

    def _rule(self, deployment: Deployment) -> VersionRule:
        table = deployment.target.describe_table(TableName=deployment.target_table)["Table"]
        return VersionRule(
            target=TableSchema.from_description(dict(table)),
            ledger_table=str(deployment.outputs["ledger_table_name"]),
            version_attribute=self.options.version_attribute,
        )

    def _backfill(self, deployment: Deployment) -> dict[str, Any]:
        rule = self._rule(deployment)
        checkpoint = self.options.work_dir / "backfill-checkpoint.json"
        checkpoint.unlink(missing_ok=True)  # each rehearsal starts from fresh tables
        source = deployment.source
        total = int(source.describe_table(TableName=deployment.source_table)["Table"].get("ItemCount", 0)) or None
        with self.progress() as bar:
            task = bar.add_task("bulk copy", total=total, rate="")
            report = backfill(
                source,
                deployment.target,
                deployment.source_table,
                rule,
                segments=self.options.segments,
                progress=rate_advancer(bar, task),
                checkpoint=checkpoint,
            )
        return report.as_dict()

    def _verify(self, deployment: Deployment) -> dict[str, Any]:
        key = tuple(k["AttributeName"] for k in sample.KEY_SCHEMA)
        with self.progress() as bar:
            task = bar.add_task("verify", total=None, rate="")
            report = verify(
                deployment.source,
                deployment.target,
                deployment.source_table,
                deployment.target_table,
                source_key=key,
                target_key=key,
                segments=self.options.segments,
                progress=lambda n: bar.advance(task, n),
            )
        return report.as_dict()

    def _pipeline_figures(self, emu: Sandbox, outputs: dict[str, Any]) -> dict[str, Any]:
        source_cw = emu.session(self.options.source_account).client("cloudwatch")
        target_cw = emu.session(self.options.target_account).client("cloudwatch")
        target = emu.session(self.options.target_account)
        source = emu.session(self.options.source_account)
        dlq = target.client("sqs").get_queue_attributes(
            QueueUrl=str(outputs["dead_letter_queue_url"]), AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]["ApproximateNumberOfMessages"]
        parked_objects = _count_objects(target.client("s3"), str(outputs["change_bucket_name"]), "dead-letter/")
        failure_bucket = outputs.get("stream_failure_bucket_name") or outputs.get("on_failure_bucket_name")
        failed_batches = _count_objects(source.client("s3"), str(failure_bucket), "") if failure_bucket else 0
        lag = _metric(target_cw, "ReplicationLag", "Maximum")
        return {
            "changes_captured": int(_metric(source_cw, "RecordsCaptured", "Sum")),
            "change_objects": int(_metric(source_cw, "ObjectsWritten", "Sum")),
            "changes_applied": int(_metric(target_cw, "ChangesApplied", "Sum")),
            "changes_stale": int(_metric(target_cw, "ChangesStale", "Sum")),
            "changes_superseded": int(_metric(target_cw, "ChangesSuperseded", "Sum")),
            "resurrections_prevented": int(_metric(target_cw, "ResurrectionsPrevented", "Sum")),
            "lag_max_ms": round(lag, 1),
            "lag_avg_ms": round(_metric(target_cw, "ReplicationLag", "Average"), 1),
            "dead_letter_queue": int(dlq),
            "parked": int(dlq) + parked_objects + failed_batches,
        }

    def _change_object_encryption(self, emu: Sandbox, outputs: dict[str, Any], keys: dict[str, Any]) -> dict[str, Any]:
        """The keys in use, and how the change objects that crossed accounts are actually stored."""
        s3 = emu.session(self.options.target_account).client("s3")
        bucket = str(outputs["change_bucket_name"])
        listed = s3.list_objects_v2(Bucket=bucket, Prefix="changes/", MaxKeys=20).get("Contents", [])
        stored = {
            (head.get("ServerSideEncryption"), head.get("SSEKMSKeyId"))
            for head in (s3.head_object(Bucket=bucket, Key=o["Key"]) for o in listed)
        }
        return {
            "keys": keys,
            "objects_checked": len(listed),
            "change_objects_under_target_key": stored == {("aws:kms", keys["target"])},
        }

    def _print_report(self) -> None:
        r = self.report
        if self.options.json_output:
            self.console.print_json(json.dumps(r))
            return
        table = Table(title="Rehearsal report", show_header=False, title_justify="left")
        table.add_column(style="bold")
        table.add_column()
        copy, live, pipe, ver = r["copy"], r["live_writes"], r["pipeline"], r["verify"]
        table.add_row("items seeded", f"{r['items_seeded']:,}")
        table.add_row(
            "bulk copy",
            f"{copy['written']:,} written, {copy['skipped_exists']:,} skipped (already replicated), "
            f"{copy['skipped_deleted']:,} skipped (deleted meanwhile), {copy['items_per_second']} items/s",
        )
        table.add_row(
            "live writes",
            f"{live['total']:,} ({live['inserts']} inserts, {live['updates']} updates, {live['overwrites']} "
            f"overwrites, {live['deletes']} deletes, {live['reinserts']} re-inserts)",
        )
        table.add_row(
            "changes replicated",
            f"{pipe['changes_captured']:,} captured in {pipe['change_objects']:,} objects, "
            f"{pipe['changes_applied']:,} applied, {pipe['changes_stale']:,} stale skipped, "
            f"{pipe['changes_superseded']:,} superseded, {pipe['resurrections_prevented']} resurrections prevented",
        )
        table.add_row("lag", f"max {pipe['lag_max_ms'] / 1000:.2f}s, avg {pipe['lag_avg_ms'] / 1000:.2f}s")
        table.add_row("drain", f"{r['drain_seconds']}s after the application stopped")
        table.add_row("parked / dead-letter", str(pipe["parked"]))
        enc = r.get("encryption")
        if enc:
            table.add_row(
                "encryption",
                f"a customer managed key per account; {enc['objects_checked']} change objects checked: "
                + ("all SSE-KMS under the target account's key" if enc["change_objects_under_target_key"] else "NOT")
                + f" ({enc['keys']['target']})",
            )
        table.add_row(
            "verify",
            f"source {ver['source_items']:,} items, target {ver['target_items']:,} items, "
            f"mismatches = {ver['missing'] + ver['extra'] + ver['different'] + ver['untransformable']}",
        )
        back = r.get("rollback")
        if back:
            fwd, rev = back["forward"], back["reverse"]
            table.add_row(
                "rollback window",
                f"{back['writes_to_target']:,} writes to the target and {back['writes_to_source']:,} to the source "
                f"on the same keys; forward {fwd['applied']:,} applied / {fwd['stale']:,} stale, reverse "
                f"{rev['applied']:,} applied / {rev['stale']:,} stale (echoes skipped)",
            )
            rv = back["verify"]
            table.add_row(
                "after rollback window",
                f"{'equal' if rv['equal'] else 'DIFFERENT'} ({rv['source_items']:,} items); both pipelines "
                f"{'idle, nothing echoing' if back['quiet_after_drain'] else 'STILL WRITING'}",
            )
        table.add_row("total time", f"{r['total_seconds']}s")
        self.console.print(table)
        if r["ok"]:
            self.console.print("[bold green]Rehearsal passed:[/] the target table equals the source table.")
        else:
            self.console.print("[bold red]Rehearsal FAILED:[/] see the differences above.")
            for sample_diff in ver["samples"]:
                self.console.print(f"  {sample_diff}")

    def _serve(self, emu: Sandbox, deployment: Deployment) -> None:
        opts = self.options
        outputs = deployment.outputs
        info = {
            "endpoint_url": emu.endpoint_url,
            "region": opts.region,
            "credentials": {"aws_access_key_id": "test", "aws_secret_access_key": "test"},
            "source_account_id": opts.source_account,
            "target_account_id": opts.target_account,
            "source_role_arn": deployment.source_role_arn,
            "target_role_arn": deployment.target_role_arn,
            "external_id": opts.external_id,
            "source_table": deployment.source_table,
            "target_table": deployment.target_table,
            "ledger_table": outputs.get("ledger_table_name"),
            "change_bucket": outputs.get("change_bucket_name"),
            "queue_url": outputs.get("queue_url"),
        }
        print(json.dumps(info), flush=True)  # the one machine-readable line --serve promises
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        stop.wait()

    def _maybe_destroy(self, tf: Terraform) -> None:
        if self.options.destroy:
            t = time.monotonic()
            tf.destroy()
            self.step("terraform destroy", t)


def _traffic_main(results: multiprocessing.Queue[Any], **kwargs: Any) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when the application stops
    counts = sample.run_traffic(**kwargs)
    results.put({**counts.as_dict(), "error_samples": counts.error_samples})


def _batches(items: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    from dynamigrate.ddbjson import item_size  # noqa: PLC0415

    batch: list[dict[str, Any]] = []
    size = 0
    for item in items:
        bytes_ = item_size(item)
        if batch and (len(batch) == 25 or size + bytes_ > MAX_BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += bytes_
    if batch:
        yield batch


def _count_objects(s3: Any, bucket: str, prefix: str) -> int:
    total = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        total += int(page.get("KeyCount", 0))
    return total


def _metric(cloudwatch: Any, name: str, statistic: str) -> float:
    """Aggregate one metric of the Dynamigrate namespace over every dimension set, last hour."""
    end = time.time() + 60
    values: list[float] = []
    dimension_sets = {
        tuple(sorted((d["Name"], d["Value"]) for d in metric.get("Dimensions", [])))
        for page in cloudwatch.get_paginator("list_metrics").paginate(Namespace="Dynamigrate", MetricName=name)
        for metric in page.get("Metrics", [])
    }
    for dimensions in dimension_sets:
        points = cloudwatch.get_metric_statistics(
            Namespace="Dynamigrate",
            MetricName=name,
            Dimensions=[{"Name": n, "Value": v} for n, v in dimensions],
            StartTime=end - 3600,
            EndTime=end,
            Period=3600,
            Statistics=[statistic],
        ).get("Datapoints", [])
        values.extend(float(p[statistic]) for p in points)
    if not values:
        return 0.0
    if statistic == "Sum":
        return sum(values)
    if statistic == "Maximum":
        return max(values)
    return sum(values) / len(values)


def run(options: DemoOptions, console: Console | None = None) -> int:
    # With --json or --serve, stdout carries only the machine-readable output.
    return Rehearsal(options, console or Console(stderr=options.json_output or options.serve)).run()
