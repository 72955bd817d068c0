"""The one validator for resource input, shared by REST, batch, bulk, imports and GraphQL.

pydantic (Rust core) validates a row in a few microseconds, which the import hot path
needs; errors come out as the contract's `details` list of `{"field", "message"}`.
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from typing import Annotated, Any

from django.conf import settings
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictStr, field_validator
from pydantic import ValidationError as PydanticValidationError

from pcf.exceptions import ValidationError, field_detail, field_errors
from resources.models import ResourceStatus, ResourceType

ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")


def is_valid_id(value: str) -> bool:
    """True when `value` could be a resource id (anything else can never match a row)."""
    return _ID_RE.fullmatch(value) is not None


TYPES = [choice.value for choice in ResourceType]
STATUSES = [choice.value for choice in ResourceStatus]


def json_depth(value: Any) -> int:
    """Nesting depth of containers: a flat object is 1, a scalar 0.

    Iterative: a body nested hundreds deep must be a 400, not a RecursionError (500)."""
    depth = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        depth = max(depth, level)
        stack.extend((child, level + 1) for child in children)
    return depth


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any("\x00" in k or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def contains_nul(value: Any) -> bool:
    """True when U+0000 is anywhere in a JSON value, keys included."""
    return _has_nul(value)


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold U+0000: refuse it here instead of failing the INSERT (500).
    if "\x00" in value:
        raise ValueError("Must not contain the NUL character (U+0000)")
    return value


# PostgreSQL keeps JSON numbers as `numeric` and prints them in plain notation: 1e300 is
# stored and returned as 301 digits. Metadata sizes count that, and a number `numeric`
# cannot hold is refused here rather than by the INSERT.
NUMERIC_MAX_INTEGER_DIGITS = 131_072
NUMERIC_MAX_FRACTION_DIGITS = 16_383


class NumberOutOfRange(ValueError):
    pass


def numeric_text_length(number: Decimal) -> int:
    """Characters PostgreSQL prints for this JSON number; NumberOutOfRange if its
    numeric type cannot hold it."""
    sign, digits, exponent = number.as_tuple()
    if not isinstance(exponent, int):
        raise NumberOutOfRange("metadata numbers must be finite")
    integer_digits = max(len(digits) + exponent, 1)
    fraction_digits = max(-exponent, 0)
    if integer_digits > NUMERIC_MAX_INTEGER_DIGITS or fraction_digits > NUMERIC_MAX_FRACTION_DIGITS:
        raise NumberOutOfRange(f"metadata number {number} is out of range")
    return sign + integer_digits + (fraction_digits + 1 if fraction_digits else 0)


def number_growth(value: Any) -> int:
    """Bytes that PostgreSQL's plain notation adds to the JSON text of the floats in
    `value` (json.dumps writes 1e+300; PostgreSQL stores 301 digits)."""
    growth = 0
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, float):
            if not math.isfinite(node):
                raise NumberOutOfRange("metadata numbers must be finite")
            text = repr(node)
            if "e" in text:
                growth += max(0, numeric_text_length(Decimal(text)) - len(text))
    return growth


def check_metadata(value: dict[str, Any]) -> dict[str, Any]:
    # Depth first: json.dumps of a very deep value would itself hit the recursion limit.
    depth = json_depth(value)
    if depth > settings.PCF_METADATA_MAX_DEPTH:
        raise ValueError(
            f"metadata is nested {depth} levels deep; at most {settings.PCF_METADATA_MAX_DEPTH}"
        )
    try:
        encoded = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    except UnicodeEncodeError:
        raise ValueError("metadata must be valid Unicode (no lone surrogates)") from None
    size = len(encoded) + number_growth(value)
    if size > settings.PCF_METADATA_MAX_BYTES:
        raise ValueError(f"metadata is {size} bytes; at most {settings.PCF_METADATA_MAX_BYTES}")
    # jsonb cannot hold U+0000 either, in keys or values.
    if _has_nul(value):
        raise ValueError("metadata must not contain the NUL character (U+0000)")
    return value


Name = Annotated[StrictStr, Field(min_length=1, max_length=255), AfterValidator(_no_nul)]


class ResourceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[StrictStr, Field(pattern=ID_PATTERN)] | None = None
    name: Name
    type: ResourceType
    status: ResourceStatus = ResourceStatus.ACTIVE
    metadata: dict[str, Any] = Field(default_factory=dict)

    _metadata = field_validator("metadata")(check_metadata)


class ResourcePatch(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name | None = None
    type: ResourceType | None = None
    status: ResourceStatus | None = None
    metadata: dict[str, Any] | None = None

    @field_validator("metadata")
    @classmethod
    def _check_metadata(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        # None is rejected before validation (see parse_patch); here it never arrives.
        return None if value is None else check_metadata(value)


_FIELD_LABELS = {"name": "Name", "type": "Type", "status": "Status", "metadata": "Metadata"}


def _message(error: Any) -> str:
    kind = error["type"]
    field = str(error["loc"][0]) if error["loc"] else ""
    label = _FIELD_LABELS.get(field, field)
    if kind == "missing":
        return f"{label} is required"
    if kind == "enum":
        allowed = TYPES if field == "type" else STATUSES
        return f"Invalid {field} value; expected one of: {', '.join(allowed)}"
    if kind == "extra_forbidden":
        return "Unknown field"
    if kind == "string_too_short":
        return f"{label} must not be empty"
    if kind == "string_too_long":
        return f"{label} must be at most {error['ctx']['max_length']} characters"
    if kind == "string_pattern_mismatch" and field == "id":
        return "id must be 1-64 ASCII letters, digits, '_' or '-'"
    if kind in {"string_type", "dict_type"}:
        return f"{label} must be a {'string' if kind == 'string_type' else 'JSON object'}"
    if kind == "value_error":
        return str(error["ctx"]["error"])
    return str(error["msg"])


def details_of(exc: PydanticValidationError) -> list[dict[str, Any]]:
    return [
        field_detail(".".join(str(p) for p in e["loc"][:1]) or "body", _message(e))
        for e in exc.errors(include_url=False)
    ]


def _require_object(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValidationError("The body must be a JSON object")
    return data


def parse_create(data: Any) -> ResourceCreate:
    """Validate a create body; raise the contract's VALIDATION_ERROR with per-field details."""
    try:
        return ResourceCreate.model_validate(_require_object(data))
    except PydanticValidationError as exc:
        raise field_errors(details_of(exc)) from None


def parse_patch(data: Any) -> ResourcePatch:
    body = _require_object(data)
    problems = []
    if "metadata" in body and body["metadata"] is None:
        problems.append(field_detail("metadata", "Metadata cannot be null"))
    if "id" in body:
        problems.append(field_detail("id", "id cannot be changed"))
    for field in ("name", "type", "status"):
        if field in body and body[field] is None:
            problems.append(field_detail(field, f"{_FIELD_LABELS[field]} cannot be null"))
    if problems:
        raise field_errors(problems)
    try:
        return ResourcePatch.model_validate(body)
    except PydanticValidationError as exc:
        raise field_errors(details_of(exc)) from None
