"""resources.graphql.shape: fragment costs computed once per fragment."""

from __future__ import annotations

from graphql import parse

from resources.graphql.shape import fragment_costs, operation_costs
from tests.graphql.documents import fragment_bomb


def test_fragment_costs_are_computed_once_per_fragment():
    # given: the 10^9-spread bomb, parsed
    document = parse(fragment_bomb())
    # when
    fragments = fragment_costs(document)
    [(_, operation)] = operation_costs(document, fragments)
    # then: exact small numbers, saturated big ones, and no walk of the expansion
    assert fragments["F1"].spreads == 10 and fragments["F1"].depth == 2
    assert fragments["F2"].spreads == 110
    assert operation.spreads == 10**9  # saturated
    assert operation.depth == 12
