"""The emulator's paged Scan returns exactly what moto's own Scan returns, page by page.

Differential: the same table, changed between pages by puts, updates and deletes,
is scanned with the patched ``Table.scan`` and with moto's original (kept by
``functools.wraps`` as ``__wrapped__``); every page (items, scanned count,
LastEvaluatedKey) must be equal, for hash-only and hash+range tables, string and
number keys, 1 to 4 segments, limits, filter and projection expressions.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws
from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.table import Table

from dynamigrate.emulator import _dynamodb_fixes

ACCOUNT = "123456789012"
REGION = "us-east-1"

_dynamodb_fixes.install()
MOTO_SCAN = Table.scan.__wrapped__  # type: ignore[attr-defined]

keys = st.integers(min_value=0, max_value=40)
writes = st.lists(
    st.tuples(st.sampled_from(["put", "update", "delete"]), keys, keys, st.integers(min_value=0, max_value=3)),
    max_size=12,
)


def make_table(ddb: Any, *, range_key: bool, key_type: str) -> Table:
    schema = [{"AttributeName": "pk", "KeyType": "HASH"}]
    attributes = [{"AttributeName": "pk", "AttributeType": key_type}]
    if range_key:
        schema.append({"AttributeName": "sk", "KeyType": "RANGE"})
        attributes.append({"AttributeName": "sk", "AttributeType": key_type})
    ddb.create_table(TableName="t", KeySchema=schema, AttributeDefinitions=attributes, BillingMode="PAY_PER_REQUEST")
    return dynamodb_backends[ACCOUNT][REGION].tables["t"]


def key_value(number: int, key_type: str) -> dict[str, str]:
    return {"S": f"k{number}"} if key_type == "S" else {"N": str(number - 20)}  # negatives sort before positives


def key(table: Table, hash_number: int, range_number: int, key_type: str) -> dict[str, Any]:
    found = {"pk": key_value(hash_number, key_type)}
    if table.range_key_attr:
        found["sk"] = key_value(range_number, key_type)
    return found


# Up to 180 KB per item: pages hold a few items (1 MB limit), and an update replacing the pad stays
# under moto's size check, which adds the new value to the old item's size (DynamoDB would not).
PAD = 60_000


def apply(ddb: Any, table: Table, write: tuple[str, int, int, int], key_type: str) -> None:
    action, hash_number, range_number, size = write
    item_key = key(table, hash_number, range_number, key_type)
    if action == "put":
        ddb.put_item(TableName="t", Item={**item_key, "a": {"N": str(size)}, "pad": {"S": "x" * (size * PAD)}})
    elif action == "update":
        ddb.update_item(
            TableName="t",
            Key=item_key,
            UpdateExpression="SET a = :a, #pad = :pad",  # an item's size changes in place: pages must follow
            ExpressionAttributeNames={"#pad": "pad"},
            ExpressionAttributeValues={":a": {"N": str(size)}, ":pad": {"S": "y" * (size * PAD)}},
        )
    else:
        ddb.delete_item(TableName="t", Key=item_key)


def page(scan: Any, table: Table, start: dict[str, Any] | None, options: dict[str, Any]) -> Any:
    items, scanned, last = scan(
        table,
        {},
        options["limit"],
        start,
        options["filter"],
        None,
        False,
        options["projection"],
        segments=options["segments"],
    )
    return [item.to_json() for item in items], scanned, last


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    range_key=st.booleans(),
    key_type=st.sampled_from(["S", "N"]),
    initial=st.lists(st.tuples(keys, keys, st.integers(min_value=0, max_value=3)), max_size=60),
    between_pages=st.lists(writes, max_size=6),
    limit=st.one_of(st.none(), st.integers(min_value=1, max_value=7)),
    total_segments=st.integers(min_value=1, max_value=4),
    filtered=st.booleans(),
    projected=st.booleans(),
)
def test_given_any_table_and_writes_between_pages_then_every_page_equals_motos(
    *,
    range_key: bool,
    key_type: str,
    initial: list[tuple[int, int, int]],
    between_pages: list[list[tuple[str, int, int, int]]],
    limit: int | None,
    total_segments: int,
    filtered: bool,
    projected: bool,
) -> None:
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        table = make_table(ddb, range_key=range_key, key_type=key_type)
        for hash_number, range_number, size in initial:
            apply(ddb, table, ("put", hash_number, range_number, size), key_type)
        condition = "a > :zero" if filtered else None
        values = {":zero": {"N": "0"}} if filtered else None
        for segment in range(total_segments):
            options = {
                "limit": limit,
                "filter": get_filter_expression(condition, None, values),
                "projection": [["pk"], ["a"]] if projected else None,
                "segments": (segment, total_segments) if total_segments > 1 else (None, None),
            }
            start: dict[str, Any] | None = None
            pages = 0
            while True:
                ours = page(Table.scan, table, start, options)
                assert ours == page(MOTO_SCAN, table, start, options)
                start = ours[2]
                if start is None:
                    break
                for write in between_pages[pages] if pages < len(between_pages) else []:
                    apply(ddb, table, write, key_type)
                pages += 1


def test_given_a_scan_then_a_new_item_and_a_deleted_one_are_seen_by_the_next_page() -> None:
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        make_table(ddb, range_key=False, key_type="S")
        for name in ("a", "c", "e"):
            ddb.put_item(TableName="t", Item={"pk": {"S": name}})
        first = ddb.scan(TableName="t", Limit=1)
        assert [item["pk"]["S"] for item in first["Items"]] == ["a"]
        ddb.put_item(TableName="t", Item={"pk": {"S": "b"}})
        ddb.delete_item(TableName="t", Key={"pk": {"S": "c"}})
        rest = ddb.scan(TableName="t", ExclusiveStartKey=first["LastEvaluatedKey"])
        assert [item["pk"]["S"] for item in rest["Items"]] == ["b", "e"]


@pytest.mark.parametrize("total_segments", [1, 3])
def test_given_segments_then_they_partition_the_table(total_segments: int) -> None:
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        make_table(ddb, range_key=True, key_type="N")
        for number in range(300):
            ddb.put_item(TableName="t", Item={"pk": {"N": str(number % 37)}, "sk": {"N": str(number)}})
        seen: list[str] = []
        for segment in range(total_segments):
            kwargs: dict[str, Any] = {"TableName": "t", "Limit": 16}
            if total_segments > 1:
                kwargs.update(Segment=segment, TotalSegments=total_segments)
            while True:
                response = ddb.scan(**kwargs)
                seen.extend(item["sk"]["N"] for item in response["Items"])
                if "LastEvaluatedKey" not in response:
                    break
                kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        assert sorted(seen, key=int) == [str(number) for number in range(300)]
