"""The fast AttributeValue codec sends the same bytes and parses the same results as botocore's own."""

from __future__ import annotations

import json
from typing import Any

import boto3
import jmespath
import pytest
from botocore import parsers, serialize
from botocore.config import Config
from botocore.session import get_session
from hypothesis import given, settings
from hypothesis import strategies as st

from dynamigrate.sdkcodec import FastParser, FastParserFactory, FastSerializer, compiled_path, fast

MODEL = get_session().get_service_model("dynamodb")
names = st.text(min_size=1, max_size=8)
numbers = st.integers(-(10**12), 10**12).map(str)
scalars = st.one_of(
    st.builds(lambda v: {"S": v}, st.text(max_size=20)),
    st.builds(lambda v: {"N": v}, numbers),
    st.builds(lambda v: {"B": v}, st.binary(max_size=20)),
    st.builds(lambda v: {"SS": v}, st.lists(st.text(min_size=1, max_size=5), min_size=1, max_size=3, unique=True)),
    st.builds(lambda v: {"NS": v}, st.lists(numbers, min_size=1, max_size=3, unique=True)),
    st.builds(lambda v: {"BS": v}, st.lists(st.binary(min_size=1, max_size=5), min_size=1, max_size=3, unique=True)),
    st.builds(lambda v: {"BOOL": v}, st.booleans()),
    st.just({"NULL": True}),
)
attribute_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.builds(lambda v: {"L": v}, st.lists(inner, max_size=4)),
        st.builds(lambda v: {"M": v}, st.dictionaries(names, inner, max_size=4)),
    ),
    max_leaves=12,
)
items = st.dictionaries(names, attribute_values, min_size=1, max_size=6)


def requests_for(item: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (
            "TransactWriteItems",
            {
                "TransactItems": [
                    {"ConditionCheck": {"TableName": "l", "Key": {"pk": {"S": "k"}}, "ConditionExpression": "c"}},
                    {"Put": {"TableName": "t", "Item": item, "ExpressionAttributeNames": {"#k": "pk"}}},
                ],
                "ReturnConsumedCapacity": "TOTAL",
            },
        ),
        ("BatchWriteItem", {"RequestItems": {"t": [{"PutRequest": {"Item": item}}]}}),
        (
            "Scan",
            {
                "TableName": "t",
                "Segment": 0,
                "TotalSegments": 2,
                "Limit": 100,
                "ConsistentRead": True,
                "ExclusiveStartKey": item,
            },
        ),
    ]


@settings(max_examples=200, deadline=None)
@given(items)
def test_given_any_item_then_the_fast_serializer_sends_botocore_s_exact_bytes(item: dict[str, Any]) -> None:
    for operation, params in requests_for(item):
        model = MODEL.operation_model(operation)
        stock = serialize.create_serializer("json", include_validation=False).serialize_to_request(params, model)
        mine = FastSerializer().serialize_to_request(params, model)
        assert mine["body"] == stock["body"], operation
        assert mine["headers"] == stock["headers"]


@settings(max_examples=200, deadline=None)
@given(st.lists(items, max_size=4))
def test_given_any_items_then_the_fast_parser_returns_botocore_s_exact_result(listed: list[dict[str, Any]]) -> None:
    wire = serialize.create_serializer("json", include_validation=False)
    # The items as DynamoDB sends them: what botocore would have sent for them (binaries in base64).
    body = json.loads(
        wire.serialize_to_request(
            {"RequestItems": {"t": [{"PutRequest": {"Item": i}} for i in listed]}},
            MODEL.operation_model("BatchWriteItem"),
        )["body"]
    )
    wire_items = [request["PutRequest"]["Item"] for request in body["RequestItems"]["t"]]
    response = {
        "status_code": 200,
        "headers": {},
        "body": json.dumps(
            {"Items": wire_items, "Count": len(listed), "LastEvaluatedKey": (wire_items or [{}])[0]}
        ).encode(),
    }
    shape = MODEL.operation_model("Scan").output_shape
    stock = parsers.create_parser("json").parse(dict(response), shape)
    mine = FastParser().parse(dict(response), shape)
    stock.pop("ResponseMetadata", None)
    mine.pop("ResponseMetadata", None)
    assert json.dumps(mine, default=repr) == json.dumps(stock, default=repr)  # same values, same key order
    assert mine["Items"] == listed  # and both are the client's form: binaries as bytes again


@pytest.mark.parametrize(
    "value",
    [
        {"X": "a type DynamoDB may add later"},
        {"S": "two", "N": "1"},  # not a single member: botocore raises, and so must the shortcut
        {"S": None},
        {"SS": "not a list"},
    ],
)
def test_given_values_the_shortcut_does_not_know_then_botocore_decides(value: dict[str, Any]) -> None:
    response = {"status_code": 200, "headers": {}, "body": json.dumps({"Item": {"a": value}}).encode()}
    shape = MODEL.operation_model("GetItem").output_shape

    def outcome(parser: Any) -> Any:
        try:
            return parser.parse(dict(response), shape).get("Item")
        except Exception as exc:  # comparing what each raises
            return type(exc).__name__

    assert outcome(FastParser()) == outcome(parsers.create_parser("json"))


def test_given_values_the_encoder_does_not_know_then_botocore_serialises_them() -> None:
    odd = {"t": [{"PutRequest": {"Item": {"b": {"B": "text as a blob"}, "n": {"N": 5}, "r": {"B": bytearray(b"x")}}}}]}
    model = MODEL.operation_model("BatchWriteItem")
    stock = serialize.create_serializer("json", include_validation=False).serialize_to_request(
        {"RequestItems": odd}, model
    )
    assert FastSerializer().serialize_to_request({"RequestItems": odd}, model)["body"] == stock["body"]

    unknown = {"TableName": "t", "NotAMember": 1}  # what validation would refuse: both serialisers raise alike
    scan = MODEL.operation_model("Scan")
    with pytest.raises(KeyError, match="NotAMember"):
        serialize.create_serializer("json", include_validation=False).serialize_to_request(unknown, scan)
    with pytest.raises(KeyError, match="NotAMember"):
        FastSerializer().serialize_to_request(unknown, scan)


@pytest.mark.parametrize("validate", [True, False])
def test_given_a_client_when_made_fast_then_items_round_trip_through_dynamodb(moto_aws: None, validate: bool) -> None:
    client = fast(boto3.client("dynamodb", config=Config(parameter_validation=validate)))
    assert fast(client) is client  # idempotent
    inner = client._serializer._serializer if validate else client._serializer  # type: ignore[attr-defined]
    assert type(inner) is FastSerializer
    assert isinstance(client._endpoint._response_parser_factory, FastParserFactory)  # type: ignore[attr-defined]
    client.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "B"}],
        BillingMode="PAY_PER_REQUEST",
    )
    item = {
        "pk": {"B": b"\x00key"},
        "blobs": {"BS": [b"\x01", b"\xff"]},
        "deep": {"M": {"list": {"L": [{"N": "1.5"}, {"NULL": True}, {"B": b"\x02"}]}}},
    }
    client.put_item(TableName="t", Item=item)
    assert client.get_item(TableName="t", Key={"pk": {"B": b"\x00key"}}, ConsistentRead=True)["Item"] == item
    assert client.scan(TableName="t")["Items"] == [item]
    if validate:  # a validating client still validates
        with pytest.raises(Exception, match="Parameter validation failed"):
            client.put_item(TableName="t", Item="not an item")  # type: ignore[arg-type]


CONTEXT_PATHS = sorted(
    {
        parameter["path"]
        for operation in MODEL.operation_names
        for parameter in dict(MODEL.operation_model(operation).operation_context_parameters or {}).values()
    }
)
# JSON-like values over the names these paths read, with the odd shapes an unvalidated request may hold.
path_names = st.sampled_from(["TransactItems", "ConditionCheck", "Put", "Delete", "Update", "Get", "TableName", "x"])
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.text(max_size=3)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(path_names, inner, max_size=4)),
    max_leaves=25,
)
table_names = st.one_of(st.text(min_size=1, max_size=5), st.none(), st.lists(st.text(max_size=2), max_size=2))
actions = st.lists(
    st.one_of(
        st.dictionaries(
            st.sampled_from(["ConditionCheck", "Put", "Delete", "Update", "Get"]),
            st.one_of(st.fixed_dictionaries({"TableName": table_names}), json_values),
            max_size=3,
        ),
        json_values,
    ),
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.fixed_dictionaries({"TransactItems": actions}), st.dictionaries(path_names, json_values)))
def test_given_any_request_then_compiled_endpoint_paths_match_jmespath(request: dict[str, Any]) -> None:
    assert "TransactItems[*].[ConditionCheck.TableName, Put.TableName, Delete.TableName, Update.TableName][]" in (
        CONTEXT_PATHS
    )
    for path in CONTEXT_PATHS:
        if path.startswith("keys("):  # a JMESPath function: left to jmespath, which raises on non-objects
            continue
        assert compiled_path(path)(request) == jmespath.search(path, request), path


def test_given_paths_with_nodes_not_compiled_then_jmespath_evaluates_them() -> None:
    request = {"RequestItems": {"a": [], "b": []}, "TransactItems": [{"Put": {"TableName": "t"}}, {"Put": {}}]}
    for path in ["keys(RequestItems)", "TransactItems[?Put.TableName == 't'].Put.TableName", "TransactItems[0]"]:
        assert compiled_path(path)(request) == jmespath.search(path, request)
    with pytest.raises(jmespath.exceptions.JMESPathTypeError):  # the same error botocore would see
        compiled_path("keys(RequestItems)")({"RequestItems": None})


def test_given_a_fast_client_then_its_endpoint_parameters_equal_botocore_s() -> None:
    stock = boto3.client("dynamodb", region_name="eu-west-1")
    mine = fast(boto3.client("dynamodb", region_name="eu-west-1"))
    requests = {
        "TransactWriteItems": {
            "TransactItems": [
                {"ConditionCheck": {"TableName": "arn:aws:dynamodb:eu-west-1:111122223333:table/l", "Key": {}}},
                {"Put": {"TableName": "t", "Item": {}}},
                {"Delete": {"TableName": "d", "Key": {}}},
                {"Update": {"TableName": "u", "Key": {}}},
            ]
        },
        "TransactGetItems": {"TransactItems": [{"Get": {"TableName": "g", "Key": {}}}]},
        "BatchWriteItem": {"RequestItems": {"t": [], "u": []}},
        "ImportTable": {"TableCreationParameters": {"TableName": "n"}},
        "GetItem": {"TableName": "t", "Key": {}},
    }
    for operation, params in requests.items():
        model = MODEL.operation_model(operation)
        resolved = [
            client._ruleset_resolver._get_provider_params(model, params, {})  # type: ignore[attr-defined]
            for client in (stock, mine)
        ]
        assert resolved[0] == resolved[1], operation
        assert resolved[1].get("ResourceArnList") or resolved[1].get("ResourceArn") or operation == "GetItem"
