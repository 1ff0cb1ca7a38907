"""`dynamigrate demo-rekey`: rehearse the seed's move to a new key schema on the embedded emulator.

``Summaries(pub, external_id)`` to ``Articles(guid)`` in one account, the
seed's five steps with the application live:

1. start the emulator; create ``Summaries`` with N articles and its stream,
   and an empty ``Articles``; ``terraform apply`` the repository's own
   ``examples/rekey`` (replication with the key mapping, and the write guard);
2. legacy writers still use ``Summaries`` for a moment (edits, deletes, new
   stories): replication carries them into ``Articles`` under the new key and
   the guard counts them as expected writes;
3. the writers move: ``writes_moved_at`` is applied to the guard, and an
   application process reads and writes only through ``dynamigrate.dual``
   (reads with fallback, updates with copy-on-update, new articles, deletes)
   while ``backfill --transform`` copies every remaining item;
4. the application stops, the pipeline drains, ``verify --transform
   --dual-access`` compares the tables, and every key the application wrote is
   checked against the application's own record of what it wrote;
5. cleanup: reads in ``strict`` mode must all hit the new table; the guard must
   have seen no foreign write; ``retire-table`` snapshots the old table and,
   in its second sitting, deletes it.

Exit 0 only if verify finds zero differences, the application's writes are all
there, nothing was parked, and the guard saw no foreign writes after the move.
"""

from __future__ import annotations

import math
import random
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from rich.table import Table

from dynamigrate.backfill import backfill
from dynamigrate.cli.demo import DemoError, DemoOptions, Deployment, Rehearsal, _batches, _metric
from dynamigrate.cli.progress import rate_advancer
from dynamigrate.cli.terraform import Terraform, emulator_override
from dynamigrate.dual import COPIES, FALLBACK_READS, STRICT_MISSES, DualTable
from dynamigrate.retire import Retirement, RetirePlan
from dynamigrate.transforms import load
from dynamigrate.verify import verify

if TYPE_CHECKING:
    import multiprocessing
    from contextlib import ExitStack
    from multiprocessing.synchronize import Event

    from mypy_boto3_dynamodb import DynamoDBClient

    from dynamigrate.cli.demo import Sandbox

OLD, NEW = "Summaries", "Articles"
PUBLICATIONS = 17


def old_key(index: int) -> dict[str, str]:
    """The seed's old key: a publication, then a story id (plain values, as the application holds them)."""
    return {"pub": f"pub-{index % PUBLICATIONS:02d}", "external_id": f"story-{index:06d}"}


def summary(index: int, headline: str) -> dict[str, Any]:
    return {**{k: {"S": v} for k, v in old_key(index).items()}, "headline": {"S": headline}, "clicks": {"N": "0"}}


@dataclass
class RekeyOptions(DemoOptions):
    items: int = 2000
    name: str = "articles-rekey"
    target_account: str = "111111111111"  # one account: the old and the new table side by side
    work_dir: Path = Path("build/demo-rekey")
    example_dir: Path = Path("examples/rekey")
    legacy_share: float = 0.05  # of the items, edited / deleted / added by legacy writers before the move


@dataclass
class Legacy:
    edited: int = 0
    deleted: set[int] = field(default_factory=set)
    added: list[int] = field(default_factory=list)


class RekeyRehearsal(Rehearsal):
    options: RekeyOptions

    # ------------------------------------------------------------- deploy --

    def deploy(self, emu: Sandbox, stack: ExitStack) -> Deployment:
        opts = self.options
        account = opts.source_account
        t = time.monotonic()
        role = self._bootstrap_account(emu, account)
        client = emu.session(account).client("dynamodb")
        deployment = Deployment(role, role, client, client, source_table=OLD, target_table=NEW)
        self._create_old_table(client)
        client.create_table(
            TableName=NEW,
            KeySchema=[{"AttributeName": "guid", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "guid", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        self.step(f"{OLD}(pub, external_id) loaded, {NEW}(guid) created", t, f"{opts.items} articles")
        t = time.monotonic()
        deployment.terraform = self.terraform(emu, deployment)
        deployment.terraform.init()
        deployment.terraform.apply()
        deployment.outputs = deployment.terraform.outputs()
        stack.callback(self._maybe_destroy, deployment.terraform)
        self.step(f"terraform apply {opts.example_dir}", t, "replication with the key mapping, write guard")
        return deployment

    def _create_old_table(self, client: DynamoDBClient) -> None:
        client.create_table(
            TableName=OLD,
            KeySchema=[
                {"AttributeName": "pub", "KeyType": "HASH"},
                {"AttributeName": "external_id", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pub", "AttributeType": "S"},
                {"AttributeName": "external_id", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        for batch in _batches(summary(i, f"headline {i}") for i in range(self.options.items)):
            pending: dict[str, Any] = {OLD: [{"PutRequest": {"Item": item}} for item in batch]}
            while pending:
                pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
        client.update_table(
            TableName=OLD, StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
        )

    def terraform_variables(self, deployment: Deployment, writes_moved_at: str | None = None) -> dict[str, Any]:
        opts = self.options
        return {
            "name": opts.name,
            "region": opts.region,
            "account_id": opts.source_account,
            "role_arn": deployment.source_role_arn,
            "external_id": opts.external_id,
            "old_table_name": OLD,
            "new_table_name": NEW,
            "writes_moved_at": writes_moved_at,
            "lambda_package_path": str(opts.lambda_zip.resolve()),
            "force_destroy": True,
        }

    def terraform(self, emu: Sandbox, deployment: Deployment, variables: dict[str, Any] | None = None) -> Terraform:
        opts = self.options
        env = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": opts.region}
        return Terraform.prepare(
            opts.example_dir,
            (opts.work_dir / "terraform").resolve(),
            variables if variables is not None else self.terraform_variables(deployment),
            emulator_override(emu.endpoint_url, (None,)),
            env={**env, "AWS_DEFAULT_REGION": opts.region},
        )

    # ------------------------------------------------------------ migrate --

    def migrate(self, emu: Sandbox, deployment: Deployment, stack: ExitStack) -> dict[str, Any]:
        opts = self.options
        client, outputs = deployment.source, deployment.outputs
        mapping = str(outputs["transform"])
        ledger = str(outputs["ledger_table_name"])

        t = time.monotonic()
        legacy = self._legacy_writes(client)
        moved = self._declare_moved(emu, deployment)
        self.step(
            "legacy writers used the old table, then moved",
            t,
            f"{legacy.edited} edits, {len(legacy.deleted)} deletes, {len(legacy.added)} new; writes_moved_at {moved}",
        )

        stop, results, proc = self._start_application(
            emu,
            _application_main,
            ledger=ledger,
            mapping=mapping,
            known=[i for i in range(opts.items) if i not in legacy.deleted] + legacy.added,
            first_new=opts.items + len(legacy.added),
        )
        started = time.monotonic()
        stack.callback(self._stop_process, proc, stop)
        stop.wait(min(3.0, opts.live_seconds / 4))
        t = time.monotonic()
        copy = self._copy_rekey(deployment, ledger, mapping)
        self.step(
            "bulk copy into the new key schema while the application uses DualTable",
            t,
            f"{copy['written']} written, {copy['skipped_exists']} already there, "
            f"{copy['skipped_deleted']} deleted meanwhile",
        )
        remaining = opts.live_seconds - (time.monotonic() - started)
        if remaining > 0:
            stop.wait(remaining)
        stop.set()
        app: dict[str, Any] = self._collect_application(proc, results)
        self.step("application stopped", started, f"{app['operations']} DualTable calls")

        t = time.monotonic()
        if not emu.wait_idle(timeout=opts.drain_timeout):
            raise DemoError(f"the pipeline did not drain within {opts.drain_timeout:.0f}s: {emu.stats()}")
        self.step("pipeline drained", t)

        t = time.monotonic()
        result = self._verify_rekey(deployment, ledger, mapping)
        wrong = self._check_application_writes(client, app["model"])
        self.step(
            "verify with the transform, and the application's own writes",
            t,
            "equal" if result["equal"] else "DIFFERENT",
        )

        t = time.monotonic()
        cleanup = self._cleanup(emu, deployment, ledger=ledger, mapping=mapping, app=app, legacy=legacy)
        self.step("cleanup: strict reads, guard, retire the old table", t, cleanup["retire"].get("status", ""))

        pipeline = self._pipeline_figures(emu, outputs)
        ok = (
            result["equal"]
            and not wrong
            and not app["errors"]
            and copy["reconciled"]
            and not copy["failed"]
            and not pipeline["parked"]
            and cleanup["foreign_writes"] == 0
            and cleanup["strict_misses"] == 0
        )
        app.pop("model")
        return {
            "ok": bool(ok),
            "legacy": {"edited": legacy.edited, "deleted": len(legacy.deleted), "added": len(legacy.added)},
            "copy": copy,
            "application": app,
            "application_writes_wrong": wrong,
            "pipeline": pipeline,
            "verify": result,
            "cleanup": cleanup,
            "emulator": emu.stats(),
        }

    def _legacy_writes(self, client: DynamoDBClient) -> Legacy:
        """Writers not yet moved: edits, deletes and new stories in the old table, replicated with the mapping."""
        opts = self.options
        rng = random.Random(opts.seed)
        legacy = Legacy()
        count = max(1, int(opts.items * opts.legacy_share))
        for index in rng.sample(range(opts.items), min(opts.items, 2 * count)):
            if rng.random() < 0.7:
                client.put_item(TableName=OLD, Item=summary(index, f"legacy edit {index}"))
                legacy.edited += 1
            else:
                client.delete_item(TableName=OLD, Key={k: {"S": v} for k, v in old_key(index).items()})
                legacy.deleted.add(index)
        for index in range(opts.items, opts.items + count):
            client.put_item(TableName=OLD, Item=summary(index, f"legacy story {index}"))
            legacy.added.append(index)
        return legacy

    def _declare_moved(self, emu: Sandbox, deployment: Deployment) -> str:
        """Apply writes_moved_at to the guard: the next whole second after the legacy writers' last write."""
        moved = math.floor(time.time()) + 2
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moved))
        assert deployment.terraform is not None
        tf = self.terraform(emu, deployment, self.terraform_variables(deployment, stamp))
        tf.apply()
        time.sleep(max(0.0, moved - time.time()))
        return stamp

    def _copy_rekey(self, deployment: Deployment, ledger: str, mapping: str) -> dict[str, Any]:
        checkpoint = self.options.work_dir / "backfill-checkpoint.json"
        checkpoint.unlink(missing_ok=True)
        with self.progress() as bar:
            task = bar.add_task("bulk copy", total=None, rate="")
            report = backfill(
                deployment.source,
                deployment.target,
                OLD,
                self._rule(deployment),
                segments=self.options.segments,
                transform=load(mapping),
                progress=rate_advancer(bar, task),
                checkpoint=checkpoint,
            )
        return report.as_dict()

    def _verify_rekey(self, deployment: Deployment, ledger: str, mapping: str) -> dict[str, Any]:
        with self.progress() as bar:
            task = bar.add_task("verify", total=None, rate="")
            report = verify(
                deployment.source,
                deployment.target,
                OLD,
                NEW,
                source_key=("pub", "external_id"),
                target_key=("guid",),
                segments=self.options.segments,
                transform=load(mapping),
                progress=lambda n: bar.advance(task, n),
                ledger_table=ledger,
            )
        return report.as_dict()

    def _check_application_writes(self, client: DynamoDBClient, model: dict[str, Any]) -> int:
        """Every key the application wrote holds what it last wrote (or nothing, if it deleted it)."""
        wrong = 0
        for guid, expected in model.items():
            held = client.get_item(TableName=NEW, Key={"guid": {"S": guid}}, ConsistentRead=True).get("Item")
            if expected is None:
                wrong += held is not None
            elif (
                held is None or held.get("clicks") != {"N": str(expected[0])} or held.get("title") != {"S": expected[1]}
            ):
                wrong += 1
        return wrong

    def _cleanup(
        self, emu: Sandbox, deployment: Deployment, *, ledger: str, mapping: str, app: dict[str, Any], legacy: Legacy
    ) -> dict[str, Any]:
        opts = self.options
        session = emu.session(opts.source_account)
        client = deployment.source
        strict = DualTable.connect(
            client, table=NEW, old_table=OLD, ledger_table=ledger, transform=mapping, strict=True
        )
        model = app["model"]
        present = [guid for guid, expected in model.items() if expected is not None]
        rng = random.Random(opts.seed + 1)
        untouched = [i for i in range(opts.items) if i not in legacy.deleted]
        transform = load(mapping)
        probes = [{"guid": guid} for guid in rng.sample(present, min(50, len(present)))]
        for index in rng.sample(untouched, min(50, len(untouched))):
            guid = transform(summary(index, ""))["guid"]["S"]
            if model.get(guid, 0) is not None:
                probes.append({"guid": guid})
        for key in probes:
            strict.get_item(Key=key)
        cloudwatch = session.client("cloudwatch")
        foreign = int(_metric(cloudwatch, "ForeignWrites", "Sum"))
        seen = int(_metric(cloudwatch, "OldTableWrites", "Sum"))
        retire: dict[str, Any] = {}
        if foreign == 0:
            retirement = Retirement(
                client,
                session.client("lambda"),
                cloudwatch,
                RetirePlan(
                    table=OLD,
                    guard_function=str(deployment.outputs["write_guard_function_name"]),
                    migration=opts.name,
                    quiet_seconds=0,
                    snapshot="backup",
                ),
            )
            first = retirement.run()
            retire = {"snapshot": first.snapshot.get("backup_arn"), "status": "snapshot taken"}
            if not opts.destroy:  # terraform destroy reads the old table: keep it then
                retirement.plan.delete, retirement.plan.confirm = True, OLD
                retirement.plan.snapshot_ref = first.snapshot.get("backup_arn")
                retire["status"] = "deleted" if retirement.run().deleted else "kept"
        return {
            "strict_reads": len(probes),
            "strict_misses": strict.counters[STRICT_MISSES],
            "old_table_writes_before_move": seen,
            "foreign_writes": foreign,
            "retire": retire,
        }

    # ------------------------------------------------------------- report --

    def _print_report(self) -> None:
        r = self.report
        if self.options.json_output:
            import json  # noqa: PLC0415

            self.console.print_json(json.dumps(r))
            return
        table = Table(title="Rekey rehearsal report", show_header=False, title_justify="left")
        table.add_column(style="bold")
        table.add_column()
        copy, app, pipe, ver, clean = r["copy"], r["application"], r["pipeline"], r["verify"], r["cleanup"]
        legacy = r["legacy"]
        table.add_row("articles seeded", f"{r['items_seeded']:,} in {OLD}(pub, external_id)")
        table.add_row(
            "legacy writes (before the move)",
            f"{legacy['edited']} edits, {legacy['deleted']} deletes, {legacy['added']} new; guard counted "
            f"{clean['old_table_writes_before_move']} expected writes",
        )
        table.add_row(
            "application (DualTable)",
            f"{app['operations']:,} calls: {app['reads']} reads ({app['fallback_reads']} from the old table), "
            f"{app['updates']} updates ({app['copies']} copied first), {app['puts']} new, {app['deletes']} deletes",
        )
        table.add_row(
            "bulk copy",
            f"{copy['written']:,} written, {copy['skipped_exists']:,} already there, "
            f"{copy['skipped_deleted']:,} deleted meanwhile, {copy['parked']} parked",
        )
        table.add_row(
            "replication (mapped)",
            f"{pipe['changes_applied']:,} applied, {pipe['changes_stale']:,} stale skipped",
        )
        table.add_row(
            "verify",
            f"{ver['matched']:,} matched, {sum(ver.get('application_owned', {}).values())} application keys, "
            f"mismatches = {ver['missing'] + ver['extra'] + ver['different'] + ver['untransformable']}; "
            f"application writes wrong = {r['application_writes_wrong']}",
        )
        table.add_row(
            "cleanup",
            f"{clean['strict_reads']} strict reads, {clean['strict_misses']} misses; "
            f"foreign writes {clean['foreign_writes']}; {OLD}: {clean['retire'].get('status', 'kept')}",
        )
        table.add_row("total time", f"{r['total_seconds']}s")
        self.console.print(table)
        if r["ok"]:
            self.console.print(f"[bold green]Rehearsal passed:[/] {NEW} holds every article under its new key.")
        else:
            self.console.print("[bold red]Rehearsal FAILED:[/] see the figures above.")
            for sample_diff in ver["samples"]:
                self.console.print(f"  {sample_diff}")


def _application_main(results: multiprocessing.Queue[Any], **kwargs: Any) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when the application stops
    results.put(run_application(**kwargs))


def run_application(
    *,
    endpoint_url: str,
    credentials: dict[str, str],
    region: str,
    ledger: str,
    mapping: str,
    known: list[int],
    first_new: int,
    seed: int,
    rate: float,
    stop: Event,
) -> dict[str, Any]:
    """The moved application: only DualTable calls, at ``rate`` per second, recording what it wrote."""
    client = boto3.Session(
        aws_access_key_id=credentials["aws_access_key_id"],
        aws_secret_access_key=credentials["aws_secret_access_key"],
        aws_session_token=credentials.get("aws_session_token"),
        region_name=region,
    ).client("dynamodb", endpoint_url=endpoint_url, config=Config(retries={"mode": "adaptive", "max_attempts": 10}))
    table = DualTable.connect(client, table=NEW, old_table=OLD, ledger_table=ledger, transform=mapping)
    transform = load(mapping)
    rng = random.Random(seed * 31 + 7)
    live = list(known)
    model: dict[str, tuple[int, str] | None] = {}  # guid -> (clicks, title) last written, None: deleted
    counts = {"operations": 0, "reads": 0, "updates": 0, "puts": 0, "deletes": 0, "errors": 0}
    samples: list[str] = []
    next_new = first_new
    interval = 1.0 / rate if rate > 0 else 0.0
    started = time.monotonic()
    while not stop.is_set():
        index = rng.choice(live)
        guid = transform(summary(index, ""))["guid"]["S"]
        key, before = {"guid": guid}, old_key(index)
        roll = rng.random()
        try:
            if roll < 0.4:
                table.get_item(Key=key, OldKey=before)
                counts["reads"] += 1
            elif roll < 0.8:
                clicks = (model.get(guid) or (0, ""))[0] + 1
                title = f"edited {counts['operations']}"
                table.update_item(
                    Key=key,
                    OldKey=before,
                    UpdateExpression="SET title = :t ADD clicks :one",
                    ExpressionAttributeValues={":t": title, ":one": 1},
                )
                model[guid] = (clicks, title)
                counts["updates"] += 1
            elif roll < 0.9:
                index, next_new = next_new, next_new + 1
                item = transform(summary(index, ""))
                title = f"new story {index}"
                table.put_item(Item={"guid": item["guid"]["S"], **old_key(index), "title": title, "clicks": 0})
                model[item["guid"]["S"]] = (0, title)
                live.append(index)
                counts["puts"] += 1
            else:
                table.delete_item(Key=key, OldKey=before)
                model[guid] = None
                live.remove(index)
                counts["deletes"] += 1
        except Exception as exc:
            counts["errors"] += 1
            if len(samples) < 5:
                samples.append(f"{type(exc).__name__}: {exc}")
        counts["operations"] += 1
        if not live:
            break
        delay = started + counts["operations"] * interval - time.monotonic()
        if delay > 0:
            stop.wait(delay)
    return {
        **counts,
        "fallback_reads": table.counters[FALLBACK_READS],
        "copies": table.counters[COPIES],
        "error_samples": samples,
        "model": model,
    }
