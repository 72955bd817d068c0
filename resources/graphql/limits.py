"""Document limits, all checked before anything executes, in a worker thread (the view
is async: a costly document must never hold up the event loop of the web process).

- nesting pre-scan on the raw text, so a pathological document never reaches the
  recursive-descent parser (which would hit Python's recursion limit);
- at most PCF_GRAPHQL_MAX_ALIASES aliased fields per document (named fragments counted
  where they are spread), refused as BATCH_TOO_LARGE like an oversized REST batch;
- depth at most PCF_GRAPHQL_MAX_DEPTH, counted as nested selection sets: every field
  selection, inline fragment and fragment spread adds a level, introspection included
  (our schema has no recursive types, so nested fragments are the only way deep);
- at most PCF_GRAPHQL_MAX_SPREADS fragment spreads once every spread is followed;
  aliases, depth and spreads are computed once per fragment (resources.graphql.shape),
  so a fragment bomb costs its size, not the 10^9 spreads it expands to;
- at most MAX_REPEATED_FIELDS selections of one response name in one selection set
  (inline fragments merged in): graphql-core compares such fields pairwise, and 1,000
  `__typename` would spend its whole validation budget and fail as a bare
  "Validation aborted."; refused as BATCH_TOO_LARGE before validation starts;
- introspection only when DEBUG; then a document that only introspects (GraphiQL's
  schema query is 18 levels deep) is exempt from the depth limit, not the others.
A document refused by these limits answers 400 (the view reads the request's mark).
The byte-size cap and the request's shape are checked in the view, before all this."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.conf import settings
from graphql import (
    DocumentNode,
    FieldNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    Visitor,
    parse,
    visit,
)
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from pcf.exceptions import BatchTooLarge, PcfError, ValidationError
from resources.graphql.shape import FragmentCycle, fragment_costs, operation_costs

T = TypeVar("T")

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
    spreads: int  # `...Name` as written


# What the pre-scan looks at; everything else (names, numbers, spaces) is skipped by the
# regex engine in C, so a 1 MB document costs milliseconds, not a Python loop per char.
_TOKENS = re.compile(
    r"""
      (?P<comment>\#[^\n\r]*)
    | (?P<block>\"\"\"(?:\\\"\"\"|(?!\"\"\")[\s\S])*(?:\"\"\"|\Z))
    | (?P<string>"(?:\\.|[^"\\\n\r])*"?)
    | (?P<spread>\.\.\.[\s,]*(?!on(?![_0-9A-Za-z]))[_A-Za-z])
    | (?P<open>[{\[(])
    | (?P<close>[}\])])
    | (?P<colon>:)
    """,
    re.VERBOSE,
)


def text_shape(query: str, *, max_aliases: int, max_spreads: int) -> TextShape:
    """One linear pass over a GraphQL document, skipping strings and comments; it stops
    as soon as a count passes its limit (the caller refuses the document then).

    Every colon outside (...) and [...] is an alias and every `...Name` a spread, so
    both are lower bounds of the exact counts (fragments spread twice count twice
    there): refusing on them is safe, and costs microseconds where parsing and
    validating a 1 MB document costs seconds."""
    depth = deepest = aliases = spreads = 0
    in_args = 0  # depth inside ( ) and [ ]
    for match in _TOKENS.finditer(query):
        kind = match.lastgroup
        if kind == "open":
            depth += 1
            deepest = max(deepest, depth)
            in_args += match.group() != "{"
        elif kind == "close":
            depth -= 1
            in_args -= match.group() != "}"
        elif kind == "colon":
            aliases += in_args <= 0
        elif kind == "spread":
            spreads += 1
        else:
            continue
        if deepest > MAX_TEXT_NESTING or aliases > max_aliases or spreads > max_spreads:
            break
    return TextShape(nesting=deepest, aliases=aliases, spreads=spreads)


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


INTROSPECTION_FIELDS = frozenset({"__schema", "__type", "__typename"})


def introspects_only(document: DocumentNode) -> bool:
    """Whether every operation of the document selects introspection fields only."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    return bool(operations) and all(
        isinstance(selection, FieldNode) and selection.name.value in INTROSPECTION_FIELDS
        for operation in operations
        for selection in operation.selection_set.selections
    )


def check_costs(document: DocumentNode) -> None:
    """Refuse a document past the alias, depth or spread limits, fragments included.
    With DEBUG (introspection on), a document that only introspects may be deeper:
    GraphiQL's schema query is, and the other limits still bound its cost."""
    try:
        fragments = fragment_costs(document)
    except FragmentCycle as cycle:
        raise ValidationError(f"Cannot spread fragment {cycle.name!r} within itself") from None
    max_aliases = settings.PCF_GRAPHQL_MAX_ALIASES
    max_depth = settings.PCF_GRAPHQL_MAX_DEPTH
    if settings.DEBUG and introspects_only(document):
        max_depth = MAX_TEXT_NESTING
    max_spreads = settings.PCF_GRAPHQL_MAX_SPREADS
    definitions = [
        *((f"Operation {name!r}", cost) for name, cost in operation_costs(document, fragments)),
        *((f"Fragment {name!r}", cost) for name, cost in fragments.items()),
    ]
    for what, cost in definitions:
        if cost.aliases > max_aliases:
            raise BatchTooLarge(
                f"The document has {_count(cost.aliases)} aliases; at most {max_aliases} "
                "are allowed"
            )
        if cost.depth > max_depth:
            raise ValidationError(
                f"{what} is nested {_count(cost.depth)} levels deep; "
                f"at most {max_depth} are allowed"
            )
        if cost.spreads > max_spreads:
            raise BatchTooLarge(
                f"{what} spreads fragments {_count(cost.spreads)} times once expanded; "
                f"at most {max_spreads} spreads are allowed"
            )


def _count(value: int) -> str:
    return f"{value}" if value < 10**9 else "over 1000000000"


def parse_checked(query: str) -> DocumentNode:
    """Parse `query` within every limit above; raises PcfError or GraphQLError (syntax)."""
    max_aliases = settings.PCF_GRAPHQL_MAX_ALIASES
    max_spreads = settings.PCF_GRAPHQL_MAX_SPREADS
    shape = text_shape(query, max_aliases=max_aliases, max_spreads=max_spreads)
    if shape.nesting > MAX_TEXT_NESTING:
        raise ValidationError(
            f"The document nests brackets more than {MAX_TEXT_NESTING} levels deep"
        )
    if shape.aliases > max_aliases:
        raise BatchTooLarge(
            f"The document has at least {shape.aliases} aliases; at most {max_aliases} are allowed"
        )
    if shape.spreads > max_spreads:
        raise BatchTooLarge(
            f"The document has at least {shape.spreads} fragment spreads; at most "
            f"{max_spreads} spreads are allowed"
        )
    document = parse(query)
    check_costs(document)
    check_repeated_fields(document)
    return document


class DocumentLimits(SchemaExtension):
    """Parses and validates each operation in a worker thread, within the limits above."""

    def on_operation(self) -> Iterator[None]:
        if not settings.DEBUG:
            context = self.execution_context
            rules = (*context.validation_rules, NoSchemaIntrospectionCustomRule)
            context.validation_rules = rules
        yield

    async def on_parse(self) -> AsyncIterator[None]:
        context = self.execution_context
        if context.graphql_document is None and context.query:
            try:
                context.graphql_document = await _in_thread(parse_checked, context.query)
            except PcfError:
                _mark_refused(context.context)
                raise
        yield

    async def on_validate(self) -> AsyncIterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and context.pre_execution_errors is None:
            # Strawberry skips its own (same) validation when errors are already set.
            context.pre_execution_errors = await _in_thread(
                validate_document, context.schema._schema, document, context.validation_rules
            )
        yield


def _in_thread(func: Callable[..., T], *args: Any) -> Awaitable[T]:
    # Not Django's thread-sensitive single thread: these touch no database, and the
    # request's own sync work must not queue behind another request's validation.
    return sync_to_async(func, thread_sensitive=False)(*args)


def _mark_refused(context: Any) -> None:
    request = getattr(context, "request", None)
    if request is not None:
        request.pcf_document_refused = True
