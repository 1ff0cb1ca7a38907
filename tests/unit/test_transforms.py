"""Declarative key mappings: pure, deterministic, typed keys, clear refusals; and what the bulk paths do with them."""

from __future__ import annotations

import json
import time
import uuid
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dynamigrate.backfill import backfill
from dynamigrate.changes import Change, decompress
from dynamigrate.rule import APPLIED, PARKED, TableSchema, VersionRule, seq_from_int
from dynamigrate.transforms import KeyMapping, TransformError, TransformLoadError, load
from dynamigrate.verify import verify
from dynamigrate.writer import ChangeWriter

from .conftest import create_table

if TYPE_CHECKING:
    from pathlib import Path

# The seed's case: Summaries(pub, external_id) to Articles(guid).
SEED = {
    "set": {
        "guid": {"uuid5": ["pub", "external_id"], "namespace": "url", "separator": "/"},
        "title": {"from": "headline"},
        "kind": {"value": {"S": "article"}},
    },
    "drop": ["headline"],
}

scalars = st.one_of(
    st.text(max_size=20).map(lambda text: {"S": text}),
    st.integers(min_value=-(10**12), max_value=10**12).map(lambda number: {"N": str(number)}),
)
summaries = st.fixed_dictionaries(
    {"pub": scalars, "external_id": scalars, "headline": st.text(max_size=30).map(lambda t: {"S": t})},
    optional={"body": st.text(max_size=30).map(lambda t: {"S": t}), "tags": st.just({"SS": ["a", "b"]})},
)


@settings(max_examples=200, deadline=None)
@given(item=summaries)
def test_given_any_summary_then_the_mapping_is_a_pure_function_with_a_typed_key(item: dict[str, Any]) -> None:
    mapping = load(json.dumps(SEED))
    before = json.dumps(item, sort_keys=True)
    first, second = mapping(item), mapping(json.loads(before))
    assert first == second  # deterministic, also on an equal copy
    assert json.dumps(item, sort_keys=True) == before  # the source item is not changed
    text = "/".join(next(iter(item[name].values())) for name in ("pub", "external_id"))
    assert first["guid"] == {"S": str(uuid.uuid5(uuid.NAMESPACE_URL, text))}
    assert first["title"] == item["headline"] and "headline" not in first
    assert first["kind"] == {"S": "article"}
    assert {k: v for k, v in first.items() if k not in {"guid", "title", "kind"}} == {
        k: v for k, v in item.items() if k != "headline"
    }


def test_given_a_join_then_strings_and_numbers_compose_one_string_key() -> None:
    mapping = load('{"set": {"pk": {"join": ["tenant", "n"], "separator": "#"}}}')
    assert mapping({"tenant": {"S": "acme"}, "n": {"N": "42"}})["pk"] == {"S": "acme#42"}


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"external_id": {"S": "x"}, "headline": {"S": "h"}}, "attribute 'pub' is missing"),
        ({"pub": {"B": b"\x00"}, "external_id": {"S": "x"}, "headline": {"S": "h"}}, "'pub' is of type B"),
        ({"pub": {"S": "p"}, "external_id": {"S": "x"}}, "attribute 'headline' is missing"),
    ],
)
def test_given_an_item_the_mapping_cannot_transform_then_the_error_names_the_attribute(
    item: dict[str, Any], message: str
) -> None:
    with pytest.raises(TransformError, match=message):
        load(json.dumps(SEED))(item)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "must look like package.module:function"),
        ('{"sets": {}}', "unknown key"),
        ("{}", "nothing to do"),
        ('{"set": {"k": {"join": []}}}', "non-empty list"),
        ('{"set": {"k": {"join": ["a"], "from": "b"}}}', "exactly one of"),
        ('{"set": {"k": {"uuid5": ["a"]}}}', "namespace is required"),
        ('{"set": {"k": {"uuid5": ["a"], "namespace": "nope"}}}', "not dns, url, oid, x500 or a UUID"),
        ('{"set": {"k": {"value": {"B": "AA=="}}}}', "one typed value"),
        ('{"set": {"k": {"from": "a", "separator": "#"}}}', "unknown option"),
        ('{"drop": "a"}', "list of attribute names"),
        ("nomodule", "package.module:function"),
        ("no_such_module_here:f", "cannot be imported"),
    ],
)
def test_given_an_invalid_mapping_then_loading_it_says_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(TransformLoadError, match=message):
        load(spec)


def test_given_a_mapping_file_then_it_loads_like_the_inline_form(tmp_path: Path) -> None:
    path = tmp_path / "mapping.json"
    path.write_text(json.dumps(SEED), encoding="utf-8")
    item = {"pub": {"S": "p"}, "external_id": {"N": "7"}, "headline": {"S": "h"}}
    assert isinstance(load(f"@{path}"), KeyMapping)
    assert load(f"@{path}")(item) == load(json.dumps(SEED))(item)
    with pytest.raises(TransformLoadError, match="cannot be read"):
        load(f"@{tmp_path / 'absent.json'}")


def test_given_a_rekey_backfill_with_the_mapping_then_verify_finds_the_tables_equal_and_reports_refusals(
    moto_aws: None,
) -> None:
    client = boto3.client("dynamodb")
    create_table("summaries", {"pub": "S", "external_id": "S"})
    create_table("articles", {"guid": "S"})
    create_table("ledger", {"pk": "S"}, ttl="expires_at")
    for number in range(40):
        item = {"pub": {"S": f"pub{number % 3}"}, "external_id": {"S": f"x{number}"}}
        if number != 13:  # this one has no headline: the mapping refuses it
            item["headline"] = {"S": f"headline {number}"}
        client.put_item(TableName="summaries", Item=item)
    mapping = load(json.dumps(SEED))
    rule = VersionRule(TableSchema.from_description(client.describe_table(TableName="articles")["Table"]), "ledger")

    report = backfill(client, client, "summaries", rule, segments=2, transform=mapping)
    assert report.read == 40 and report.reconciled
    assert report.tally.counts[PARKED] == 1
    assert "attribute 'headline' is missing" in json.dumps(report.as_dict())

    result = verify(
        client,
        client,
        "summaries",
        "articles",
        source_key=("pub", "external_id"),
        target_key=("guid",),
        transform=mapping,
    )
    assert result.count("untransformable") == 1 and result.count("missing") == 0
    assert result.count("different") == 0 and not result.equal
    (refused,) = [d for d in result.differences if d.kind == "untransformable"]
    assert refused.key == {"pub": {"S": "pub1"}, "external_id": {"S": "x13"}}
    assert "attribute 'headline' is missing" in refused.reason


def test_given_the_writer_configured_with_a_mapping_then_live_changes_reach_the_new_key_and_refusals_are_parked(
    moto_aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = boto3.client("dynamodb")
    create_table("articles", {"guid": "S"})
    create_table("ledger", {"pk": "S"}, ttl="expires_at")
    boto3.client("s3").create_bucket(Bucket="changes")
    environment = {"TARGET_TABLE_NAME": "articles", "LEDGER_TABLE_NAME": "ledger", "CHANGE_BUCKET_NAME": "changes"}
    for name, value in {**environment, "TRANSFORM": json.dumps(SEED)}.items():
        monkeypatch.setenv(name, value)
    writer = ChangeWriter.from_env()  # as the Lambda builds it at cold start

    def summary(number: str, headline: str | None) -> dict[str, Any]:
        item = {"pub": {"S": "p"}, "external_id": {"S": number}}
        return {**item, "headline": {"S": headline}} if headline else item

    def change(op: str, seq: int, new: dict[str, Any] | None, old: dict[str, Any] | None = None) -> Change:
        keys = {k: (new or old or {})[k] for k in ("pub", "external_id")}
        return Change(op=op, keys=keys, seq=seq_from_int(seq), ts=time.time(), new=new, old=old)

    changes = [
        change("INSERT", 1, summary("1", "one")),
        change("INSERT", 2, summary("2", "two")),
        change("REMOVE", 3, None, old=summary("2", "two")),  # found by its old image's new key
        change("INSERT", 4, summary("3", None)),  # no headline: the mapping refuses it
    ]
    result = writer.apply_changes(changes, "changes/rekey.jsonl.gz")
    assert result.tally.counts[APPLIED] == 2 and result.tally.counts[PARKED] == 1

    def article(number: str) -> dict[str, Any] | None:
        key = {"guid": {"S": str(uuid.uuid5(uuid.NAMESPACE_URL, f"p/{number}"))}}
        return client.get_item(TableName="articles", Key=key, ConsistentRead=True).get("Item")

    assert article("1") is not None and article("1")["title"] == {"S": "one"} and "headline" not in article("1")
    assert article("2") is None and article("3") is None
    assert result.dead_letter_key is not None
    body = boto3.client("s3").get_object(Bucket="changes", Key=result.dead_letter_key)["Body"].read()
    (line,) = [json.loads(raw) for raw in decompress(body).splitlines() if b'"reason"' in raw]
    assert line["keys"] == {"pub": {"S": "p"}, "external_id": {"S": "3"}}
    assert "attribute 'headline' is missing" in line["reason"]
