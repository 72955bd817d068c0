"""Running a parsed batch: order, transactions, stopping, deadlines and concurrency.

- Each operation runs in its own transaction (a savepoint inside an atomic batch or a
  job's chunk), so a failed one leaves nothing behind.
- A run of consecutive plain creates is one step: validated one by one, written by
  one INSERT (resources.services.resources_insert_many), results kept per operation.
- `atomic`: one transaction; the first failure stops the batch, earlier successes
  become ROLLED_BACK, later operations SKIPPED.
- `continue_on_error: false`: the first failure stops the batch, the rest SKIPPED.
- `timeout_ms`: a deadline for the whole batch. PostgreSQL's statement_timeout is set
  to what is left, and an operation still running at the deadline rolls itself back
  before commit, so TIMEOUT always means "not applied".
- `parallel`: worker threads, each with its own database connection (closed when the
  thread ends), run independent steps at once; `depends_on` and references are
  honoured by starting a step only after the steps it needs. The threads of all
  batches of a process are bounded (resources.batch.threads), so the connection pool
  keeps room for other requests."""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DatabaseError, OperationalError, connection, connections, transaction

from pcf.budget import ResponseBudget
from pcf.exceptions import PcfError, RolledBack, Skipped, Timeout
from pcf.idempotency import note_committed
from pcf.models import ApiClient
from resources.batch.op_keys import op_fingerprint, op_key_claim, op_key_store
from resources.batch.operations import OpResult, created_size, perform, perform_creates
from resources.batch.parsing import BatchOptions, Operation
from resources.batch.references import PLACEHOLDER, resolve_body, resolve_text
from resources.batch.routing import check_route
from resources.batch.threads import batch_threads
from resources.parsing import ResourceCreate, parse_create

logger = logging.getLogger("pcf.batch")

QUERY_CANCELED = "57014"  # PostgreSQL: statement_timeout fired
MAX_CREATE_RUN = 1000  # creates written by one INSERT; a batch holds at most 1,000 anyway


@dataclass
class BatchOutcome:
    results: list[OpResult]  # in request order
    rolled_back: bool
    duration_ms: int


@dataclass
class Step:
    indices: list[int]
    creates: bool  # a run of plain creates, written together


def _plain_create(op: Operation) -> bool:
    return (
        op.error is None
        and op.method == "POST"
        and op.idempotency_key is None
        and PLACEHOLDER.search(op.path) is None
    )


def plan_steps(operations: list[Operation]) -> list[Step]:
    """Group consecutive plain creates that do not depend on each other."""
    steps: list[Step] = []
    i = 0
    while i < len(operations):
        if not _plain_create(operations[i]):
            steps.append(Step([i], creates=False))
            i += 1
            continue
        j = i + 1
        while (
            j < len(operations)
            and j - i < MAX_CREATE_RUN
            and _plain_create(operations[j])
            and all(dep < i for dep in operations[j].deps)
        ):
            j += 1
        steps.append(Step(list(range(i, j)), creates=True))
        i = j
    return steps


class Deadline:
    def __init__(self, timeout_ms: int | None) -> None:
        self.at = None if timeout_ms is None else time.monotonic() + timeout_ms / 1000

    def passed(self) -> bool:
        return self.at is not None and time.monotonic() >= self.at

    def remaining_ms(self) -> int | None:
        if self.at is None:
            return None
        return max(1, int((self.at - time.monotonic()) * 1000))

    def seconds_left(self) -> float | None:
        return None if self.at is None else max(0.0, self.at - time.monotonic())


def _timeout() -> Timeout:
    return Timeout("The operation did not finish within the batch's timeout_ms")


def _database_failure(exc: DatabaseError) -> PcfError:
    if isinstance(exc, OperationalError) and getattr(exc.__cause__, "sqlstate", None) == (
        QUERY_CANCELED
    ):
        return _timeout()
    logger.exception("batch operation failed in the database", exc_info=exc)
    return PcfError()


def _unexpected(exc: Exception) -> PcfError:
    # A bug in one operation is that operation's INTERNAL result: a 500 for the whole
    # envelope would hide what earlier operations already committed.
    logger.exception("batch operation failed unexpectedly", exc_info=exc)
    return PcfError()


class BatchRun:
    """One execution of a batch; see the module doc for the rules."""

    def __init__(
        self, *, tenant: ApiClient, operations: list[Operation], options: BatchOptions
    ) -> None:
        self.tenant = tenant
        self.operations = operations
        self.options = options
        self.positions = {op.id: op.index for op in operations if op.error is None}
        self.results: list[OpResult | None] = [None] * len(operations)
        self.deadline = Deadline(options.timeout_ms)
        # Shared by every operation: their answers together stay within the budget.
        self.budget = ResponseBudget(max_rows=int(settings.PCF_BATCH_MAX_GET_ROWS))
        self.stopped = False
        self.timed_out = False

    # --- one step ---------------------------------------------------------------------

    def _limit_statements(self) -> None:
        remaining = self.deadline.remaining_ms()
        if remaining is not None:
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('statement_timeout', %s, true)", [str(remaining)])

    def _check_deadline(self) -> None:
        if self.deadline.passed():
            raise _timeout()  # raised inside the transaction: the work is undone

    def _failed_dependency(self, op: Operation) -> OpResult | None:
        for dep in op.deps:
            result = self.results[dep]
            if result is None or not result.ok:
                name = self.operations[dep].id
                return OpResult.failure(Skipped(f"Not executed: dependency {name!r} failed"))
        return None

    def _lookup(self, op_id: str) -> Any:
        result = self.results[self.positions[op_id]]
        assert result is not None  # a dependency, finished before this step started
        return result.as_reference()

    def _run_single(self, op: Operation) -> OpResult:
        if op.error is not None:
            return OpResult.failure(op.error)
        skipped = self._failed_dependency(op)
        if skipped is not None:
            return skipped
        try:
            path = resolve_text(op.path, self._lookup, self.positions, url=True)
            body = resolve_body(op.body, self._lookup, self.positions)
            route = check_route(op.method, path)
            with transaction.atomic():
                self._limit_statements()
                record_id = None
                if op.idempotency_key is not None:
                    fingerprint = op_fingerprint(method=op.method, path=path, body=body)
                    record_id, replay = op_key_claim(
                        tenant=self.tenant, key=op.idempotency_key, fingerprint=fingerprint
                    )
                    if replay is not None:
                        return replay
                result = perform(
                    tenant=self.tenant,
                    method=op.method,
                    route=route,
                    body=body,
                    soft_delete=self.options.soft_delete,
                    budget=self.budget,
                )
                self._check_deadline()
                if record_id is not None:
                    op_key_store(record_id=record_id, result=result)
                return result
        except PcfError as error:
            return OpResult.failure(error)
        except DatabaseError as exc:
            return OpResult.failure(_database_failure(exc))
        except Exception as exc:
            return OpResult.failure(_unexpected(exc))

    def _run_creates(self, indices: list[int]) -> dict[int, OpResult]:
        """Validate each create, then one INSERT for the valid ones. With stop-on-failure,
        nothing after the first failing position is applied."""
        done: dict[int, OpResult] = {}
        valid: list[tuple[int, ResourceCreate]] = []
        stop = self.options.stop_on_failure
        for index in indices:
            op = self.operations[index]
            failure = self._failed_dependency(op)
            if failure is None:
                try:
                    body = resolve_body(op.body, self._lookup, self.positions)
                    spec = parse_create(body)
                    # A create's answer is known before it runs: refused unwritten.
                    self.budget.charge(created_size(spec))
                    valid.append((index, spec))
                    continue
                except PcfError as error:
                    failure = OpResult.failure(error)
                except Exception as exc:
                    failure = OpResult.failure(_unexpected(exc))
            done[index] = failure
            if stop:
                break
        if not valid:
            return done
        specs = [spec for _, spec in valid]
        try:
            with transaction.atomic():
                self._limit_statements()
                written = perform_creates(tenant=self.tenant, specs=specs)
                first_bad = next((i for i, r in enumerate(written) if not r.ok), None)
                if stop and first_bad is not None:
                    # Undo the whole INSERT, then write only what comes before the conflict.
                    transaction.set_rollback(True)
                else:
                    self._check_deadline()
            if stop and first_bad is not None:
                with transaction.atomic():
                    self._limit_statements()
                    kept = perform_creates(tenant=self.tenant, specs=specs[:first_bad])
                    self._check_deadline()
                written = [*kept, written[first_bad]]
                cut = valid[first_bad][0]
                done = {i: r for i, r in done.items() if i < cut}
        except PcfError as error:
            return {**done, **{index: OpResult.failure(error) for index, _ in valid}}
        except DatabaseError as exc:
            failure = OpResult.failure(_database_failure(exc))
            return {**done, **{index: failure for index, _ in valid}}
        except Exception as exc:
            failure = OpResult.failure(_unexpected(exc))
            return {**done, **{index: failure for index, _ in valid}}
        for (index, _), result in zip(valid, written, strict=False):
            done[index] = result
        return done

    def run_step(self, step: Step) -> dict[int, OpResult]:
        if step.creates:
            return self._run_creates(step.indices)
        index = step.indices[0]
        return {index: self._run_single(self.operations[index])}

    # --- whole batches ----------------------------------------------------------------

    def _record(self, done: dict[int, OpResult]) -> None:
        for index, result in done.items():
            self.results[index] = result
            if result.ok and not self.options.atomic and self.operations[index].method != "GET":
                note_committed()  # the request's Idempotency-Key must now outlive a 5xx
            if result.error is not None and isinstance(result.error, Timeout):
                self.timed_out = True
            if not result.ok and self.options.stop_on_failure:
                self.stopped = True

    def _run_sequential(self) -> None:
        for step in plan_steps(self.operations):
            if self.stopped or self.timed_out:
                return
            if self.deadline.passed():
                self.timed_out = True
                return
            self._record(self.run_step(step))

    def _run_with_slots(self) -> None:
        workers = batch_threads.take(self.options.parallel)
        if not workers:
            self._run_sequential()  # every slot of this process is busy: no extra threads
            return
        try:
            self._run_parallel(workers)
        finally:
            batch_threads.give_back(workers)

    def _run_parallel(self, workers: int) -> None:
        steps = plan_steps(self.operations)
        tasks: queue.Queue[Step | None] = queue.Queue()
        finished: queue.Queue[tuple[Step, dict[int, OpResult] | BaseException]] = queue.Queue()
        threads = [
            threading.Thread(target=self._worker, args=(tasks, finished), daemon=True)
            for _ in range(workers)
        ]
        for thread in threads:
            thread.start()
        try:
            self._schedule(steps, workers, tasks, finished)
        finally:
            for _ in threads:
                tasks.put(None)
            for thread in threads:
                thread.join()

    def _worker(
        self,
        tasks: queue.Queue[Step | None],
        finished: queue.Queue[tuple[Step, dict[int, OpResult] | BaseException]],
    ) -> None:
        try:
            while (step := tasks.get()) is not None:
                try:
                    finished.put((step, self.run_step(step)))
                except BaseException as exc:  # reported to the scheduler, never lost
                    finished.put((step, exc))
        finally:
            connections.close_all()  # this thread's connection dies with it

    def _schedule(
        self,
        steps: list[Step],
        workers: int,
        tasks: queue.Queue[Step | None],
        finished: queue.Queue[tuple[Step, dict[int, OpResult] | BaseException]],
    ) -> None:
        pending = list(steps)
        running = 0
        settled: set[int] = set()  # indices whose result is final
        while pending or running:
            if not (self.stopped or self.timed_out):
                for step in list(pending):
                    if running >= workers:
                        break
                    needs = {d for i in step.indices for d in self.operations[i].deps}
                    if needs <= settled:
                        pending.remove(step)
                        tasks.put(step)
                        running += 1
            if running == 0:
                return  # stopped (or nothing startable): the rest stays unrun
            wait = self.deadline.seconds_left()
            try:
                step, outcome = finished.get(timeout=wait)
            except queue.Empty:
                self.timed_out = True
                # Running steps see the deadline and undo their own work (TIMEOUT); one
                # that committed just before it reports success. Wait for them all.
                while running:
                    self._record(self._outcome_of(*finished.get()))
                    running -= 1
                return
            running -= 1
            self._record(self._outcome_of(step, outcome))
            # A stopped create run leaves its tail unrun: settled all the same (skipped).
            settled.update(step.indices)

    @staticmethod
    def _outcome_of(
        step: Step, outcome: dict[int, OpResult] | BaseException
    ) -> dict[int, OpResult]:
        if isinstance(outcome, BaseException):
            logger.error("batch worker crashed", exc_info=outcome)
            return {i: OpResult.failure(PcfError()) for i in step.indices}
        return outcome

    def _run_atomic(self) -> bool:
        """Returns whether the batch was rolled back."""
        with transaction.atomic():
            self._run_sequential()
            failed = self.timed_out or any(r is not None and not r.ok for r in self.results)
            if failed:
                transaction.set_rollback(True)
        return failed

    def _finish(self, rolled_back: bool) -> list[OpResult]:
        final: list[OpResult] = []
        for result in self.results:
            if result is None:
                error: PcfError = _timeout() if self.timed_out else Skipped()
                result = OpResult.failure(error)
            elif rolled_back and result.ok:
                result = OpResult.failure(RolledBack())
            final.append(result)
        return final

    def execute(self, *, allow_threads: bool = True) -> BatchOutcome:
        started = time.monotonic()
        saved_timeout = _statement_timeout() if connection.in_atomic_block else None
        rolled_back = False
        try:
            if self.options.atomic:
                rolled_back = self._run_atomic()
                if not rolled_back:
                    note_committed()
            elif self.options.parallel > 1 and allow_threads and not connection.in_atomic_block:
                self._run_with_slots()
            else:
                self._run_sequential()
        finally:
            if saved_timeout is not None and self.options.timeout_ms is not None:
                _restore_statement_timeout(saved_timeout)
        duration_ms = int((time.monotonic() - started) * 1000)
        return BatchOutcome(
            results=self._finish(rolled_back), rolled_back=rolled_back, duration_ms=duration_ms
        )


def _statement_timeout() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('statement_timeout')")
        row = cursor.fetchone()
    return str(row[0]) if row else "0"


def _restore_statement_timeout(value: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('statement_timeout', %s, true)", [value])


def run_batch(
    *,
    tenant: ApiClient,
    operations: list[Operation],
    options: BatchOptions,
    allow_threads: bool = True,
) -> BatchOutcome:
    """Execute parsed operations; never raises for an operation's failure."""
    run = BatchRun(tenant=tenant, operations=operations, options=options)
    return run.execute(allow_threads=allow_threads)
