"""Document limits, all checked before anything executes.

- nesting pre-scan on the raw text, so a pathological document never reaches the
  recursive-descent parser (which would hit Python's recursion limit);
- at most PCF_GRAPHQL_MAX_ALIASES aliased fields per document (named fragments counted
  where they are spread), refused as BATCH_TOO_LARGE like an oversized REST batch;
- depth at most PCF_GRAPHQL_MAX_DEPTH, counted as nested selection sets: every field
  selection, inline fragment and fragment spread adds a level, introspection included
  (our schema has no recursive types, so nested inline fragments are the only way deep);
- at most MAX_REPEATED_FIELDS selections of one response name in one selection set
  (inline fragments merged in): graphql-core compares such fields pairwise, and 1,000
  `__typename` would spend its whole validation budget and fail as a bare
  "Validation aborted."; refused as BATCH_TOO_LARGE before validation starts;
- introspection only when DEBUG.
The byte-size cap is checked in the view, before the body is even parsed as JSON."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    Visitor,
    visit,
)
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import SchemaExtension
from strawberry.extensions.max_aliases import count_fields_with_alias

from pcf.exceptions import BatchTooLarge, ValidationError

# Brackets of any kind (selection sets, object and list literals) nested deeper than this
# are refused unread. Generous: depth 10 plus a 10-level metadata literal fits easily.
MAX_TEXT_NESTING = 64
# Same-name fields in one selection set: ample for fragments that overlap (`id` in the
# selection and in a spread fragment), far below graphql-core's comparison budget.
MAX_REPEATED_FIELDS = 100


@dataclass(frozen=True)
class TextShape:
    nesting: int  # deepest nesting of {, [ and (
    aliases: int  # `name:` outside arguments and variable definitions: aliases


def text_shape(query: str) -> TextShape:
    """One linear pass over a GraphQL document, skipping strings and comments.

    Every colon outside (...) and [...] is an alias, so `aliases` is a lower bound of the
    exact count (fragments spread twice count twice there): refusing on it is safe, and
    costs microseconds where parsing and validating a 1 MB document costs seconds."""
    depth = deepest = aliases = 0
    in_args = 0  # depth inside ( ) and [ ]
    i, n = 0, len(query)
    while i < n:
        ch = query[i]
        if ch == "#":
            end = query.find("\n", i)
            i = n if end < 0 else end
        elif query.startswith('"""', i):
            end = query.find('"""', i + 3)
            while end > 0 and query[end - 1] == "\\":  # \""" is an escaped quote triple
                end = query.find('"""', end + 3)
            i = n if end < 0 else end + 3
            continue
        elif ch == '"':
            i += 1
            while i < n and query[i] not in '"\n':
                i += 2 if query[i] == "\\" else 1
        elif ch in "{[(":
            depth += 1
            deepest = max(deepest, depth)
            in_args += ch != "{"
        elif ch in "}])":
            depth -= 1
            in_args -= ch != "}"
        elif ch == ":" and in_args <= 0:
            aliases += 1
        i += 1
    return TextShape(nesting=deepest, aliases=aliases)


def _error(message: str, code: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code, "details": []})


class AliasLimitRule(ValidationRule):
    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        document = context.document
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        total = sum(
            count_fields_with_alias(d, fragments)
            for d in document.definitions
            if isinstance(d, OperationDefinitionNode)
        )
        limit = settings.PCF_GRAPHQL_MAX_ALIASES
        if total > limit:
            context.report_error(
                _error(
                    f"The document has {total} aliases; at most {limit} are allowed",
                    "BATCH_TOO_LARGE",
                )
            )


def selection_depth(
    selection_set: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    seen: frozenset[str] = frozenset(),
) -> int:
    """Nested selection sets below and including this one (0 for a leaf)."""
    if selection_set is None:
        return 0
    deepest = 0
    for node in selection_set.selections:
        if isinstance(node, FieldNode | InlineFragmentNode):
            deepest = max(deepest, selection_depth(node.selection_set, fragments, seen))
        elif isinstance(node, FragmentSpreadNode):
            name = node.name.value
            fragment = fragments.get(name)
            if fragment is not None and name not in seen:  # cycles: NoFragmentCycles reports
                deepest = max(
                    deepest, selection_depth(fragment.selection_set, fragments, seen | {name})
                )
    return 1 + deepest


class DepthLimitRule(ValidationRule):
    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        document = context.document
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        limit = settings.PCF_GRAPHQL_MAX_DEPTH
        for definition in document.definitions:
            if isinstance(definition, OperationDefinitionNode):
                depth = selection_depth(definition.selection_set, fragments)
                if depth > limit:
                    name = definition.name.value if definition.name else "anonymous"
                    context.report_error(
                        _error(
                            f"Operation {name!r} is nested {depth} levels deep; "
                            f"at most {limit} are allowed",
                            "VALIDATION_ERROR",
                        )
                    )


def _response_names(selection_set: SelectionSetNode) -> Iterator[str]:
    """Response names of the fields selected here, inline fragments' included (those
    merge into this selection set); named spreads are their own definitions."""
    pending = [selection_set]
    while pending:
        for node in pending.pop().selections:
            if isinstance(node, FieldNode):
                yield node.alias.value if node.alias else node.name.value
            elif isinstance(node, InlineFragmentNode):
                pending.append(node.selection_set)


class _RepeatedFields(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.worst: tuple[str, int] = ("", 0)

    def enter_selection_set(self, node: SelectionSetNode, *_: Any) -> None:
        counts = Counter(_response_names(node))
        if counts:
            name, count = counts.most_common(1)[0]
            if count > self.worst[1]:
                self.worst = (name, count)


def check_repeated_fields(document: DocumentNode) -> None:
    """Refuse a document repeating one field name too often in a selection set."""
    finder = _RepeatedFields()
    visit(document, finder)
    name, count = finder.worst
    if count > MAX_REPEATED_FIELDS:
        raise BatchTooLarge(
            f"Field {name!r} is selected {count} times in one selection set; at most "
            f"{MAX_REPEATED_FIELDS} selections of the same field (or alias) are allowed"
        )


class DocumentLimits(SchemaExtension):
    """Adds the rules above to every operation (read from settings at request time)."""

    def on_operation(self) -> Iterator[None]:
        rules: list[Any] = [AliasLimitRule, DepthLimitRule]
        if not settings.DEBUG:
            rules.append(NoSchemaIntrospectionCustomRule)
        context = self.execution_context
        context.validation_rules = (*context.validation_rules, *rules)
        yield

    def on_validate(self) -> Iterator[None]:
        document = self.execution_context.graphql_document
        if document is not None:
            check_repeated_fields(document)
        yield

    def on_parse(self) -> Iterator[None]:
        shape = text_shape(self.execution_context.query or "")
        if shape.nesting > MAX_TEXT_NESTING:
            raise ValidationError(
                f"The document nests brackets more than {MAX_TEXT_NESTING} levels deep"
            )
        limit = settings.PCF_GRAPHQL_MAX_ALIASES
        if shape.aliases > limit:
            raise BatchTooLarge(
                f"The document has {shape.aliases} aliases; at most {limit} are allowed"
            )
        yield
