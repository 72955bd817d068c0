"""The fast CSV row validator agrees with resources.parsing (pydantic) on every rule."""

from __future__ import annotations

import json

import pytest

from imports.rows import BoundColumn, row_checker, validate_cells
from pcf.exceptions import ValidationError
from resources.parsing import parse_create

COLUMNS = [
    BoundColumn("id", 0, False),
    BoundColumn("name", 1, False),
    BoundColumn("type", 2, False),
    BoundColumn("status", 3, False),
    BoundColumn("metadata", 4, True),
]

CASES = [
    ["", "ok", "document", "", ""],
    ["", "", "document", "", ""],
    ["", "x" * 256, "document", "", ""],
    ["", "x" * 255, "image", "published", '{"a": [1, {"b": null}]}'],
    ["", "a", "Document", "", ""],
    ["", "a", "", "", ""],
    ["", "a", "video", "gone", ""],
    ["bad id!", "a", "video", "", ""],
    ["é", "a", "video", "", ""],
    ["x" * 65, "a", "video", "", ""],
    ["ok_id-1", "a", "audio", "archived", "{}"],
    ["", "a", "other", "", "[1]"],
    ["", "a", "other", "", '"text"'],
    ["", "a", "other", "", json.dumps({"k": "v" * 70_000})],
    ["", "a", "other", "", "[" * 0 + '{"a":' * 11 + "1" + "}" * 11],
    ["", "a", "other", "", '{"a":' * 10 + "1" + "}" * 10],
]


def pydantic_view(cells: list[str]) -> set[tuple[str, str]] | None:
    data: dict[str, object] = {"name": cells[1], "type": cells[2]}
    if cells[0]:
        data["id"] = cells[0]
    if cells[3]:
        data["status"] = cells[3]
    if cells[4]:
        data["metadata"] = json.loads(cells[4])
    if data["name"] == "":
        data.pop("name")  # an empty required cell reads as missing
    if data["type"] == "":
        data.pop("type")
    try:
        parse_create(data)
    except ValidationError as exc:
        return {(d["field"], d["message"]) for d in exc.details}
    return None


@pytest.mark.parametrize("cells", CASES)
def test_same_verdict_and_messages_as_pydantic(cells: list[str]) -> None:
    # when
    values, problems = validate_cells(cells, COLUMNS, 5)
    expected = pydantic_view(cells)
    # then
    if expected is None:
        assert values is not None and problems == []
    else:
        assert values is None
        assert {(p.field, p.message) for p in problems} == expected


def test_values_are_compact_and_unset_fields_stay_none() -> None:
    values, _ = validate_cells(["", "a", "image", "", ""], COLUMNS, 5)
    assert values is not None and (values.status, values.metadata, values.id) == (None, None, None)
    values, problems = validate_cells(["", "a", "image", "", '{"a": NaN}'], COLUMNS, 5)
    assert values is None and problems[0].field == "metadata"
    values, problems = validate_cells(["", "a", "image", "", '{"a": "\\u0000"}'], COLUMNS, 5)
    assert values is None and "NUL" in problems[0].message


EXTRA_CASES = [
    ["", "a", "image", "", '{"a": NaN}'],
    ["", "a", "image", "", '{"a": "\\u0000"}'],
    ["", "a", "image", "", '{"a": "\\ud800"}'],
    ["", "a", "image", "", '{"a": "\\u00e9"}'],
    ["", "a\x00b", "image", "", ""],
    ["", "a", "image", "", "{not json"],
    ["", "a", "image", "", " {} "],
    ["", "a", "image", "", "{} x"],
    ["", "a", "image", "", '{"a": 1} {"b": 2}'],
    ["", "a", "image", "", "{}\n"],
    ["", "a", "image"],
    ["", "a", "image", "", "", "extra"],
]


@pytest.mark.parametrize("cells", CASES + EXTRA_CASES)
@pytest.mark.parametrize(
    "columns",
    [
        COLUMNS,
        COLUMNS[1:3],  # name and type only
        [BoundColumn("metadata", 0, True), BoundColumn("type", 2, False), COLUMNS[1]],
        [*COLUMNS[:4], BoundColumn("metadata", 4, False)],
    ],
    ids=["all", "name-type", "reordered", "metadata-not-json"],
)
def test_row_checker_gives_exactly_what_validate_cells_gives(
    cells: list[str], columns: list[BoundColumn]
) -> None:
    # given: the per-chunk checker with its fast path
    check = row_checker(columns, 5)
    # when/then: same values and same problems as the reference validator
    assert check(cells) == validate_cells(cells, columns, 5)
