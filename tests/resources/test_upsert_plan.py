"""resources.services.upsert_plan decides create, update or conflict per row from the
rows and what the tenant holds, without touching the database."""

from __future__ import annotations

from resources.services import CREATED, UPDATED, RowValues, upsert_plan


def row(name: str, *, id: str | None = None, status: str | None = None) -> RowValues:
    return RowValues(id, name, "document", status, None)


def test_by_name_a_new_name_creates_and_one_live_match_updates() -> None:
    # given one live resource named "kept" (seq 7)
    live = {"kept": [7]}
    # when rows name it and a new name
    plan = upsert_plan(key="name", rows=[row("new"), row("kept")], live=live, deleted=set())
    # then the new name is created (with a generated id) and "kept" updated by seq
    assert plan.outcomes == (CREATED, UPDATED)
    assert plan.creates == (row("new"),)
    assert plan.updates == ((7, row("kept")),)


def test_by_name_several_live_matches_are_a_conflict() -> None:
    plan = upsert_plan(key="name", rows=[row("twin")], live={"twin": [1, 2]}, deleted=set())
    assert plan.outcomes == ("2 resources are named 'twin'; upsert needs one",)
    assert plan.creates == () and plan.updates == ()


def test_by_id_an_unused_id_is_created_with_it_and_a_deleted_one_conflicts() -> None:
    rows = [row("a", id="r-1"), row("b", id="gone")]
    plan = upsert_plan(key="id", rows=rows, live={}, deleted={"gone"})
    assert plan.outcomes == (CREATED, "Resource id 'gone' belongs to a deleted resource")
    assert plan.creates == (row("a", id="r-1"),)


def test_a_repeated_key_folds_into_the_first_row_given_fields_winning() -> None:
    # given the same new name twice, the second row setting a status
    rows = [row("dup", status="active"), row("dup"), row("dup", status="archived")]
    # when planned
    plan = upsert_plan(key="name", rows=rows, live={}, deleted=set())
    # then one create carries the last given status; the later rows report updates
    assert plan.outcomes == (CREATED, UPDATED, UPDATED)
    assert plan.creates == (row("dup", status="archived"),)
    assert plan.keys == ("dup", "dup", "dup")
