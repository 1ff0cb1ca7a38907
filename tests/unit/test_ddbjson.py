"""Typed DynamoDB JSON helpers: numbers, keys, binaries, validation, size, equality."""

from __future__ import annotations

import base64

import pytest

from dynamigrate.ddbjson import (
    InvalidItemError,
    canonical_key,
    canonical_number,
    describe_key,
    differing_attributes,
    item_size,
    items_equal,
    ledger_id,
    to_client,
    to_wire,
    validate_item,
)


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("1.50", "1.5"),
        ("15E-1", "1.5"),
        ("-0.000", "0"),
        ("100", "100"),
        ("1E+3", "1000"),
        ("-123.4500", "-123.45"),
        ("12345678901234567890123456789012345678", "12345678901234567890123456789012345678"),
        ("0.00012345678901234567890123456789012345678", "0.00012345678901234567890123456789012345678"),
        ("1E-130", "0." + "0" * 129 + "1"),
        ("9.9999999999999999999999999999999999999E+125", "99999999999999999999999999999999999999" + "0" * 88),
    ],
)
def test_given_equal_dynamodb_numbers_when_canonicalised_then_spelling_is_identical(given: str, canonical: str) -> None:
    assert canonical_number(given) == canonical


@pytest.mark.parametrize("bad", ["", "abc", "NaN", "Infinity", "1e", "--1"])
def test_given_non_number_when_canonicalised_then_error_names_the_value(bad: str) -> None:
    with pytest.raises(InvalidItemError):
        canonical_number(bad)


def test_given_keys_differing_only_in_number_spelling_and_order_when_hashed_then_ledger_ids_match() -> None:
    a = {"pk": {"S": "a"}, "sk": {"N": "1.0"}}
    b = {"sk": {"N": "1"}, "pk": {"S": "a"}}
    assert canonical_key(a) == canonical_key(b) == "2:pkS1:a2:skN1:1"
    assert ledger_id(a) == ledger_id(b) == canonical_key(a)  # short keys stay readable


def test_given_long_key_when_hashed_then_ledger_id_is_a_43_character_digest() -> None:
    long_key = {"pk": {"S": "x" * 1500}, "sk": {"S": "y" * 900}}
    ident = ledger_id(long_key)
    assert len(ident) == 43 and ":" not in ident
    assert ident == ledger_id({"sk": {"S": "y" * 900}, "pk": {"S": "x" * 1500}})
    assert ident != ledger_id({"pk": {"S": "x" * 1500}, "sk": {"S": "y" * 899}})


def test_given_distinct_keys_when_hashed_then_ids_differ_including_type() -> None:
    ids = {
        ledger_id({"pk": {"S": "1"}}),
        ledger_id({"pk": {"N": "1"}}),
        ledger_id({"pk": {"B": base64.b64encode(b"1").decode()}}),
        ledger_id({"pk": {"S": "1"}, "sk": {"S": ""}}),
    }
    assert len(ids) == 4


def test_given_binary_key_as_bytes_or_base64_when_hashed_then_same_id() -> None:
    assert ledger_id({"pk": {"B": b"\x00\xff"}}) == ledger_id({"pk": {"B": base64.b64encode(b"\x00\xff").decode()}})


def test_given_wire_item_with_nested_binaries_when_converted_to_client_and_back_then_round_trips() -> None:
    wire = {
        "b": {"B": base64.b64encode(b"\x01\x02").decode()},
        "bs": {"BS": [base64.b64encode(b"x").decode(), base64.b64encode(b"").decode()]},
        "m": {"M": {"inner": {"L": [{"B": base64.b64encode(b"\xff").decode()}, {"S": "keep"}]}}},
        "n": {"N": "1.50"},
    }
    client = to_client(wire)
    assert client["b"] == {"B": b"\x01\x02"}
    assert client["bs"] == {"BS": [b"x", b""]}
    assert client["m"]["M"]["inner"]["L"][0] == {"B": b"\xff"}
    assert client["n"] == {"N": "1.50"}  # numbers are never touched
    assert to_wire(client) == wire


def test_given_item_without_binaries_when_converted_then_same_object_is_returned() -> None:
    item = {"pk": {"S": "a"}, "m": {"M": {"x": {"N": "1"}}}}
    assert to_client(item) is item


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({}, "non-empty"),
        ({"a": {"X": "1"}}, "unknown DynamoDB type"),
        ({"a": {"S": 1}}, "S must be a string"),
        ({"a": {"N": "x"}}, "not a DynamoDB number"),
        ({"a": {"SS": []}}, "non-empty list"),
        ({"a": {"NULL": False}}, "NULL must be true"),
        ({"a": {"S": "x", "N": "1"}}, "typed value"),
        ({"a": {"B": "not base64!"}}, "not valid base64"),
    ],
)
def test_given_malformed_item_when_validated_then_error_says_what_is_wrong(item: dict, message: str) -> None:
    with pytest.raises(InvalidItemError, match=message):
        validate_item(item)


def test_given_deeply_nested_item_when_validated_then_depth_limit_is_enforced() -> None:
    value: dict = {"S": "leaf"}
    for _ in range(40):
        value = {"L": [value]}
    with pytest.raises(InvalidItemError, match="deeper"):
        validate_item({"a": value})


def test_given_items_when_sized_then_matches_dynamodb_rules() -> None:
    # name bytes + value bytes; numbers ~ (significant digits / 2) + 1
    assert item_size({"pk": {"S": "abc"}}) == 2 + 3
    assert item_size({"n": {"N": "12345"}}) == 1 + 4
    assert item_size({"b": {"B": b"\x00" * 10}}) == 1 + 10
    assert item_size({"m": {"M": {"k": {"BOOL": True}}}}) == 1 + 3 + (1 + 1 + 1)
    assert item_size({"big": {"S": "x" * 400_000}}) > 399_000


def test_given_equal_data_in_different_spellings_when_compared_then_equal() -> None:
    left = {"n": {"N": "1.50"}, "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2.0"]}, "b": {"B": b"\x01"}}
    right = {"n": {"N": "1.5"}, "ss": {"SS": ["b", "a"]}, "ns": {"NS": ["2", "1"]}, "b": {"B": "AQ=="}}
    assert items_equal(left, right)
    assert differing_attributes(left, right) == []


def test_given_changed_type_or_value_when_compared_then_attribute_is_reported() -> None:
    left = {"pk": {"S": "a"}, "x": {"N": "1"}, "y": {"L": [{"S": "a"}]}, "z": {"S": "1"}}
    right = {"pk": {"S": "a"}, "x": {"S": "1"}, "y": {"L": [{"S": "b"}]}, "w": {"S": "1"}}
    assert not items_equal(left, right)
    assert differing_attributes(left, right) == ["w", "x", "y", "z"]
    assert items_equal(None, None)
    assert not items_equal(left, None)


def test_given_key_when_described_then_short_and_readable() -> None:
    assert describe_key({"sk": {"N": "2"}, "pk": {"S": "a"}}) == "pk=a,sk=2"
