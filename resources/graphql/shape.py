"""What a parsed GraphQL document costs once its fragments are spread: aliases, depth
and fragment spreads, each fragment measured once (memoised).

Counting by walking every spread re-walks a fragment each time it is spread: ten
fragments each spreading the previous one ten times make a 1 KB document whose walk
visits 10^9 spreads. Here each definition is walked once for what it holds itself, and
the totals are combined over the fragment graph in one pass, iteratively (a chain of
3,000 fragments must not exhaust Python's recursion limit). Totals saturate at
`SATURATED`, far past every limit, so a bomb never builds huge integers."""

from __future__ import annotations

from dataclasses import dataclass, field

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)

SATURATED = 10**9


@dataclass
class Own:
    """What one definition holds before its spreads are followed."""

    aliases: int = 0
    depth: int = 0  # nested selection sets, its own top one included
    spreads: list[tuple[str, int]] = field(default_factory=list)  # (fragment, at level)


@dataclass(frozen=True)
class Cost:
    aliases: int
    depth: int
    spreads: int  # fragment spreads once every spread is followed


class FragmentCycle(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _own(selection_set: SelectionSetNode) -> Own:
    """One walk of a definition's own selections (their nesting is bounded by the text
    pre-scan, so this recursion is shallow)."""
    own = Own()
    pending: list[tuple[SelectionSetNode, int]] = [(selection_set, 1)]
    while pending:
        current, level = pending.pop()
        own.depth = max(own.depth, level)
        for node in current.selections:
            if isinstance(node, FieldNode):
                own.aliases += node.alias is not None
                if node.selection_set is not None:
                    pending.append((node.selection_set, level + 1))
            elif isinstance(node, InlineFragmentNode):
                pending.append((node.selection_set, level + 1))
            elif isinstance(node, FragmentSpreadNode):
                own.spreads.append((node.name.value, level))
    return own


def _add(a: int, b: int) -> int:
    return min(a + b, SATURATED)


def _combine(own: Own, costs: dict[str, Cost]) -> Cost:
    aliases, depth, spreads = own.aliases, own.depth, 0
    for name, level in own.spreads:
        spread = costs.get(name)
        if spread is None:  # an unknown fragment: KnownFragmentNames reports it
            continue
        aliases = _add(aliases, spread.aliases)
        spreads = _add(spreads, _add(1, spread.spreads))
        depth = max(depth, min(level + spread.depth, SATURATED))
    return Cost(aliases=aliases, depth=depth, spreads=spreads)


def fragment_costs(document: DocumentNode) -> dict[str, Cost]:
    """The cost of every fragment definition, each computed once.

    Raises FragmentCycle when a fragment spreads itself, directly or not."""
    owns = {
        d.name.value: _own(d.selection_set)
        for d in document.definitions
        if isinstance(d, FragmentDefinitionNode)
    }
    costs: dict[str, Cost] = {}
    on_path: set[str] = set()
    for root in owns:
        if root in costs:
            continue
        # Depth-first, post-order, with an explicit stack instead of recursion.
        stack: list[tuple[str, int]] = [(root, 0)]
        on_path.add(root)
        while stack:
            name, next_child = stack[-1]
            children = owns[name].spreads
            if next_child < len(children):
                stack[-1] = (name, next_child + 1)
                child = children[next_child][0]
                if child in on_path:
                    raise FragmentCycle(child)
                if child in owns and child not in costs:
                    on_path.add(child)
                    stack.append((child, 0))
                continue
            costs[name] = _combine(owns[name], costs)
            on_path.discard(name)
            stack.pop()
    return costs


def operation_costs(document: DocumentNode, fragments: dict[str, Cost]) -> list[tuple[str, Cost]]:
    """(name, cost) of each operation in the document; `anonymous` for unnamed ones."""
    return [
        (
            d.name.value if d.name else "anonymous",
            _combine(_own(d.selection_set), fragments),
        )
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
    ]
