"""The engine's check pass: chunks staged with check=True are checked (in batches) while
the job fills; none is applied before every chunk passed; one invalid row fails the job
with nothing written (a strict import)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from jobs.engine import checks, dispatch, execution, lifecycle, sweeper
from jobs.engine.lifecycle import ChunkInput, StagedChunk
from jobs.models import Chunk, ChunkStatus, Dispatch, Job, JobError
from resources.models import Resource
from tests.waiting import wait_finished

pytestmark = pytest.mark.django_db


def _staged_job(tenant, chunks: list[list[str]]) -> Job:
    job = lifecycle.job_create(
        tenant=tenant.client_model, type="csv_import", options={}, handler="test.lines"
    )
    offset, staged = 0, []
    for seq, names in enumerate(chunks):
        text = "".join(f"{n}\n" for n in names)
        staged.append(StagedChunk(seq, offset, ChunkInput(len(names), payload_text=text)))
        offset += len(names)
    lifecycle.job_add_chunks(job=job, chunks=staged, check=True)
    return job


def _planned(job: Job) -> list[str]:
    """What the dispatcher gives the job now (kinds of its new window messages)."""
    dispatch.refill()
    return sorted(Dispatch.objects.filter(job=job).values_list("kind", flat=True))


@pytest.fixture(autouse=True)
def _wide_window(settings):
    settings.PCF_DISPATCH_WINDOW = 100
    settings.PCF_DISPATCH_GROUP_CHUNKS = 1  # a message per chunk: countable


def _check_all(job: Job) -> None:
    ids = list(Chunk.objects.filter(job=job, checked=False).values_list("pk", flat=True))
    checks.chunks_check(chunk_ids=ids)


def _apply_all(job: Job) -> Job:
    for pk in Chunk.objects.filter(job=job, status="pending").values_list("pk", flat=True):
        execution.chunk_run(chunk_id=pk)
    job.refresh_from_db()
    return job


def test_nothing_is_applied_before_the_last_check_and_then_everything_is(tenant):
    job = _staged_job(tenant, [["a", "b"], ["c"], ["d", "e"]])
    first, second, third = Chunk.objects.filter(job=job).order_by("seq")
    lifecycle.job_start(job=job, total=5)
    job.refresh_from_db()
    assert (job.status, job.chunks_unchecked) == ("processing", 3)
    # when two chunks are checked: still nothing to apply, not even by the runner
    checks.chunks_check(chunk_ids=[first.pk, second.pk])
    assert execution.chunk_run(chunk_id=first.pk).startswith("skipped")
    assert _planned(job) == ["check"]  # the third chunk's check, nothing to apply
    assert not Resource.objects.filter(tenant=tenant.client_model).exists()
    # when the last one is: every chunk is ready to apply, and applies with its memo
    checks.chunks_check(chunk_ids=[third.pk])
    assert _planned(job) == ["apply", "apply", "apply"]
    job = _apply_all(job)
    assert (job.status, job.successful, job.failed) == ("completed", 5, 0)
    assert Chunk.objects.get(pk=third.pk).result["meta"] == {"memo": {"lines": 2}}
    assert Resource.objects.filter(tenant=tenant.client_model).count() == 5


def test_checks_that_finish_before_the_job_is_sealed_leave_the_decision_to_job_start(tenant):
    job = _staged_job(tenant, [["a"], ["b"]])
    _check_all(job)
    assert _planned(job) == []
    lifecycle.job_start(job=job, total=2)
    assert _planned(job) == ["apply", "apply"]
    assert _apply_all(job).status == "completed"


@pytest.mark.parametrize("seal_first", [True, False], ids=["sealed first", "checked first"])
def test_one_invalid_row_fails_the_job_and_nothing_is_written(tenant, seal_first):
    job = _staged_job(tenant, [["a", "b"], ["bad-1", "c"], ["d"]])
    if seal_first:
        lifecycle.job_start(job=job, total=5)
    _check_all(job)
    if not seal_first:
        lifecycle.job_start(job=job, total=5)
    job = _apply_all(job)
    assert job.status == "failed"
    assert job.message == "Check failed: 1 of 5 rows are invalid; nothing was written"
    assert (job.total, job.processed, job.failed, job.skipped) == (5, 5, 1, 4)
    assert set(Chunk.objects.filter(job=job).values_list("status", flat=True)) == {
        ChunkStatus.CANCELLED
    }
    (error,) = JobError.objects.filter(job=job)
    assert (error.row, error.field, error.values) == (3, "name", ["bad-1"])
    assert not Resource.objects.filter(tenant=tenant.client_model).exists()


def test_a_second_check_of_the_same_chunks_is_skipped(tenant):
    job = _staged_job(tenant, [["a"], ["bad"]])
    _check_all(job)
    ids = list(Chunk.objects.filter(job=job).values_list("pk", flat=True))
    assert checks.chunks_check(chunk_ids=ids).startswith("skipped")
    job.refresh_from_db()
    assert (job.chunks_unchecked, job.check_failed) == (0, 1)
    assert JobError.objects.filter(job=job).count() == 1


def test_a_check_that_cannot_run_fails_the_job(tenant):
    job = _staged_job(tenant, [["a"], ["b"]])
    lifecycle.job_start(job=job, total=2)
    ids = list(Chunk.objects.filter(job=job).values_list("pk", flat=True))
    assert checks.check_record_failure(chunk_ids=ids, message="ValueError: boom")
    job.refresh_from_db()
    assert job.status == "failed" and "could not be checked" not in job.message
    assert job.message.startswith("Checking chunk 0 failed: ValueError: boom")
    assert not checks.check_record_failure(chunk_ids=ids, message="again")


def test_the_window_never_applies_a_job_still_checking(tenant):
    # given a sealed job whose first chunk is checked and whose second is not
    job = _staged_job(tenant, [["a"], ["b"]])
    lifecycle.job_start(job=job, total=2)
    first = Chunk.objects.get(job=job, seq=0)
    checks.chunks_check(chunk_ids=[first.pk])
    # then the dispatcher gives it the second check only, however often it refills
    assert _planned(job) == ["check"]
    assert _planned(job) == ["check"]
    (message,) = Dispatch.objects.filter(job=job)
    assert list(message.chunks.values_list("seq", flat=True)) == [1]


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_strict_job_on_real_workers_checks_then_applies(tenant, celery_worker):
    job = _staged_job(tenant, [[f"n{c}-{i}" for i in range(5)] for c in range(40)])
    lifecycle.job_start(job=job, total=200)
    job = wait_finished(job)
    assert (job.status, job.successful, job.failed) == ("completed", 200, 0)
    assert Resource.objects.filter(tenant=tenant.client_model).count() == 200
    assert not Chunk.objects.filter(job=job, checked=False).exists()


def test_a_check_that_keeps_killing_its_worker_is_given_up_on(tenant, settings):
    job = _staged_job(tenant, [["a"], ["b"]])
    lifecycle.job_start(job=job, total=2)
    first = Chunk.objects.get(job=job, seq=0)
    Chunk.objects.filter(pk=first.pk).update(attempts=settings.PCF_CHUNK_MAX_ATTEMPTS + 1)
    assert checks.chunks_check(chunk_ids=[first.pk]).startswith("failed: gave up")
    job.refresh_from_db()
    assert job.status == "failed"
    assert "gave up after repeated attempts" in job.message
    assert not Resource.objects.filter(tenant=tenant.client_model).exists()


def test_checked_chunks_start_their_apply_attempts_from_zero(tenant):
    job = _staged_job(tenant, [["a"]])
    _check_all(job)
    chunk = Chunk.objects.get(job=job)
    assert (chunk.checked, chunk.attempts, chunk.payload) == (True, 0, {"lines": 1})


@pytest.mark.django_db(transaction=True)
def test_a_job_cancelled_while_a_check_holds_its_chunks_still_settles(tenant):
    # given: a check that runs while the job is cancelled from elsewhere (its chunks
    # are locked by the check, so the cancel cannot stop them itself)
    job = _staged_job(tenant, [["a"], ["b"]])
    Job.objects.filter(pk=job.pk).update(handler="test.cancelled-meanwhile")
    lifecycle.job_start(job=job, total=2)
    # when
    _check_all(job)
    # then: the job is cancelled and settled, and nothing is left pending
    job.refresh_from_db()
    assert job.status == "cancelled" and job.finished_at is not None
    assert set(Chunk.objects.filter(job=job).values_list("status", flat=True)) == {
        ChunkStatus.CANCELLED
    }


def test_a_late_check_failure_does_not_undo_the_verdict(tenant):
    job = _staged_job(tenant, [["a"], ["b"]])
    lifecycle.job_start(job=job, total=2)
    _check_all(job)  # the verdict: apply
    ids = list(Chunk.objects.filter(job=job).values_list("pk", flat=True))
    assert not checks.check_record_failure(chunk_ids=ids, message="retries exhausted")
    assert _apply_all(job).status == "completed"


def test_a_check_pass_keeps_a_bounded_number_of_errors(tenant, monkeypatch):
    monkeypatch.setattr(checks, "CHECK_ERRORS_KEPT", 5)
    job = _staged_job(tenant, [[f"bad-{c}-{i}" for i in range(4)] for c in range(3)])
    lifecycle.job_start(job=job, total=12)
    ids = list(Chunk.objects.filter(job=job).order_by("seq").values_list("pk", flat=True))
    checks.chunks_check(chunk_ids=ids[:2])  # 8 errors, room for 5
    checks.chunks_check(chunk_ids=ids[2:])  # no room left
    job.refresh_from_db()
    assert (job.status, job.failed, job.check_failed) == ("failed", 12, 12)
    assert JobError.objects.filter(job=job).count() == 5


def test_an_upload_whose_web_process_died_is_failed_by_the_sweeper(tenant, settings):
    # given: a job being filled (chunks staged, never started), untouched for too long
    job = _staged_job(tenant, [["a"], ["b"]])
    fresh = _staged_job(tenant, [["c"]])
    Job.objects.filter(pk=job.pk).update(
        updated_at=timezone.now() - timedelta(seconds=settings.PCF_UPLOAD_STALE_SECONDS + 5)
    )
    # when the sweeper runs
    swept = sweeper.sweep()
    # then: it failed, nothing ran, its stored input is gone; the fresh one is untouched
    job.refresh_from_db()
    assert swept["interrupted"] == 1
    assert (job.status, job.message) == (
        "failed",
        "The submission was interrupted; nothing was written",
    )
    assert job.finished_at is not None
    assert not Chunk.objects.filter(job=job, payload_text__isnull=False).exists()
    assert set(Chunk.objects.filter(job=job).values_list("status", flat=True)) == {"cancelled"}
    fresh.refresh_from_db()
    assert (fresh.status, fresh.sealed) == ("queued", False)
