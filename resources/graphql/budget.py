"""The response budget in GraphQL: each root field charges what its answer will take
before graphql-core builds it, so a field past PCF_RESPONSE_MAX_BYTES is an error
(RESPONSE_TOO_LARGE) and its resources are never serialised.

What a Resource takes depends on what the document selects of it (`{ id }` or the whole
object with its metadata), so the size is computed from the selection: the response
names under the field (fragments followed once per walk), each with the size of its
value. Metadata sizes are measured once per resource per request."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionSetNode,
)

from pcf.budget import ResponseBudget, json_size
from resources.models import Resource

# A DateTime in the contract's format with microseconds, quoted.
_TIMESTAMP = len('"2024-01-01T00:00:00.000000Z"')
_UNKNOWN = 32  # a field this module does not know: a generous guess


def response_fields(
    selection_sets: Iterable[SelectionSetNode | None],
    fragments: dict[str, FragmentDefinitionNode],
) -> dict[str, list[FieldNode]]:
    """Response name -> the field nodes merged under it (inline fragments and spread
    fragments included; each fragment walked once)."""
    out: dict[str, list[FieldNode]] = {}
    seen: set[str] = set()
    pending = [s for s in selection_sets if s is not None]
    while pending:
        for node in pending.pop().selections:
            if isinstance(node, FieldNode):
                name = node.alias.value if node.alias else node.name.value
                out.setdefault(name, []).append(node)
            elif isinstance(node, InlineFragmentNode):
                pending.append(node.selection_set)
            elif isinstance(node, FragmentSpreadNode) and node.name.value not in seen:
                seen.add(node.name.value)
                fragment = fragments.get(node.name.value)
                if fragment is not None:
                    pending.append(fragment.selection_set)
    return out


class GraphQLBudget:
    """One request's budget and the metadata sizes measured so far."""

    def __init__(self) -> None:
        self.budget = ResponseBudget()
        self._metadata: dict[int, int] = {}

    def _metadata_size(self, resource: Resource) -> int:
        size = self._metadata.get(resource.pk)
        if size is None:
            size = self._metadata[resource.pk] = json_size(resource.metadata)
        return size

    def _value_size(self, resource: Resource, field: str) -> int:
        if field == "metadata":
            return self._metadata_size(resource)
        if field == "id":
            return len(resource.public_id) + 2
        if field == "name":
            return json_size(resource.name)
        if field in ("type", "status", "__typename"):
            return 12
        if field in ("createdAt", "updatedAt"):
            return _TIMESTAMP
        return _UNKNOWN

    def node_size(self, resource: Resource, fields: dict[str, list[FieldNode]]) -> int:
        size = 2  # { }
        for response_name, nodes in fields.items():
            size += len(response_name) + 4 + self._value_size(resource, nodes[0].name.value)
        return size

    def answer_size(self, info: Any, resources: Sequence[Resource], *, under: str = "") -> int:
        """Bytes this field's answer takes for `resources`. `under` names a payload
        field holding the resource (`resource` of ResourcePayload), whose selections
        are then the resource's."""
        raw = info._raw_info
        fields = response_fields((n.selection_set for n in raw.field_nodes), raw.fragments)
        copies = 1
        if under:
            holders = [nodes for nodes in fields.values() if nodes[0].name.value == under]
            copies = len(holders)
            sets = [n.selection_set for nodes in holders for n in nodes]
            fields = response_fields(sets, raw.fragments)
        return sum(self.node_size(r, fields) + 1 for r in resources) * copies

    def charge_read(self, info: Any, resources: Sequence[Resource]) -> None:
        """A query field: raises ResponseTooLarge (and takes nothing) past the budget."""
        self.budget.charge(self.answer_size(info, resources))

    def before_write(self) -> None:
        """A mutation does not start once the budget is spent (it would not be shown)."""
        self.budget.check_open()

    def after_write(self, info: Any, resources: Sequence[Resource]) -> None:
        """A mutation that ran is answered, and counts against what follows."""
        self.budget.spend(self.answer_size(info, resources, under="resource"))
