"""Each batch option alone and in combination, against real PostgreSQL."""

from __future__ import annotations

import time

import pytest

from resources.models import Resource
from tests.batch.helpers import RowLock, create, in_thread, post_batch
from tests.polling import wait_for
from tests.waiting import waiting_on_locks

# A batch timeout that leaves room for the operations that must finish on a loaded
# machine; the operation on a RowLock's row waits far longer (the lock is held 30 s).
TIMEOUT_MS = 2000


def statuses(response):
    return [r["status"] for r in response.json()["results"]]


def codes(response):
    return [r.get("error", {}).get("code") for r in response.json()["results"]]


@pytest.mark.django_db
def test_atomic_success_commits_all(api):
    # when: an atomic batch of two creates and a patch of the first
    response = post_batch(
        api,
        [
            create("a"),
            create("b"),
            {"method": "PATCH", "path": "/resources/{op1.body.data.id}", "body": {"name": "a2"}},
        ],
        atomic=True,
    )
    # then: all applied
    assert statuses(response) == [201, 201, 200]
    assert sorted(Resource.objects.values_list("name", flat=True)) == ["a2", "b"]


@pytest.mark.django_db
def test_atomic_failure_rolls_back_earlier_and_skips_later(api, make_resource):
    # given: one existing resource that the batch deletes first
    make_resource("keep")
    # when: the third operation fails
    response = post_batch(
        api,
        [
            {"method": "DELETE", "path": "/resources/keep"},
            create("a"),
            {"method": "PATCH", "path": "/resources/missing", "body": {"name": "x"}},
            create("b"),
        ],
        atomic=True,
        continue_on_error=True,  # atomic wins: it stops anyway
    )
    # then: earlier ones ROLLED_BACK, the failure itself, later SKIPPED; nothing changed
    assert statuses(response) == [424, 424, 404, 424]
    assert codes(response) == ["ROLLED_BACK", "ROLLED_BACK", "NOT_FOUND", "SKIPPED"]
    meta = response.json()["meta"]
    assert (meta["successful"], meta["failed"], meta["skipped"]) == (0, 1, 3)
    assert list(Resource.objects.values_list("public_id", flat=True)) == ["keep"]
    assert all("originalOperation" in r for r in response.json()["results"])


@pytest.mark.django_db
def test_atomic_conflict_inside_a_create_run_rolls_back_the_run(api, make_resource):
    # given: a taken id in the middle of consecutive creates
    make_resource("taken")
    ops = [create("a"), {**create("b"), "body": {"id": "taken", "name": "b", "type": "image"}}]
    # when
    response = post_batch(api, [*ops, create("c")], atomic=True)
    # then
    assert statuses(response) == [424, 409, 424]
    assert codes(response) == ["ROLLED_BACK", "CONFLICT", "SKIPPED"]
    assert Resource.objects.count() == 1


@pytest.mark.django_db
def test_continue_on_error_default_runs_everything(api):
    # when: a failure in the middle, default options
    response = post_batch(
        api, [create("a"), {"method": "GET", "path": "/resources/nope"}, create("c")]
    )
    # then: the rest still ran
    assert statuses(response) == [201, 404, 201]
    assert Resource.objects.count() == 2


@pytest.mark.django_db
def test_continue_on_error_false_stops_and_skips_the_rest(api):
    # when
    response = post_batch(
        api,
        [create("a"), {"method": "GET", "path": "/resources/nope"}, create("c"), create("d")],
        continue_on_error=False,
    )
    # then: the first create stays (not atomic), the rest SKIPPED
    assert statuses(response) == [201, 404, 424, 424]
    assert codes(response)[2:] == ["SKIPPED", "SKIPPED"]
    assert list(Resource.objects.values_list("name", flat=True)) == ["a"]


@pytest.mark.django_db
def test_continue_on_error_false_inside_a_create_run(api, make_resource):
    # given: an invalid create and a conflicting one inside one run of creates
    make_resource("taken")
    invalid = {"method": "POST", "path": "/resources", "body": {"name": "", "type": "image"}}
    conflict = {
        "method": "POST",
        "path": "/resources",
        "body": {"id": "taken", "name": "x", "type": "image"},
    }
    # when: the conflict comes first
    response = post_batch(
        api, [create("a"), conflict, create("b"), invalid], continue_on_error=False
    )
    # then: only what precedes the conflict is written
    assert statuses(response) == [201, 409, 424, 424]
    assert Resource.objects.filter(name="a").exists()
    assert Resource.objects.count() == 2  # "taken" and "a"


@pytest.mark.django_db
def test_suppress_success_lists_only_failures_but_counts_all(api):
    # when
    response = post_batch(
        api,
        [create("a"), {"method": "DELETE", "path": "/resources/nope"}, create("b")],
        suppress_success=True,
    )
    # then
    body = response.json()
    assert [(r["id"], r["status"]) for r in body["results"]] == [("op2", 404)]
    assert body["meta"]["total_operations"] == 3
    assert (body["meta"]["successful"], body["meta"]["failed"]) == (2, 1)


@pytest.mark.django_db
def test_suppress_success_with_no_failures_lists_nothing(api):
    response = post_batch(api, [create("a")], suppress_success=True)
    assert response.json()["results"] == []
    assert response.json()["meta"]["successful"] == 1


@pytest.mark.django_db
def test_soft_delete_option_and_per_path_soft(api, make_resource):
    # given
    make_resource("a")
    make_resource("b")
    # when: one hard delete by default, one with ?soft=true
    response = post_batch(
        api,
        [
            {"method": "DELETE", "path": "/resources/a"},
            {"method": "DELETE", "path": "/resources/b?soft=true"},
        ],
    )
    # then
    assert statuses(response) == [204, 204]
    assert not Resource.objects.filter(public_id="a").exists()
    assert Resource.objects.get(public_id="b").deleted_at is not None


@pytest.mark.django_db(transaction=True)
def test_parallel_runs_operations_concurrently(api, make_resource):
    # given: "slow" is locked by another connection, "fast" is free
    make_resource("slow")
    make_resource("fast")
    ops = [
        {"method": "PATCH", "path": "/resources/slow", "body": {"name": "slow2"}},
        {"method": "PATCH", "path": "/resources/fast", "body": {"name": "fast2"}},
    ]
    with RowLock("slow"):
        # when: the batch runs with parallel=2 while op1 waits on the lock
        thread, holder = in_thread(post_batch, api, ops, parallel=2)
        # then: op2 commits while op1 is still blocked (impossible one by one)
        wait_for(lambda: Resource.objects.filter(name="fast2").exists(), timeout=60)
        assert not Resource.objects.filter(name="slow2").exists()
    thread.join(timeout=30)
    assert statuses(holder["result"]) == [200, 200]


@pytest.mark.django_db(transaction=True)
def test_parallel_one_is_sequential(api, make_resource):
    # given: the same setup with parallel=1
    make_resource("slow")
    make_resource("fast")
    ops = [
        {"method": "PATCH", "path": "/resources/slow", "body": {"name": "slow2"}},
        {"method": "PATCH", "path": "/resources/fast", "body": {"name": "fast2"}},
    ]
    with RowLock("slow"):
        thread, holder = in_thread(post_batch, api, ops, parallel=1)
        wait_for(lambda: waiting_on_locks() >= 1, timeout=60)
        # Part of the scenario: op1 is blocked; half a second in which op2, were it run
        # beside op1, would commit (nothing signals an operation that never starts).
        time.sleep(0.5)
        # then: op2 waits behind op1
        assert not Resource.objects.filter(name="fast2").exists()
    thread.join(timeout=30)
    assert statuses(holder["result"]) == [200, 200]


@pytest.mark.django_db(transaction=True)
def test_parallel_keeps_results_in_request_order_and_honours_dependencies(api):
    # given: 20 creates, each followed by a patch of what it created
    ops = []
    for i in range(20):
        ops.append({"id": f"c{i}", **create(f"n{i}")})
        ops.append(
            {
                "id": f"p{i}",
                "method": "PATCH",
                "path": f"/resources/{{c{i}.body.data.id}}",
                "body": {"metadata": {"i": i}},
            }
        )
    # when
    response = post_batch(api, ops, parallel=8)
    # then
    body = response.json()
    assert [r["id"] for r in body["results"]] == [op["id"] for op in ops]
    assert all(r["status"] in (200, 201) for r in body["results"])
    assert sorted(r.metadata["i"] for r in Resource.objects.all()) == list(range(20))


@pytest.mark.django_db(transaction=True)
def test_continue_on_error_false_with_parallel_skips_unstarted(api):
    # given: a failure first, then many operations
    ops = [{"method": "GET", "path": "/resources/nope"}] + [
        {"method": "GET", "path": "/resources?limit=1"} for _ in range(30)
    ]
    # when
    response = post_batch(api, ops, parallel=2, continue_on_error=False)
    # then: the failure is reported and not all of the rest ran
    body = response.json()
    assert body["results"][0]["status"] == 404
    assert body["meta"]["skipped"] > 0
    assert body["meta"]["successful"] + body["meta"]["failed"] + body["meta"]["skipped"] == 31
    skipped = [r for r in body["results"] if r["status"] == 424]
    assert all(r["error"]["code"] == "SKIPPED" for r in skipped)


@pytest.mark.django_db(transaction=True)
def test_continue_on_error_true_with_parallel_runs_all(api, make_resource):
    make_resource("x")
    ops = [{"method": "GET", "path": "/resources/nope"}] + [
        {"method": "GET", "path": "/resources/x"} for _ in range(10)
    ]
    response = post_batch(api, ops, parallel=4)
    assert statuses(response) == [404] + [200] * 10


@pytest.mark.django_db(transaction=True)
def test_timeout_marks_unfinished_operations_and_keeps_finished_ones(api, make_resource):
    # given: op2 will block on a locked row past the deadline
    make_resource("free")
    make_resource("locked")
    ops = [
        {"method": "PATCH", "path": "/resources/free", "body": {"name": "done"}},
        {"method": "PATCH", "path": "/resources/locked", "body": {"name": "late"}},
        create("never"),
    ]
    with RowLock("locked"):
        started = time.monotonic()
        # when
        response = post_batch(api, ops, timeout_ms=TIMEOUT_MS)
        elapsed = time.monotonic() - started
    # then: op1 applied; op2 (started) and op3 (not started) TIMEOUT 504, counted failed;
    # the answer came at the batch's deadline, not when the lock would have let go (30 s)
    assert elapsed < 20
    assert statuses(response) == [200, 504, 504]
    assert codes(response)[1:] == ["TIMEOUT", "TIMEOUT"]
    assert response.json()["meta"]["failed"] == 2
    assert Resource.objects.get(public_id="free").name == "done"
    assert Resource.objects.get(public_id="locked").name != "late"
    assert not Resource.objects.filter(name="never").exists()


@pytest.mark.django_db(transaction=True)
def test_atomic_with_timeout_undoes_everything(api, make_resource):
    # given
    make_resource("free")
    make_resource("locked")
    ops = [
        {"method": "PATCH", "path": "/resources/free", "body": {"name": "done"}},
        {"method": "PATCH", "path": "/resources/locked", "body": {"name": "late"}},
        create("never"),
    ]
    with RowLock("locked"):
        # when
        response = post_batch(api, ops, atomic=True, timeout_ms=TIMEOUT_MS)
    # then: the finished one is ROLLED_BACK, the others TIMEOUT; nothing applied
    assert statuses(response) == [424, 504, 504]
    assert codes(response) == ["ROLLED_BACK", "TIMEOUT", "TIMEOUT"]
    assert Resource.objects.get(public_id="free").name != "done"
    assert Resource.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_parallel_with_timeout(api, make_resource):
    # given: one blocked operation among free ones
    make_resource("locked")
    ops = [{"method": "PATCH", "path": "/resources/locked", "body": {"name": "late"}}] + [
        create(f"n{i}") for i in range(5)
    ]
    with RowLock("locked"):
        response = post_batch(api, ops, parallel=3, timeout_ms=TIMEOUT_MS)
    # then: the blocked one timed out and was not applied; the creates went through
    assert statuses(response) == [504, 201, 201, 201, 201, 201]
    assert Resource.objects.get(public_id="locked").name != "late"


@pytest.mark.django_db
def test_generous_timeout_changes_nothing(api):
    response = post_batch(api, [create("a"), create("b")], timeout_ms=60_000)
    assert statuses(response) == [201, 201]
