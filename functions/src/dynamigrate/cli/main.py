"""The `dynamigrate` command line."""

from __future__ import annotations

import json
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console

from dynamigrate import __version__
from dynamigrate.accounts import Account
from dynamigrate.apply import DeploymentError
from dynamigrate.cli.progress import progress_bar, rate_advancer
from dynamigrate.migration import STEPS

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from dynamigrate.capacity import CapacityLimiter
    from dynamigrate.migration import Manifest
    from dynamigrate.replay import Replayer
    from dynamigrate.rule import Transform

app = typer.Typer(
    name="dynamigrate",
    help="Move live DynamoDB tables across AWS accounts and key schemas with zero downtime.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)

# ------------------------------------------------------------ shared options --

EndpointOpt = Annotated[
    str | None,
    typer.Option(
        "--endpoint-url", envvar="AWS_ENDPOINT_URL", help="AWS endpoint (the emulator or LocalStack); default: AWS."
    ),
]
RegionOpt = Annotated[
    str | None, typer.Option("--region", envvar=["AWS_REGION", "AWS_DEFAULT_REGION"], help="AWS region.")
]
SourceRoleOpt = Annotated[
    str | None, typer.Option("--source-role-arn", help="Role to assume in the source account (read access).")
]
TargetRoleOpt = Annotated[
    str | None, typer.Option("--target-role-arn", help="Role to assume in the target account (write access).")
]
ExternalIdOpt = Annotated[
    str | None,
    typer.Option(
        "--external-id", envvar="DYNAMIGRATE_EXTERNAL_ID", help="ExternalId the roles' trust policies require."
    ),
]
SourceProfileOpt = Annotated[str | None, typer.Option("--source-profile", help="AWS profile for the source account.")]
TargetProfileOpt = Annotated[str | None, typer.Option("--target-profile", help="AWS profile for the target account.")]
SegmentsOpt = Annotated[int, typer.Option("--segments", min=1, max=1000, help="Parallel scan segments.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print a JSON summary on stdout.")]
LedgerOpt = Annotated[str, typer.Option(help="The replicator's ledger table (Terraform output ledger_table_name).")]
VersionAttributeOpt = Annotated[
    str | None, typer.Option(help="The application's version attribute, if the pipeline uses one.")
]
TransformOpt = Annotated[
    str | None,
    typer.Option(
        help="Item transform for a new key schema: package.module:function, a JSON key mapping"
        " or @mapping.json (docs/transforms.md)."
    ),
]
ThreadsOpt = Annotated[int, typer.Option(min=1, max=256, help="Concurrent write requests.")]
ReadPercentOpt = Annotated[
    float, typer.Option(min=1, max=100, help="Share of the source table's read capacity to use.")
]
WritePercentOpt = Annotated[
    float, typer.Option(min=1, max=100, help="Share of the target table's write capacity to use.")
]
ReadUnitsOpt = Annotated[
    float | None, typer.Option(min=1, help="Read units per second to use (overrides --read-percent).")
]
WriteUnitsOpt = Annotated[
    float | None, typer.Option(min=1, help="Write units per second to use (overrides --write-percent).")
]
UnlimitedOpt = Annotated[bool, typer.Option("--unlimited", help="No rate limit (rehearsals on an emulator only).")]


def _accounts(
    *,
    endpoint_url: str | None,
    region: str | None,
    source_role_arn: str | None,
    target_role_arn: str | None,
    external_id: str | None,
    source_profile: str | None,
    target_profile: str | None,
) -> tuple[Account, Account]:
    if endpoint_url:
        os.environ["AWS_ENDPOINT_URL"] = endpoint_url
    source = Account(role_arn=source_role_arn, external_id=external_id, profile=source_profile, region=region)
    target = Account(role_arn=target_role_arn, external_id=external_id, profile=target_profile, region=region)
    return source, target


def _describe(account: Account, table: str, role: str) -> dict[str, Any]:
    try:
        return dict(account.dynamodb().describe_table(TableName=table)["Table"])
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code == "ResourceNotFoundException":
            raise typer.BadParameter(
                f"{role} table {table!r} does not exist in account/region {account.region}: check the name, "
                f"the region and the {role} role or profile"
            ) from exc
        raise


def _emit(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    else:
        for key, value in data.items():
            if key not in {"problems", "samples"}:
                console.print(f"[bold]{key}[/]: {value}")
        for problem in data.get("problems") or data.get("samples") or []:
            console.print(f"  [yellow]{problem}[/]")


def _limiters(
    source: dict[str, Any],
    target: dict[str, Any],
    read_percent: float,
    write_percent: float,
    read_units: float | None,
    write_units: float | None,
    *,
    unlimited: bool,
) -> tuple[CapacityLimiter, CapacityLimiter]:
    """Rate limiters for the source's reads and the target's writes, as shares of each table's capacity."""
    from dynamigrate.capacity import CapacityLimiter, table_capacity  # noqa: PLC0415

    if unlimited:
        return CapacityLimiter(None), CapacityLimiter(None)
    read_capacity, write_capacity = table_capacity(source), table_capacity(target)
    reads = CapacityLimiter(read_units or read_capacity.share(read_percent, 100)[0])
    writes = CapacityLimiter(write_units or write_capacity.share(100, write_percent)[1])
    console.print(
        f"rate limits: reads {reads.rate:,.0f} units/s ({read_capacity.basis} of the source), "
        f"writes {writes.rate:,.0f} units/s ({write_capacity.basis} of the target)"
    )
    return reads, writes


def _transform(spec: str | None) -> Transform | None:
    """The user's item transform (``package.module:function``), or a usage error naming what is wrong."""
    from dynamigrate import transforms  # noqa: PLC0415

    try:
        return transforms.load(spec) if spec else None
    except transforms.TransformLoadError as exc:
        raise typer.BadParameter(str(exc), param_hint="--transform") from exc


@contextmanager
def _resumable(what: str, path: Path) -> Iterator[None]:
    """Turn a bulk job's stops into messages that say its progress is in ``path`` and how to resume."""
    from dynamigrate.backfill import CheckpointMismatchError, Interrupted  # noqa: PLC0415

    try:
        yield
    except CheckpointMismatchError as exc:
        raise typer.BadParameter(str(exc), param_hint="--checkpoint") from exc
    except Interrupted as exc:
        console.print(f"[yellow]{what} {exc}[/]: progress is saved in {path}; run the same command to resume")
        raise typer.Exit(130) from exc
    except ClientError:
        console.print(f"[yellow]{what} stopped[/]: progress is saved in {path}; fix the cause, then resume")
        raise


# ------------------------------------------------------------------ commands --


@app.command()
def emulator(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 4566,
    region: Annotated[str, typer.Option(help="Default region.")] = "us-east-1",
    work_dir: Annotated[Path, typer.Option(help="Function code and logs.")] = Path("build/emulator"),
) -> None:
    """Serve the embedded AWS emulator (moto + local Lambda runner) in the foreground."""
    from dynamigrate.emulator import serve  # noqa: PLC0415 - moto is optional

    serve(host=host, port=port, region=region, work_dir=work_dir.resolve())


@app.command()
def demo(
    items: Annotated[int, typer.Option(min=1, help="Items in the source table before the migration.")] = 3000,
    seed: Annotated[int, typer.Option(help="Random seed for the data and the live traffic.")] = 7,
    serve: Annotated[
        bool, typer.Option("--serve", help="Keep the rehearsal up after the copy and print its endpoints as JSON.")
    ] = False,
    rate: Annotated[float, typer.Option(min=0, help="Live application writes per second.")] = 40.0,
    live_seconds: Annotated[float, typer.Option(min=1, help="Seconds the live application keeps writing.")] = 20.0,
    segments: SegmentsOpt = 4,
    version_attribute: Annotated[
        str,
        typer.Option(
            help="Order by this item attribute (the sample items' last-modified stamp); empty: by stream sequence "
            "numbers (then no rollback rehearsal)."
        ),
    ] = "updated_at",
    rollback: Annotated[
        bool,
        typer.Option(
            "--rollback/--no-rollback",
            help="Deploy the rollback pipeline and end with a rollback window: writes in both accounts converge.",
        ),
    ] = True,
    kms: Annotated[
        bool,
        typer.Option(
            "--kms/--no-kms",
            help="Create a customer managed key in each account (create_kms_keys): change objects cross accounts "
            "encrypted with the target account's key.",
        ),
    ] = True,
    example_dir: Annotated[Path, typer.Option(help="Terraform example to apply.")] = Path("examples/cross-account"),
    lambda_zip: Annotated[Path, typer.Option(help="Lambda package built by `make build`.")] = Path(
        "dist/dynamigrate-lambda.zip"
    ),
    work_dir: Annotated[Path, typer.Option(help="Working folder (Terraform state, logs).")] = Path("build/demo"),
    destroy: Annotated[bool, typer.Option("--destroy", help="terraform destroy the pipeline at the end.")] = False,
    localstack: Annotated[
        str | None,
        typer.Option(help="Rehearse on the LocalStack at this URL (needs Docker) instead of the embedded emulator."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Rehearse a whole cross-account migration on the embedded emulator (or LocalStack)."""
    from dynamigrate.cli.demo import DemoError, DemoOptions, run  # noqa: PLC0415
    from dynamigrate.cli.terraform import TerraformError  # noqa: PLC0415

    options = DemoOptions(
        items=items,
        seed=seed,
        serve=serve,
        rate=rate,
        live_seconds=live_seconds,
        segments=segments,
        version_attribute=version_attribute or None,
        rollback=rollback and bool(version_attribute),
        kms=kms,
        example_dir=example_dir,
        lambda_zip=lambda_zip,
        work_dir=work_dir,
        destroy=destroy,
        json_output=as_json,
        localstack=localstack,
    )
    try:
        code = run(options)
    except (DemoError, TerraformError) as exc:
        console.print(f"[bold red]demo failed:[/] {exc}")
        raise typer.Exit(1) from exc
    raise typer.Exit(code)


@app.command("demo-rekey")
def demo_rekey(
    items: Annotated[int, typer.Option(min=1, help="Articles in the old table before the migration.")] = 2000,
    seed: Annotated[int, typer.Option(help="Random seed for the data and the application.")] = 7,
    rate: Annotated[float, typer.Option(min=0, help="Application calls (DualTable) per second.")] = 40.0,
    live_seconds: Annotated[float, typer.Option(min=1, help="Seconds the application keeps running.")] = 20.0,
    segments: SegmentsOpt = 4,
    example_dir: Annotated[Path, typer.Option(help="Terraform example to apply.")] = Path("examples/rekey"),
    lambda_zip: Annotated[Path, typer.Option(help="Lambda package built by `make build`.")] = Path(
        "dist/dynamigrate-lambda.zip"
    ),
    work_dir: Annotated[Path, typer.Option(help="Working folder (Terraform state, logs).")] = Path("build/demo-rekey"),
    destroy: Annotated[
        bool, typer.Option("--destroy", help="terraform destroy at the end (the old table is then kept).")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Rehearse the seed's move to a new key schema (Summaries to Articles) on the embedded emulator."""
    from dynamigrate.cli.demo import DemoError  # noqa: PLC0415
    from dynamigrate.cli.rekey import RekeyOptions, RekeyRehearsal  # noqa: PLC0415
    from dynamigrate.cli.terraform import TerraformError  # noqa: PLC0415

    options = RekeyOptions(
        items=items,
        seed=seed,
        rate=rate,
        live_seconds=live_seconds,
        segments=segments,
        example_dir=example_dir,
        lambda_zip=lambda_zip,
        work_dir=work_dir,
        destroy=destroy,
        json_output=as_json,
    )
    try:
        code = RekeyRehearsal(options, Console(stderr=as_json)).run()
    except (DemoError, TerraformError) as exc:
        console.print(f"[bold red]demo-rekey failed:[/] {exc}")
        raise typer.Exit(1) from exc
    raise typer.Exit(code)


@app.command()
def backfill(
    source_table: Annotated[str, typer.Option(help="Table to copy from (source account).")],
    target_table: Annotated[str, typer.Option(help="Table to copy into (target account).")],
    ledger_table: LedgerOpt,
    version_attribute: VersionAttributeOpt = None,
    segments: SegmentsOpt = 8,
    threads: ThreadsOpt = 16,
    read_percent: ReadPercentOpt = 50.0,
    write_percent: WritePercentOpt = 50.0,
    read_units: ReadUnitsOpt = None,
    write_units: WriteUnitsOpt = None,
    unlimited: UnlimitedOpt = False,
    checkpoint: Annotated[
        Path | None,
        typer.Option(help="Checkpoint file; default: dynamigrate-backfill-SOURCE-TARGET.json in this folder."),
    ] = None,
    restart: Annotated[
        bool, typer.Option("--restart", help="Discard the checkpoint and copy from the beginning.")
    ] = False,
    transform: TransformOpt = None,
    report: Annotated[Path | None, typer.Option(help="Write the JSON summary (with parked/failed keys) here.")] = None,
    endpoint_url: EndpointOpt = None,
    region: RegionOpt = None,
    source_role_arn: SourceRoleOpt = None,
    target_role_arn: TargetRoleOpt = None,
    external_id: ExternalIdOpt = None,
    source_profile: SourceProfileOpt = None,
    target_profile: TargetProfileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Copy every existing item, never overwriting a newer replicated change or resurrecting a delete.

    Resumable: killed at any point, the same command continues from its checkpoint.
    """
    from dynamigrate.backfill import backfill as run_backfill  # noqa: PLC0415
    from dynamigrate.rule import TableSchema, VersionRule  # noqa: PLC0415

    source, target = _accounts(
        endpoint_url=endpoint_url,
        region=region,
        source_role_arn=source_role_arn,
        target_role_arn=target_role_arn,
        external_id=external_id,
        source_profile=source_profile,
        target_profile=target_profile,
    )
    source_desc = _describe(source, source_table, "source")
    target_desc = _describe(target, target_table, "target")
    rule = VersionRule(
        target=TableSchema.from_description(target_desc), ledger_table=ledger_table, version_attribute=version_attribute
    )
    item_transform = _transform(transform)
    source_schema = TableSchema.from_description(source_desc)
    if item_transform is None and source_schema.key_types != rule.target.key_types:
        raise typer.BadParameter(
            f"key schemas differ: source {source_schema.key_types} vs target {rule.target.key_types}; "
            "pass --transform (see the rekey runbook)"
        )
    _describe(target, ledger_table, "ledger")
    reads, writes = _limiters(
        source_desc, target_desc, read_percent, write_percent, read_units, write_units, unlimited=unlimited
    )
    path = checkpoint or Path(f"dynamigrate-backfill-{source_table}-{target_table}.json")
    if restart:
        path.unlink(missing_ok=True)
    elif path.exists():
        console.print(f"resuming from checkpoint {path}")

    def capacity(elapsed: float) -> str:
        return f"{reads.consumed / elapsed:,.0f} RCU/s {writes.consumed / elapsed:,.0f} WCU/s"

    with _resumable("bulk copy", path), progress_bar(console) as progress:
        task = progress.add_task("bulk copy", total=source_desc.get("ItemCount") or None, rate="")
        result = run_backfill(
            source.dynamodb(),
            target.bulk_writer(),
            source_table,
            rule,
            segments=segments,
            threads=threads,
            transform=item_transform,
            transform_name=transform or "",
            progress=rate_advancer(progress, task, capacity),
            checkpoint=path,
            read_limiter=reads,
            write_limiter=writes,
        )
    summary = result.as_dict()
    summary["checkpoint"] = str(path)
    if report is not None:
        report.write_text(json.dumps(summary, indent=2))
    _emit(summary, as_json)
    if not result.ok:
        console.print(
            "[red]backfill incomplete:[/] parked or failed items are listed above (all of them in the checkpoint); "
            "after fixing the cause, rerun with --restart (copies skip what is already there)"
        )
        raise typer.Exit(1)


@app.command()
def plan(
    source_table: Annotated[str, typer.Option(help="Table to copy from (source account).")],
    target_table: Annotated[
        str | None, typer.Option(help="Table to copy into (target account); absent: it does not exist yet.")
    ] = None,
    read_percent: ReadPercentOpt = 50.0,
    write_percent: WritePercentOpt = 50.0,
    read_units: ReadUnitsOpt = None,
    write_units: WriteUnitsOpt = None,
    endpoint_url: EndpointOpt = None,
    region: RegionOpt = None,
    source_role_arn: SourceRoleOpt = None,
    target_role_arn: TargetRoleOpt = None,
    external_id: ExternalIdOpt = None,
    source_profile: SourceProfileOpt = None,
    target_profile: TargetProfileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Estimate the time and cost of each bulk path for this table (see docs/bulk-paths.md)."""
    from rich.table import Table  # noqa: PLC0415

    from dynamigrate.plan import estimate  # noqa: PLC0415

    source, target = _accounts(
        endpoint_url=endpoint_url,
        region=region,
        source_role_arn=source_role_arn,
        target_role_arn=target_role_arn,
        external_id=external_id,
        source_profile=source_profile,
        target_profile=target_profile,
    )
    source_desc = _describe(source, source_table, "source")
    target_desc = _describe(target, target_table, "target") if target_table else {}
    reads, writes = _limiters(
        source_desc, target_desc, read_percent, write_percent, read_units, write_units, unlimited=False
    )
    assert reads.rate is not None and writes.rate is not None
    size, count = int(source_desc.get("TableSizeBytes", 0)), int(source_desc.get("ItemCount", 0))
    paths = estimate(size, count, write_rate=writes.rate, read_rate=reads.rate, target_exists=bool(target_table))
    summary = {
        "source_table": source_table,
        "table_size_bytes": size,
        "item_count": count,
        "read_units_per_second": reads.rate,
        "write_units_per_second": writes.rate,
        "paths": [p.as_dict() for p in paths],
        "prices": "us-east-1 on-demand list prices; see docs/bulk-paths.md",
    }
    if as_json:
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
        return
    table = Table(title=f"{source_table}: {size / 1024**3:,.2f} GB, {count:,} items (DescribeTable, ~6 h old)")
    for column in ("path", "read units", "write units", "USD", "hours", "note"):
        table.add_column(column)
    for path in paths:
        hours = f"{path.hours:,.1f}" if path.hours is not None else "AWS-side"
        table.add_row(
            path.path, f"{path.read_units:,.0f}", f"{path.write_units:,.0f}", f"{path.dollars:,.2f}", hours, path.note
        )
    Console().print(table)


@app.command("load-export")
def load_export(
    target_table: Annotated[str | None, typer.Option(help="Table to load into (target account).")] = None,
    ledger_table: Annotated[
        str | None, typer.Option(help="The replicator's ledger table (Terraform output ledger_table_name).")
    ] = None,
    state_machine: Annotated[
        str | None,
        typer.Option(
            help="Run the module's Distributed Map (Terraform output export_load_state_machine_arn) over the export "
            "instead of loading from this machine; needs --export-arn."
        ),
    ] = None,
    export_arn: Annotated[
        str | None, typer.Option(help="The export (ExportTableToPointInTime); its bucket is read from the source.")
    ] = None,
    bucket: Annotated[str | None, typer.Option(help="Bucket holding the export (instead of --export-arn).")] = None,
    manifest: Annotated[str | None, typer.Option(help="Key of the export's manifest-summary.json in --bucket.")] = None,
    version_attribute: VersionAttributeOpt = None,
    transform: TransformOpt = None,
    files_at_once: Annotated[int, typer.Option(min=1, max=64, help="Data files loaded in parallel.")] = 4,
    threads: ThreadsOpt = 16,
    write_percent: WritePercentOpt = 50.0,
    write_units: WriteUnitsOpt = None,
    unlimited: UnlimitedOpt = False,
    checkpoint: Annotated[
        Path | None, typer.Option(help="Checkpoint file; default: dynamigrate-load-EXPORTID.json in this folder.")
    ] = None,
    endpoint_url: EndpointOpt = None,
    region: RegionOpt = None,
    source_role_arn: SourceRoleOpt = None,
    target_role_arn: TargetRoleOpt = None,
    external_id: ExternalIdOpt = None,
    source_profile: SourceProfileOpt = None,
    target_profile: TargetProfileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Load an Export to S3 into a live table through the version rule, here or in the module's Distributed Map."""
    from dynamigrate.exportload import ExportFormatError, manifest_key, read_manifest  # noqa: PLC0415
    from dynamigrate.exportload import load_export as run_load  # noqa: PLC0415
    from dynamigrate.rule import TableSchema, VersionRule  # noqa: PLC0415

    if state_machine and not export_arn:
        raise typer.BadParameter("--state-machine needs --export-arn (the export to load)")
    if not state_machine and not (target_table and ledger_table):
        raise typer.BadParameter("pass --target-table and --ledger-table (or --state-machine to load in AWS)")
    source, target = _accounts(
        endpoint_url=endpoint_url,
        region=region,
        source_role_arn=source_role_arn,
        target_role_arn=target_role_arn,
        external_id=external_id,
        source_profile=source_profile,
        target_profile=target_profile,
    )
    if export_arn:
        described = source.client("dynamodb").describe_export(ExportArn=export_arn)["ExportDescription"]
        if described.get("ExportStatus") != "COMPLETED":
            raise typer.BadParameter(f"export {export_arn} is {described.get('ExportStatus')}: wait for COMPLETED")
        bucket = described["S3Bucket"]
        manifest = manifest_key(described.get("S3Prefix"), export_arn)
        if state_machine:
            _run_export_load(target, state_machine, str(export_arn), bucket, as_json)
            return
    if not bucket or not manifest or not target_table or not ledger_table:
        raise typer.BadParameter("pass --export-arn, or --bucket and --manifest (the export's manifest-summary.json)")
    target_desc = _describe(target, target_table, "target")
    _describe(target, ledger_table, "ledger")
    rule = VersionRule(TableSchema.from_description(target_desc), ledger_table, version_attribute=version_attribute)
    item_transform = _transform(transform)
    try:
        export = read_manifest(target.s3(), bucket, manifest)
    except ExportFormatError as exc:
        raise typer.BadParameter(str(exc)) from exc
    _, writes = _limiters(target_desc, target_desc, 100, write_percent, None, write_units, unlimited=unlimited)
    path = checkpoint or Path(f"dynamigrate-load-{export.export_arn.rsplit('/', 1)[-1]}.json")
    console.print(
        f"loading {export.item_count:,} items in {len(export.files)} files of {export.export_arn} "
        f"(export time {export.export_time:.0f}) into {target_table}"
    )
    try:
        with _resumable("load", path), progress_bar(console) as progress:
            task = progress.add_task("load export", total=export.item_count, rate="")
            result = run_load(
                target.s3(),
                target.bulk_writer(),
                export,
                rule,
                transform=item_transform,
                transform_name=transform or "",
                files_at_once=files_at_once,
                threads=threads,
                write_limiter=writes,
                checkpoint=path,
                progress=rate_advancer(progress, task),
            )
    except ExportFormatError as exc:
        console.print(f"[bold red]export problem:[/] {exc}")
        raise typer.Exit(1) from exc
    summary = {**result.as_dict(), "export_time": export.export_time, "checkpoint": str(path)}
    _emit(summary, as_json)
    if not result.ok:
        console.print("[red]load incomplete:[/] parked or failed items are listed above (all in the checkpoint)")
        raise typer.Exit(1)


def _run_export_load(target: Account, state_machine: str, export_arn: str, bucket: str, as_json: bool) -> None:
    """Start the export-load state machine, follow its files to the end, print its reconciled summary."""
    sfn = target.client("stepfunctions")
    export_id = export_arn.rsplit("/", 1)[-1]
    name = f"{export_id}-{int(time.time())}"[-80:]
    execution = sfn.start_execution(
        stateMachineArn=state_machine, name=name, input=json.dumps({"export_arn": export_arn})
    )["executionArn"]
    console.print(f"started {execution}")
    reports = f"export-loads/{export_id}/files/"
    s3 = target.s3()
    with progress_bar(console) as progress:
        task = progress.add_task("data files loaded", total=None, rate="")
        while True:
            described = sfn.describe_execution(executionArn=execution)
            listed = s3.list_objects_v2(Bucket=bucket, Prefix=reports).get("KeyCount", 0)
            progress.update(task, completed=listed)
            if described["status"] != "RUNNING":
                break
            time.sleep(2)
    if described["status"] != "SUCCEEDED":
        console.print(
            f"[bold red]export load {described['status']}:[/] {described.get('error', '')} {described.get('cause', '')}"
        )
        console.print("loading is idempotent: fix the cause and run the same command again")
        raise typer.Exit(1)
    summary = {**json.loads(described["output"]), "execution_arn": execution}
    _emit(summary, as_json)


@app.command()
def verify(
    source_table: Annotated[str, typer.Option(help="Source table.")],
    target_table: Annotated[str, typer.Option(help="Target table.")],
    segments: SegmentsOpt = 4,
    samples: Annotated[int, typer.Option(min=0, help="Differing keys to show.")] = 10,
    sample: Annotated[
        int, typer.Option(min=0, help="Check about this many random source items instead of the whole table.")
    ] = 0,
    repair: Annotated[
        bool,
        typer.Option("--repair", help="Rewrite differing items through the version rule (needs --ledger-table)."),
    ] = False,
    ledger_table: Annotated[
        str | None, typer.Option(help="The replicator's ledger table (for --repair and --dual-access).")
    ] = None,
    dual_access: Annotated[
        bool,
        typer.Option(
            "--dual-access",
            help="The application writes the target through dynamigrate.dual: keys it wrote or deleted there "
            "are its own (counted, not compared). Needs --ledger-table.",
        ),
    ] = False,
    version_attribute: VersionAttributeOpt = None,
    transform: Annotated[
        str | None,
        typer.Option(
            help="Item transform when the key schemas differ: package.module:function, a JSON mapping or @file.json."
        ),
    ] = None,
    endpoint_url: EndpointOpt = None,
    region: RegionOpt = None,
    source_role_arn: SourceRoleOpt = None,
    target_role_arn: TargetRoleOpt = None,
    external_id: ExternalIdOpt = None,
    source_profile: SourceProfileOpt = None,
    target_profile: TargetProfileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Compare the two tables item by item; exit 0 when equal, 1 when not."""
    from dynamigrate.rule import TableSchema, VersionRule  # noqa: PLC0415
    from dynamigrate.verify import verify as run_verify  # noqa: PLC0415

    if repair and not ledger_table:
        raise typer.BadParameter("--repair writes through the version rule: pass the pipeline's --ledger-table")
    if dual_access and not ledger_table:
        raise typer.BadParameter("--dual-access reads which keys the application owns from the --ledger-table")
    source, target = _accounts(
        endpoint_url=endpoint_url,
        region=region,
        source_role_arn=source_role_arn,
        target_role_arn=target_role_arn,
        external_id=external_id,
        source_profile=source_profile,
        target_profile=target_profile,
    )
    source_desc = _describe(source, source_table, "source")
    source_schema = TableSchema.from_description(source_desc)
    target_schema = TableSchema.from_description(_describe(target, target_table, "target"))
    item_transform = _transform(transform)
    rule = None
    if ledger_table and (repair or dual_access):
        _describe(target, ledger_table, "ledger")
    if repair and ledger_table:
        rule = VersionRule(target_schema, ledger_table, version_attribute=version_attribute)
    with progress_bar(console) as progress:
        task = progress.add_task("verify", total=None, rate="")
        result = run_verify(
            source.dynamodb(),
            target.dynamodb(),
            source_table,
            target_table,
            source_key=source_schema.key_names,
            target_key=target_schema.key_names,
            segments=segments,
            transform=item_transform,
            progress=rate_advancer(progress, task),
            repair=rule,
            sample=sample,
            item_count=int(source_desc.get("ItemCount") or 0),
            ledger_table=ledger_table if dual_access else None,
        )
    _emit(result.as_dict(samples), as_json)
    if repair and not result.equal:
        console.print("repairs were written through the version rule: run verify again to confirm")
    raise typer.Exit(0 if result.equal else 1)


WriterFunctionOpt = Annotated[
    str, typer.Option(help="The writer function (Terraform output writer_function_name); its settings are used.")
]
RetentionDaysOpt = Annotated[
    float | None,
    typer.Option(
        min=1 / 24,
        help="Ledger retention in days for this run, when changes parked as too old must apply after a check.",
    ),
]


def _replayer(
    writer_function: str,
    retention_days: float | None,
    account: Account,
    progress: Callable[[int], None] | None = None,
) -> Replayer:
    """A replayer configured like the deployed writer function (bucket, prefixes, tables, rule, transform)."""
    from dataclasses import replace  # noqa: PLC0415

    from dynamigrate.replay import Replayer, ReplayError, writer_config  # noqa: PLC0415
    from dynamigrate.writer import ChangeWriter  # noqa: PLC0415

    try:
        config = writer_config(account.lambda_(), writer_function)
    except ReplayError as exc:
        raise typer.BadParameter(str(exc), param_hint="--writer-function") from exc
    if retention_days is not None:
        config = replace(config, ledger_retention_seconds=int(retention_days * 86400))
    _describe(account, config.table, "target")
    writer = ChangeWriter(config, dynamodb=account.dynamodb, s3=account.s3, transform=_transform(config.transform))
    return Replayer(writer, account.s3, progress=progress)


@app.command()
def replay(
    writer_function: WriterFunctionOpt,
    since: Annotated[
        str, typer.Option("--from", help="Start of the window: RFC 3339 (2026-12-03T10:00:00Z) or an age (6h, 2d).")
    ],
    until: Annotated[str, typer.Option("--to", help="End of the window (exclusive); default: now.")] = "0s",
    retention_days: RetentionDaysOpt = None,
    endpoint_url: EndpointOpt = None,
    region: RegionOpt = None,
    target_role_arn: TargetRoleOpt = None,
    external_id: ExternalIdOpt = None,
    target_profile: TargetProfileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Re-apply the changes captured in a time window, through the version rule (safe to repeat)."""
    from dynamigrate.replay import parse_time  # noqa: PLC0415

    try:
        start, end = parse_time(since), parse_time(until)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    if end <= start:
        raise typer.BadParameter(f"--to ({end.isoformat()}) is not after --from ({start.isoformat()})")
    _, target = _accounts(
        endpoint_url=endpoint_url,
        region=region,
        source_role_arn=None,
        target_role_arn=target_role_arn,
        external_id=external_id,
        source_profile=None,
        target_profile=target_profile,
    )
    with progress_bar(console) as progress:
        task = progress.add_task("replay", total=None, rate="")
        replayer = _replayer(writer_function, retention_days, target, rate_advancer(progress, task))
        report = replayer.replay_window(start, end)
    _emit(report.as_dict(), as_json)
    raise typer.Exit(0 if report.ok else 1)


@app.command()
def redrive(
    writer_function: WriterFunctionOpt,
    what: Annotated[
        str,
        typer.Option(
            help="queue (the writer's dead-letter queue), parked (the dead-letter/ objects) or all.",
        ),
    ] = "all",
    retention_days: RetentionDaysOpt = None,
    endpoint_url: EndpointOpt = None,
    region: RegionOpt = None,
    target_role_arn: TargetRoleOpt = None,
    external_id: ExternalIdOpt = None,
    target_profile: TargetProfileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """After a fix, apply again what failed: the dead-letter queue's objects and the parked changes."""
    from dynamigrate.replay import ReplayError, dead_letter_queue_url  # noqa: PLC0415

    if what not in ("queue", "parked", "all"):
        raise typer.BadParameter("--what must be queue, parked or all")
    _, target = _accounts(
        endpoint_url=endpoint_url,
        region=region,
        source_role_arn=None,
        target_role_arn=target_role_arn,
        external_id=external_id,
        source_profile=None,
        target_profile=target_profile,
    )
    reports = []
    with progress_bar(console) as progress:
        task = progress.add_task("redrive", total=None, rate="")
        replayer = _replayer(writer_function, retention_days, target, rate_advancer(progress, task))
        if what in ("queue", "all"):
            try:
                queue_url = dead_letter_queue_url(target.lambda_(), target.sqs(), writer_function)
            except ReplayError as exc:
                raise typer.BadParameter(str(exc), param_hint="--writer-function") from exc
            reports.append(replayer.redrive_queue(target.sqs(), queue_url))
        if what in ("parked", "all"):
            reports.append(replayer.redrive_dead_letters())
    if as_json:
        _emit({"redrives": [r.as_dict() for r in reports]}, as_json=True)
    else:
        for report in reports:
            _emit(report.as_dict(), as_json=False)
    raise typer.Exit(0 if all(r.ok for r in reports) else 1)


MigrationFileOpt = Annotated[
    Path,
    typer.Option(
        "--migration-file",
        envvar="DYNAMIGRATE_MIGRATION_FILE",
        help="The module's migration output: terraform output -json migration > migration.json",
    ),
]


def _migration(
    migration_file: Path,
    *,
    endpoint_url: str | None,
    source_role_arn: str | None,
    target_role_arn: str | None,
    external_id: str | None,
    source_profile: str | None,
    target_profile: str | None,
) -> tuple[Manifest, Account, Account]:
    """The migration file and an account for each side, in the regions the file names."""
    from dynamigrate.migration import Manifest, ManifestError  # noqa: PLC0415

    try:
        manifest = Manifest.load(migration_file)
    except ManifestError as exc:
        raise typer.BadParameter(str(exc), param_hint="--migration-file") from exc
    if endpoint_url:
        os.environ["AWS_ENDPOINT_URL"] = endpoint_url
    source = Account(
        role_arn=source_role_arn or manifest.source.get("operator_role_arn"),
        external_id=external_id,
        profile=source_profile,
        region=manifest.source.region,
    )
    target = Account(
        role_arn=target_role_arn, external_id=external_id, profile=target_profile, region=manifest.target.region
    )
    return manifest, source, target


def _print_report(report: dict[str, Any], as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(report, indent=2, default=str) + "\n")
        return
    from rich.table import Table  # noqa: PLC0415

    table = Table(title=report["title"], show_lines=False)
    for column in ("check", "", "value"):
        table.add_column(column)
    marks = {True: "[green]ok[/]", False: "[bold red]ATTENTION[/]", None: "[dim]-[/]"}
    for check in report["checks"]:
        value = check["value"] + (f"\n[yellow]→ {check['hint']}[/]" if check.get("hint") else "")
        table.add_row(check["name"], marks[check["ok"]], value)
    console.print(table)


@app.command()
def status(
    migration_file: MigrationFileOpt = Path("migration.json"),
    window_minutes: Annotated[float, typer.Option(min=1, help="Look back this far for metrics.")] = 15,
    max_stream_lag_minutes: Annotated[float, typer.Option(min=1, help="Stream lag that needs attention.")] = 60,
    max_queue_age_minutes: Annotated[float, typer.Option(min=1, help="Queue age that needs attention.")] = 15,
    endpoint_url: EndpointOpt = None,
    source_role_arn: SourceRoleOpt = None,
    target_role_arn: TargetRoleOpt = None,
    external_id: ExternalIdOpt = None,
    source_profile: SourceProfileOpt = None,
    target_profile: TargetProfileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One migration at a glance; exit 1 when something needs attention."""
    from dynamigrate.migration import StateStore  # noqa: PLC0415
    from dynamigrate.status import status as gather  # noqa: PLC0415

    manifest, source, target = _migration(
        migration_file,
        endpoint_url=endpoint_url,
        source_role_arn=source_role_arn,
        target_role_arn=target_role_arn,
        external_id=external_id,
        source_profile=source_profile,
        target_profile=target_profile,
    )
    state = StateStore(target.dynamodb(), manifest.ledger_table, manifest.name).load()
    report = gather(
        manifest,
        state,
        source,
        target,
        window_seconds=window_minutes * 60,
        max_stream_lag=max_stream_lag_minutes * 60,
        max_queue_age=max_queue_age_minutes * 60,
    )
    _print_report(report.as_dict(), as_json)
    raise typer.Exit(1 if report.attention else 0)


@app.command()
def preflight(
    migration_file: MigrationFileOpt = Path("migration.json"),
    transform: TransformOpt = None,
    endpoint_url: EndpointOpt = None,
    source_role_arn: SourceRoleOpt = None,
    target_role_arn: TargetRoleOpt = None,
    external_id: ExternalIdOpt = None,
    source_profile: SourceProfileOpt = None,
    target_profile: TargetProfileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Check every precondition of the migration (stream, PITR, consumers, capacity, keys, permissions)."""
    from dynamigrate.status import preflight as check  # noqa: PLC0415

    manifest, source, target = _migration(
        migration_file,
        endpoint_url=endpoint_url,
        source_role_arn=source_role_arn,
        target_role_arn=target_role_arn,
        external_id=external_id,
        source_profile=source_profile,
        target_profile=target_profile,
    )
    report = check(manifest, source, target, transform=_transform(transform or manifest.transform))
    _print_report(report.as_dict(), as_json)
    raise typer.Exit(1 if report.attention else 0)


@app.command()
def cutover(
    step: Annotated[
        str | None,
        typer.Argument(
            help="preflight, capture, bulk-copy, replay, verify, reverse, switch, watch, decommission, or rollback. "
            "None: show where the migration stands."
        ),
    ] = None,
    migration_file: MigrationFileOpt = Path("migration.json"),
    report: Annotated[Path | None, typer.Option(help="bulk-copy: the copy's JSON summary (backfill --report).")] = None,
    reverse_migration_file: Annotated[
        Path | None, typer.Option(help="reverse: the rollback pipeline's migration output.")
    ] = None,
    no_rollback: Annotated[
        str | None, typer.Option(help="reverse: go on without a rollback pipeline; say why (it is recorded).")
    ] = None,
    min_watch_hours: Annotated[float, typer.Option(min=0, help="watch: hours after the switch.")] = 24.0,
    sample: Annotated[int, typer.Option(min=0, help="verify: check this many random items, not all.")] = 0,
    segments: SegmentsOpt = 4,
    transform: TransformOpt = None,
    endpoint_url: EndpointOpt = None,
    source_role_arn: SourceRoleOpt = None,
    target_role_arn: TargetRoleOpt = None,
    external_id: ExternalIdOpt = None,
    source_profile: SourceProfileOpt = None,
    target_profile: TargetProfileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Walk the runbook: run a step's checks, record it, print the next action."""
    from dynamigrate.cutover import Cutover, CutoverOptions, StepRefusedError  # noqa: PLC0415
    from dynamigrate.migration import Manifest, ManifestError, StateConflictError, StateStore  # noqa: PLC0415

    manifest, source, target = _migration(
        migration_file,
        endpoint_url=endpoint_url,
        source_role_arn=source_role_arn,
        target_role_arn=target_role_arn,
        external_id=external_id,
        source_profile=source_profile,
        target_profile=target_profile,
    )
    reverse = None
    if reverse_migration_file is not None:
        try:
            reverse = Manifest.load(reverse_migration_file)
        except ManifestError as exc:
            raise typer.BadParameter(str(exc), param_hint="--reverse-migration-file") from exc
    options = CutoverOptions(
        migration_file=str(migration_file),
        report=report,
        reverse=reverse,
        reverse_file=str(reverse_migration_file) if reverse_migration_file else None,
        no_rollback=no_rollback,
        min_watch_hours=min_watch_hours,
        verify_sample=sample,
        verify_segments=segments,
        transform=_transform(transform or manifest.transform),
    )
    store = StateStore(target.dynamodb(), manifest.ledger_table, manifest.name)
    _describe(target, manifest.ledger_table, "ledger")
    identity = str(target.client("sts").get_caller_identity().get("Arn", "unknown"))
    runner = Cutover(
        manifest,
        store,
        source,
        target,
        options,
        by=identity,
        replayer=lambda: _replayer(manifest.target.function_name, None, target),
    )
    detail: dict[str, Any] = {}
    if step is not None:
        try:
            detail = runner.run(step)
        except (StepRefusedError, StateConflictError) as exc:
            console.print(f"[bold red]{step} refused:[/] {exc}")
            if as_json:
                _emit({"step": step, "refused": str(exc)}, as_json=True)
            raise typer.Exit(1) from exc
    state = store.load()
    done = {name: datetime_text(entry["at"]) for name, entry in state.done.items()}
    summary = {
        "migration": manifest.name,
        **({"step": step, "recorded": detail} if step else {}),
        "done": done,
        "next": state.current or "finished",
        "next_action": runner.next_action(state),
    }
    if as_json:
        _emit(summary, as_json=True)
        return
    if step:
        console.print(f"[green]{step} recorded[/]: {json.dumps(detail, default=str)}")
    for name in STEPS:
        mark = f"[green]done {done[name]}[/]" if name in done else "[dim]-[/]"
        console.print(f"  {name:<13} {mark}")
    console.print(f"[bold]next:[/] {summary['next_action']}")


def datetime_text(epoch: float) -> str:
    from datetime import UTC, datetime  # noqa: PLC0415

    return datetime.fromtimestamp(float(epoch), UTC).isoformat(timespec="seconds")


@app.command("retire-table")
def retire_table(
    table: Annotated[str, typer.Option(help="The OLD table of a rekey, to retire.")],
    guard_function: Annotated[
        str, typer.Option(help="The write guard watching it (modules/write-guard output function_name).")
    ],
    migration: Annotated[str, typer.Option(help="The guard's migration name (its module's name).")],
    quiet_days: Annotated[float, typer.Option(min=0.0, help="Days the guard must have seen no foreign write.")] = 14.0,
    snapshot: Annotated[
        str, typer.Option(help="export (Export to S3, needs --bucket and PITR) or backup (on-demand backup).")
    ] = "export",
    bucket: Annotated[str | None, typer.Option(help="S3 bucket for the export snapshot.")] = None,
    prefix: Annotated[str, typer.Option(help="Key prefix of the export snapshot.")] = "retired/",
    keep_capacity: Annotated[
        bool, typer.Option("--keep-capacity", help="Do not lower provisioned capacity to the minimum.")
    ] = False,
    delete: Annotated[
        bool, typer.Option("--delete", help="Second sitting: delete the table (needs --confirm and --snapshot-ref).")
    ] = False,
    confirm: Annotated[str | None, typer.Option(help="The table's name again, to delete it.")] = None,
    snapshot_ref: Annotated[
        str | None, typer.Option(help="The export or backup ARN the first run printed (checked before deleting).")
    ] = None,
    endpoint_url: EndpointOpt = None,
    region: RegionOpt = None,
    profile: Annotated[str | None, typer.Option(help="AWS profile of the table's account.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Retire the old table: check the guard saw no foreign writes, snapshot, lower capacity; later, delete."""
    from dynamigrate.retire import Retirement, RetirePlan, RetireRefusedError  # noqa: PLC0415

    if snapshot not in ("export", "backup"):
        raise typer.BadParameter("--snapshot must be export or backup")
    account, _ = _accounts(
        endpoint_url=endpoint_url,
        region=region,
        source_role_arn=None,
        target_role_arn=None,
        external_id=None,
        source_profile=profile,
        target_profile=None,
    )
    plan = RetirePlan(
        table=table,
        guard_function=guard_function,
        migration=migration,
        quiet_seconds=quiet_days * 86400,
        snapshot=snapshot,
        bucket=bucket,
        prefix=prefix,
        lower_capacity=not keep_capacity,
        delete=delete,
        confirm=confirm,
        snapshot_ref=snapshot_ref,
    )
    try:
        report = Retirement(account.dynamodb(), account.lambda_(), account.cloudwatch(), plan).run()
    except RetireRefusedError as exc:
        console.print(f"[bold red]refused:[/] {exc}")
        raise typer.Exit(1) from exc
    _emit(report.as_dict(), as_json)


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def main() -> None:
    try:
        app()
    except DeploymentError as exc:
        console.print(f"[bold red]deployment problem:[/] {exc}")
        sys.exit(2)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        console.print(f"[bold red]AWS error {error.get('Code')}:[/] {error.get('Message')}")
        sys.exit(2)
    except BotoCoreError as exc:
        console.print(f"[bold red]AWS client error:[/] {exc}")
        sys.exit(2)


if __name__ == "__main__":
    main()
