"""`dynamigrate cutover`: the runbook as commands, with a recorded position.

Steps, in order (docs/cutover.md has the why of each):

preflight -> capture -> bulk-copy -> replay -> verify -> reverse -> switch -> watch -> decommission

A step runs only when it is the next one, and only if its checks pass; then
it is recorded in the state record (who, when, what was measured) and the
next action is printed. Once done, ``verify`` may be run again at any time
(the switch wants a recent one). ``rollback`` is recorded beside the
steps: it is allowed once traffic moved, and only with a reverse pipeline.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from dynamigrate.migration import STEPS, Manifest, State, StateStore
from dynamigrate.status import Report, count_objects, mapping_state, preflight, queue_depth, status

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from dynamigrate.accounts import Account
    from dynamigrate.replay import Replayer
    from dynamigrate.rule import Transform

ROLLBACK = "rollback"


class StepRefusedError(RuntimeError):
    """The step's preconditions do not hold: nothing was recorded."""


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


@dataclass
class CutoverOptions:
    migration_file: str = "migration.json"
    report: Path | None = None  # bulk-copy: the backfill's --report (or load-export's --json summary)
    reverse: Manifest | None = None  # reverse: the rollback pipeline's migration output
    reverse_file: str | None = None
    no_rollback: str | None = None  # reverse: why there is none
    min_watch_hours: float = 24.0
    verify_sample: int = 0
    verify_segments: int = 4
    verify_max_age_hours: float = 24.0
    replay_margin_seconds: float = 900.0
    transform: Transform | None = None


class Cutover:
    def __init__(
        self,
        manifest: Manifest,
        store: StateStore,
        source: Account,
        target: Account,
        options: CutoverOptions,
        *,
        by: str,
        replayer: Callable[[], Replayer],
        progress: Callable[[int], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.manifest = manifest
        self.store = store
        self.source = source
        self.target = target
        self.options = options
        self.by = by
        self._replayer = replayer
        self._progress = progress
        self._clock = clock

    # -------------------------------------------------------------- driver --

    def run(self, step: str) -> dict[str, Any]:
        """Check and record ``step``; return what was measured (raises StepRefusedError)."""
        state = self.store.load()
        if step == ROLLBACK:
            detail = self._rollback(state)
            state.rollbacks = [*state.rollbacks, {"at": self._clock(), "by": self.by, **detail}]
            state.record(ROLLBACK, detail, by=self.by, at=self._clock())
            self.store.save(state)
            return detail
        if step not in STEPS:
            raise StepRefusedError(f"unknown step {step!r}: the steps are {', '.join(STEPS)} (and rollback)")
        rerun = step == "verify" and "verify" in state.done  # a repeat (the switch wants a recent one)
        if step in state.done and not rerun:
            raise StepRefusedError(f"{step} was done at {_iso(state.done[step]['at'])} by {state.done[step]['by']}")
        if step != state.current and not rerun:
            raise StepRefusedError(f"the next step is {state.current}: {self.next_action(state)}")
        handler: Callable[[State], dict[str, Any]] = getattr(self, "_" + step.replace("-", "_"))
        detail = handler(state)
        state.record(step, detail, by=self.by, at=self._clock())
        self.store.save(state)
        return detail

    def next_action(self, state: State) -> str:
        m, f = self.manifest, self.options.migration_file
        src, dst = m.source.table_name, m.target.table_name
        version = f" --version-attribute {m.version_attribute}" if m.version_attribute else ""
        transform = " --transform <the module's transform>" if m.transform else ""
        actions = {
            "preflight": f"dynamigrate cutover preflight --migration-file {f}",
            "capture": f"with the pipeline applied (stream.enabled and writer.enabled = true): "
            f"dynamigrate cutover capture --migration-file {f}",
            "bulk-copy": f"dynamigrate backfill --source-table {src} --target-table {dst} "
            f"--ledger-table {m.ledger_table}{version}{transform} --report bulk-copy.json "
            f"(or load-export for large tables), then: dynamigrate cutover bulk-copy --migration-file {f} "
            "--report bulk-copy.json",
            "replay": f"dynamigrate cutover replay --migration-file {f}",
            "verify": f"dynamigrate cutover verify --migration-file {f} [--sample N for very large tables]",
            "reverse": "apply the rollback pipeline (the module with source and target swapped; examples/"
            "cross-account: rollback_enabled = true), save its output: terraform output -json rollback > "
            f"reverse.json, then: dynamigrate cutover reverse --migration-file {f} --reverse-migration-file "
            "reverse.json (or --no-rollback REASON)",
            "switch": f"dynamigrate cutover switch --migration-file {f}, then move the application's writes to {dst}",
            "watch": f"watch `dynamigrate status --migration-file {f}`; after {self.options.min_watch_hours:g} h: "
            f"dynamigrate cutover watch --migration-file {f}",
            "decommission": f"dynamigrate cutover decommission --migration-file {f}, then terraform destroy the "
            "pipeline (both tables stay)",
        }
        current = state.current
        return actions[current] if current else "the migration is finished"

    # --------------------------------------------------------------- steps --

    def _preflight(self, _state: State) -> dict[str, Any]:
        report = preflight(self.manifest, self.source, self.target, transform=self.options.transform)
        self._refuse_on(report)
        return {"checks": len(report.checks), "notes": [c.value for c in report.checks if c.ok is None]}

    def _capture(self, _state: State) -> dict[str, Any]:
        states = {"writer": mapping_state(self.target, self.manifest.target.get("event_source_mapping_uuid"))}
        if not self.manifest.direct:  # the direct transport's writer is the stream's reader
            states["capture"] = mapping_state(self.source, self.manifest.source.get("event_source_mapping_uuid"))
        off = [name for name, value in states.items() if value != "Enabled"]
        if off:
            raise StepRefusedError(
                f"the {' and '.join(off)} mapping is not Enabled ({states}): set stream.enabled / writer.enabled "
                "= true and terraform apply; changes made before capture starts would be lost"
            )
        return {"capture_since": _iso(self._clock())}

    def _bulk_copy(self, _state: State) -> dict[str, Any]:
        path = self.options.report
        if path is None:
            raise StepRefusedError(
                "pass --report with the bulk copy's JSON summary (dynamigrate backfill --report FILE, or "
                "dynamigrate load-export --json > FILE)"
            )
        try:
            summary = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise StepRefusedError(f"cannot read the bulk copy report {path}: {exc}") from exc
        problems = []
        for role, side in (("source_table", self.manifest.source), ("target_table", self.manifest.target)):
            if summary.get(role) not in (None, side.table_name):
                problems.append(f"{role} is {summary.get(role)!r}, not {side.table_name!r}")
        for count in ("failed", "parked"):
            if summary.get(count, 0):
                problems.append(f"{summary[count]} items {count} (the report lists them; fix, then rerun the copy)")
        if summary.get("reconciled") is False:
            problems.append("its counts do not reconcile (read != written + skipped + parked + failed)")
        if "failed" not in summary:
            problems.append("it is not a bulk copy summary (no failed count)")
        if problems:
            raise StepRefusedError(f"the bulk copy in {path} is not complete: " + "; ".join(problems))
        started = self._clock() - float(summary.get("seconds") or 0)
        return {
            "report": str(path),
            "read": summary.get("read", summary.get("items_read")),
            "written": summary.get("written", summary.get("items_written")),
            "started_at": started,
        }

    def _replay(self, state: State) -> dict[str, Any]:
        # From when capture was on: every change since is in the change log, whenever the
        # bulk copy (or the export it loaded) began; replaying more is harmless.
        started = min(float(state.done["capture"]["at"]), float(state.done["bulk-copy"].get("started_at") or 0) or 1e12)
        start = datetime.fromtimestamp(started - self.options.replay_margin_seconds, UTC)
        end = datetime.fromtimestamp(self._clock(), UTC) + timedelta(seconds=1)
        report = self._replayer().replay_window(start, end)
        if not report.ok:
            raise StepRefusedError(
                "the replay did not apply everything: " + "; ".join(report.as_dict()["problems"][:5])
            )
        target = self.manifest.target
        dlq = queue_depth(self.target, target.get("dead_letter_queue_url")) or (0, 0)
        bucket, prefix = target.get("change_bucket_name"), target.get("dead_letter_prefix")
        parked = count_objects(self.target, bucket, prefix) if bucket and prefix else 0
        if sum(dlq) or parked:
            raise StepRefusedError(
                f"{sum(dlq)} messages in the dead-letter queue and {parked} parked-change objects wait: "
                f"fix their cause, run dynamigrate redrive --writer-function {target.function_name}, then replay again"
            )
        return {
            "window": [start.isoformat(), end.isoformat()],
            **{k: v for k, v in report.as_dict().items() if k in ("objects", "applied", "stale")},
        }

    def _verify(self, state: State) -> dict[str, Any]:
        from dynamigrate.rule import TableSchema  # noqa: PLC0415
        from dynamigrate.verify import verify  # noqa: PLC0415

        m = self.manifest
        source_desc = self.source.dynamodb().describe_table(TableName=m.source.table_name)["Table"]
        target_desc = self.target.dynamodb().describe_table(TableName=m.target.table_name)["Table"]
        result = verify(
            self.source.dynamodb(),
            self.target.dynamodb(),
            m.source.table_name,
            m.target.table_name,
            source_key=TableSchema.from_description(dict(source_desc)).key_names,
            target_key=TableSchema.from_description(dict(target_desc)).key_names,
            segments=self.options.verify_segments,
            transform=self.options.transform,
            progress=self._progress,
            sample=self.options.verify_sample,
            item_count=int(source_desc.get("ItemCount") or 0),
        )
        summary = result.as_dict(5)
        state.last_verify = {
            "at": self._clock(),
            **{k: summary[k] for k in ("equal", "sampled", "matched", "missing", "extra", "different")},
        }
        if not result.equal:
            self.store.save(state)  # the failed verify is news too (status shows it)
            raise StepRefusedError(
                f"the tables differ: {summary['missing']} missing, {summary['extra']} extra, "
                f"{summary['different']} different (samples: {summary.get('samples', [])[:3]}); "
                "let replication catch up and verify again, or repair with dynamigrate verify --repair"
            )
        return dict(state.last_verify)

    def _reverse(self, _state: State) -> dict[str, Any]:
        if self.options.no_rollback:
            return {"skipped": self.options.no_rollback}
        reverse = self.options.reverse
        if reverse is None:
            raise StepRefusedError(
                "pass --reverse-migration-file (the rollback pipeline's migration output), or --no-rollback REASON "
                "to go on without a way back"
            )
        m = self.manifest
        problems = []
        if (reverse.source.table_name, reverse.target.table_name) != (m.target.table_name, m.source.table_name):
            problems.append(
                f"it copies {reverse.source.table_name} -> {reverse.target.table_name}, not "
                f"{m.target.table_name} -> {m.source.table_name}"
            )
        if not reverse.version_attribute or reverse.version_attribute != m.version_attribute:
            problems.append(
                "both directions need the same version_attribute (attribute mode): stream sequence numbers of two "
                "tables cannot order writes made in both during a rollback window"
            )
        # The reverse pipeline's capture reads the target table (target account) and writes the source table.
        capture = mapping_state(self.target, reverse.source.get("event_source_mapping_uuid"))
        writer = mapping_state(self.source, reverse.target.get("event_source_mapping_uuid"))
        if capture != "Enabled" or writer != "Enabled":
            problems.append(f"its capture is {capture} and its writer {writer}: both must be Enabled")
        if problems:
            raise StepRefusedError("the rollback pipeline is not ready: " + "; ".join(problems))
        return {"reverse_migration": reverse.name, "reverse_file": self.options.reverse_file}

    def _switch(self, state: State) -> dict[str, Any]:
        verified = state.last_verify or {}
        max_age = self.options.verify_max_age_hours * 3600
        if not verified.get("equal") or self._clock() - float(verified.get("at", 0)) > max_age:
            raise StepRefusedError(
                f"the last verify is not an equal result from the last {self.options.verify_max_age_hours:g} h: "
                "run dynamigrate cutover verify first"
            )
        self._refuse_on(self._status(state), ignore=("last verify",))
        return {"writes_moved_at": _iso(self._clock())}

    def _watch(self, state: State) -> dict[str, Any]:
        switched = float(state.done["switch"]["at"])
        waited = (self._clock() - switched) / 3600
        if waited < self.options.min_watch_hours:
            raise StepRefusedError(
                f"traffic moved {waited:.1f} h ago; watch for {self.options.min_watch_hours:g} h "
                "(--min-watch-hours) before closing the rollback window"
            )
        self._refuse_on(self._status(state))
        return {"watched_hours": round(waited, 2), "rollbacks": len(state.rollbacks)}

    def _decommission(self, _state: State) -> dict[str, Any]:
        return {
            "next": "terraform destroy the pipeline in both accounts (tables, their data and streams stay); "
            "the change bucket keeps the change log until its lifecycle expires it, unless force_destroy"
        }

    def _rollback(self, state: State) -> dict[str, Any]:
        if "switch" not in state.done:
            raise StepRefusedError("nothing to roll back: traffic has not moved (the source is still the primary)")
        if "decommission" in state.done:
            raise StepRefusedError("the pipeline was decommissioned: a rollback now is a new migration")
        reverse = state.done.get("reverse", {})
        if reverse.get("skipped"):
            raise StepRefusedError(f"there is no rollback pipeline (skipped: {reverse['skipped']})")
        return {
            "writes_moved_back_at": _iso(self._clock()),
            "next": f"move the application's writes back to {self.manifest.source.table_name}; the rollback "
            f"pipeline ({reverse.get('reverse_migration')}) keeps copying what {self.manifest.target.table_name} "
            "took meanwhile; watch it with dynamigrate status --migration-file " + str(reverse.get("reverse_file")),
        }

    # ------------------------------------------------------------- helpers --

    def _status(self, state: State) -> Report:
        return status(self.manifest, state, self.source, self.target)

    @staticmethod
    def _refuse_on(report: Report, ignore: tuple[str, ...] = ()) -> None:
        failing = [c for c in report.attention if c.name not in ignore]
        if failing:
            raise StepRefusedError(
                "; ".join(f"{c.name}: {c.value}" + (f" ({c.hint})" if c.hint else "") for c in failing)
            )


__all__ = ["ROLLBACK", "Cutover", "CutoverOptions", "StepRefusedError"]
