"""`pcf`: the command line. Human output by default, `--json` for scripts (JSON on
stdout, one object per line where there are several). Progress goes to stderr."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, TypeVar

import click
from rich.console import Console

from pcf_client.cli.parsing import parse_mapping, parse_pairs
from pcf_client.cli.progress import ProgressView, make_view
from pcf_client.client import PcfClient
from pcf_client.errors import ApiError, Conflict, PcfError
from pcf_client.jobs import Job, dump_event
from pcf_client.models import BulkResult, JobState

F = TypeVar("F", bound=Callable[..., Any])
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130


class Ctx:
    def __init__(self, url: str | None, token: str | None, as_json: bool) -> None:
        self.url, self.token, self.as_json = url, token, as_json
        self.out = Console(soft_wrap=True, highlight=False)
        self.err = Console(stderr=True, highlight=False)
        self._client: PcfClient | None = None

    @property
    def client(self) -> PcfClient:
        if self._client is None:
            self._client = PcfClient(self.url, self.token)
        return self._client

    def emit(self, data: Any) -> None:
        """One JSON document on stdout (`--json`)."""
        click.echo(json.dumps(data, default=str))


def json_option(func: F) -> F:
    """`--json` on every command (also accepted before the command: `pcf --json …`)."""

    def set_json(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
        if value:
            ctx.find_object(Ctx).as_json = True  # type: ignore[union-attr]

    return click.option(
        "--json", "as_json", is_flag=True, expose_value=False, callback=set_json,
        help="Machine-readable JSON on stdout.",
    )(func)  # fmt: skip


pass_ctx = click.make_pass_decorator(Ctx)


@click.group()
@click.option("--url", envvar="PCF_URL", help="Server root URL [env PCF_URL].")
@click.option("--token", envvar="PCF_TOKEN", help="API token [env PCF_TOKEN].")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON on stdout.")
@click.version_option(package_name="pcf-client")
@click.pass_context
def cli(ctx: click.Context, url: str | None, token: str | None, as_json: bool) -> None:
    """PCF from the command line: imports with progress bars, jobs, batches."""
    ctx.obj = Ctx(url, token, as_json)


# Imports and jobs


@cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--mapping", help="field=Column,… (metadata=json:Column parses JSON).")
@click.option("--lenient", is_flag=True, help="Skip and report invalid rows (default: strict).")
@click.option("--dry-run", is_flag=True, help="Validate and count; write nothing.")
@click.option("--chunk-size", type=click.IntRange(1, 10_000), help="Rows per chunk.")
@click.option("--upsert", is_flag=True, help="Create or update by --upsert-key.")
@click.option("--upsert-key", type=click.Choice(["name", "id"]))
@click.option("--watch/--no-watch", default=True, help="Follow the job to its end (default).")
@json_option
@pass_ctx
def import_cmd(
    ctx: Ctx, file: Path, mapping: str | None, lenient: bool, dry_run: bool,
    chunk_size: int | None, upsert: bool, upsert_key: str | None, watch: bool,
) -> None:  # fmt: skip
    """Import a CSV FILE as a job; with --watch, a progress bar until it ends."""
    view = make_view(ctx.err, enabled=not ctx.as_json)
    started = time.monotonic()
    try:
        job = ctx.client.import_csv(
            file, mapping=parse_mapping(mapping), validation="lenient" if lenient else "strict",
            dry_run=dry_run, chunk_size=chunk_size, upsert=upsert or None,
            upsert_key=upsert_key, on_upload=view.upload,
        )  # fmt: skip
    except KeyboardInterrupt:
        view.close()
        ctx.err.print("Upload interrupted: the server drops a partial upload, nothing is written.")
        sys.exit(EXIT_INTERRUPTED)
    except BaseException:
        view.close()
        raise
    uploaded = time.monotonic() - started
    total = int(job.accepted.get("total_rows") or 0)
    if not watch:
        view.close()
        if ctx.as_json:
            ctx.emit(job.accepted)
        else:
            ctx.out.print(f"{job.id} {job.accepted.get('status')}: {total:,} rows")
        return
    final = follow(ctx, job, view, total=total)
    elapsed = time.monotonic() - started
    if not ctx.as_json:
        ctx.out.print(summary_line(final, elapsed=elapsed, uploaded=uploaded))
    sys.exit(0 if final.status == "completed" else EXIT_FAILED)


def follow(ctx: Ctx, job: Job, view: ProgressView, *, total: int) -> JobState:
    """Show `job` and follow it to its end. Ctrl-C asks whether to cancel it; without
    an answer (no terminal) the job is left running."""
    shown = False
    try:
        while True:
            try:
                if not shown:
                    # Shown in here: a Ctrl-C the moment the job's line appears (while
                    # it is being written) must ask too, not exit and leave it running.
                    shown = True
                    view.job(job.id, total)
                for event in job.watch():
                    view.update(event)
                    if ctx.as_json:
                        click.echo(dump_event(event))
                    if event.final and event.job is not None:
                        return event.job
                return job.refresh()
            except KeyboardInterrupt:
                view.pause()
                if not ask_cancel(ctx, job):
                    view.resume()
                    continue
                view.resume()
    finally:
        view.close()


def ask_cancel(ctx: Ctx, job: Job) -> bool:
    """True once the job has been cancelled; False to keep watching. Exits when there
    is no one to answer."""
    try:
        answer = click.confirm(f"\nCancel job {job.id}?", default=False, err=True)
    except (click.Abort, EOFError, KeyboardInterrupt):
        answer = None
    if answer is None:
        ctx.err.print(f"Left running. Follow it with: pcf jobs watch {job.id}")
        sys.exit(EXIT_INTERRUPTED)
    if not answer:
        return False
    try:
        state = job.cancel()
        ctx.err.print(f"Cancelling {job.id} ({state.status}); waiting for running chunks…")
    except Conflict:
        ctx.err.print(f"{job.id} had already finished.")
    return True


def summary_line(
    job: JobState, *, elapsed: float | None = None, uploaded: float | None = None
) -> str:
    """The last line of a watched job: rows, failed rows, rows/s."""
    p = job.progress
    rate = job.rows_per_second
    if rate is None and job.started_at and job.finished_at:
        seconds = (job.finished_at - job.started_at).total_seconds()
        rate = p.processed / seconds if seconds > 0 else None
    timing = ""
    if elapsed is not None:
        timing = f" in {elapsed:.1f} s" + (f" (upload {uploaded:.1f} s)" if uploaded else "")
    return (
        f"{job.id} {job.status}: {p.processed:,} rows, {p.failed:,} failed rows, "
        f"{rate or 0:,.0f} rows/s{timing}"
    )


@cli.group()
def jobs() -> None:
    """List, show, watch and cancel jobs; fetch their failed rows."""


@jobs.command("list")
@click.option(
    "--status", type=click.Choice(["queued", "processing", "completed", "failed", "cancelled"])
)
@click.option(
    "--type",
    "type_",
    type=click.Choice(["csv_import", "bulk_import", "batch", "bulk_update", "bulk_delete"]),
)
@click.option("--limit", type=click.IntRange(1), default=20, show_default=True)
@json_option
@pass_ctx
def jobs_list(ctx: Ctx, status: str | None, type_: str | None, limit: int) -> None:
    """The most recent jobs first."""
    rows = list(
        _take(ctx.client.list_jobs(status=status, type=type_, page_size=min(limit, 500)), limit)
    )
    if ctx.as_json:
        for row in rows:
            ctx.emit(row.raw)
        return
    for row in rows:
        ctx.out.print(_job_line(row))


@jobs.command("show")
@click.argument("job_id")
@json_option
@pass_ctx
def jobs_show(ctx: Ctx, job_id: str) -> None:
    state = ctx.client.job(job_id).state
    assert state is not None
    if ctx.as_json:
        ctx.emit(state.raw)
        return
    ctx.out.print(_job_line(state))
    if state.message:
        ctx.out.print(f"  {state.message}")


@jobs.command("watch")
@click.argument("job_id")
@json_option
@pass_ctx
def jobs_watch(ctx: Ctx, job_id: str) -> None:
    """Follow a job with a progress bar; Ctrl-C asks whether to cancel it."""
    job = ctx.client.job(job_id)
    assert job.state is not None
    view = make_view(ctx.err, enabled=not ctx.as_json)
    final = follow(ctx, job, view, total=job.state.progress.total)
    if not ctx.as_json:
        ctx.out.print(summary_line(final))
    sys.exit(0 if final.status == "completed" else EXIT_FAILED)


@jobs.command("cancel")
@click.argument("job_id")
@json_option
@pass_ctx
def jobs_cancel(ctx: Ctx, job_id: str) -> None:
    state = ctx.client.job(job_id).cancel()
    if ctx.as_json:
        ctx.emit(state.raw)
    else:
        ctx.out.print(_job_line(state))


@jobs.command("errors")
@click.argument("job_id")
@click.option("--csv", "as_csv", is_flag=True, help="The server's CSV download, on stdout.")
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write to a file."
)
@json_option
@pass_ctx
def jobs_errors(ctx: Ctx, job_id: str, as_csv: bool, output: Path | None) -> None:
    """A job's failed rows (row or index, field, code, message)."""
    job = ctx.client.job(job_id)
    if as_csv:
        if output is not None:
            job.errors_csv(output)
        else:
            job.errors_csv(sys.stdout.buffer)
        return
    stream: IO[str] = output.open("w") if output else sys.stdout
    try:
        for error in job.errors():
            if ctx.as_json:
                stream.write(json.dumps(error.raw) + "\n")
            else:
                where = f"row {error.row}" if error.row is not None else f"index {error.index}"
                stream.write(
                    f"{where}\t{error.field or '-'}\t{error.code or '-'}\t{error.message}\n"
                )
    finally:
        if output:
            stream.close()


def _job_line(job: JobState) -> str:
    p = job.progress
    return (
        f"{job.id}  {job.type:<11} {job.status:<10} {p.processed:,}/{p.total:,} "
        f"({p.percentage:g}%) failed {p.failed:,}  {job.created_at:%Y-%m-%d %H:%M:%S}"
        if job.created_at
        else f"{job.id}  {job.type} {job.status}"
    )


def _take(items: Iterator[Any], limit: int) -> Iterator[Any]:
    for n, item in enumerate(items):
        if n >= limit:
            return
        yield item


# Batches and bulk changes


@cli.command("batch")
@click.argument("file", type=click.File("r"))
@click.option("--concurrency", type=click.IntRange(1, 32), default=4, show_default=True)
@click.option("--batch-size", type=click.IntRange(1, 1000), default=100, show_default=True,
              help="Starting batch size (it adapts).")  # fmt: skip
@click.option("--soft-delete", is_flag=True, help="DELETE operations soft-delete.")
@json_option
@pass_ctx
def batch_cmd(
    ctx: Ctx, file: IO[str], concurrency: int, batch_size: int, soft_delete: bool
) -> None:
    """Run the operations of FILE (JSON lines: {"method", "path", "body"?, "id"?}; `-`
    for stdin) in adaptive batches. Writes one result per line, in input order; exits
    1 if any operation failed."""
    failed = 0
    total = 0
    for result in ctx.client.iter_batch(
        _json_lines(file), concurrency=concurrency, batch_size=batch_size, soft_delete=soft_delete
    ):
        total += 1
        failed += 0 if result.ok else 1
        click.echo(json.dumps(result.raw))
    ctx.err.print(f"{total:,} operations, {failed:,} failed")
    sys.exit(EXIT_FAILED if failed else 0)


def _json_lines(file: IO[str]) -> Iterator[dict[str, Any]]:
    for number, line in enumerate(file, 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError as exc:
            raise click.BadParameter(
                f"line {number}: not JSON ({exc})", param_hint="FILE"
            ) from None
        if not isinstance(value, dict):
            raise click.BadParameter(f"line {number}: not a JSON object", param_hint="FILE")
        yield value


@cli.command("bulk-update")
@click.option("--filter", "filters", multiple=True, required=True, metavar="KEY=VALUE",
              help="status=draft, type=image, ids=a,b, …; repeat for more.")  # fmt: skip
@click.option("--set", "changes", multiple=True, required=True, metavar="FIELD=VALUE",
              help="status=archived, metadata={\"k\":1}; repeat for more.")  # fmt: skip
@click.option("--dry-run", is_flag=True, help="Count the matches; change nothing.")
@click.option("--limit", type=click.IntRange(1), help="Update at most this many.")
@click.option("--watch/--no-watch", default=True, help="Follow a job-sized update to its end.")
@json_option
@pass_ctx
def bulk_update_cmd(
    ctx: Ctx, filters: tuple[str, ...], changes: tuple[str, ...], dry_run: bool,
    limit: int | None, watch: bool,
) -> None:  # fmt: skip
    """Update every resource matching the filters."""
    result = ctx.client.bulk_update(
        parse_pairs(filters, "--filter"),
        parse_pairs(changes, "--set"),
        dry_run=dry_run,
        limit=limit,
    )
    _bulk_outcome(ctx, result, "updated", watch)


@cli.command("bulk-delete")
@click.option("--filter", "filters", multiple=True, required=True, metavar="KEY=VALUE")
@click.option("--soft", is_flag=True, help="Mark deleted instead of removing.")
@click.option("--dry-run", is_flag=True)
@click.option("--limit", type=click.IntRange(1))
@click.option("--watch/--no-watch", default=True)
@json_option
@pass_ctx
def bulk_delete_cmd(
    ctx: Ctx, filters: tuple[str, ...], soft: bool, dry_run: bool, limit: int | None, watch: bool
) -> None:
    """Delete every resource matching the filters."""
    result = ctx.client.bulk_delete(
        parse_pairs(filters, "--filter"), soft_delete=soft, dry_run=dry_run, limit=limit
    )
    _bulk_outcome(ctx, result, "deleted", watch)


def _bulk_outcome(ctx: Ctx, result: BulkResult, verb: str, watch: bool) -> None:
    if result.job_id is None:
        if ctx.as_json:
            ctx.emit(result.raw)
        elif result.dry_run:
            ctx.out.print(
                f"{result.matched_count or 0:,} resources match (dry run: nothing {verb})"
            )
        else:
            ctx.out.print(f"{result.count or 0:,} resources {verb} in {result.duration_ms} ms")
        return
    job = ctx.client.job(result.job_id)
    if not watch:
        if ctx.as_json:
            ctx.emit(result.raw)
        else:
            ctx.out.print(f"Running as job {job.id}: pcf jobs watch {job.id}")
        return
    view = make_view(ctx.err, enabled=not ctx.as_json)
    final = follow(ctx, job, view, total=job.state.progress.total if job.state else 0)
    if not ctx.as_json:
        ctx.out.print(summary_line(final))
    sys.exit(0 if final.status == "completed" else EXIT_FAILED)


# Resources


@cli.group()
def resources() -> None:
    """Read resources."""


@resources.command("get")
@click.argument("resource_id")
@json_option
@pass_ctx
def resources_get(ctx: Ctx, resource_id: str) -> None:
    resource = ctx.client.get_resource(resource_id)
    if ctx.as_json:
        ctx.emit(resource.raw)
    else:
        ctx.out.print(json.dumps(resource.raw, indent=2))


@resources.command("list")
@click.option("--status")
@click.option("--type", "type_")
@click.option("--ids", help="Comma-separated ids.")
@click.option("--created-after")
@click.option("--created-before")
@click.option("--limit", type=click.IntRange(1), default=100, show_default=True,
              help="At most this many (pages are followed).")  # fmt: skip
@json_option
@pass_ctx
def resources_list(
    ctx: Ctx, status: str | None, type_: str | None, ids: str | None,
    created_after: str | None, created_before: str | None, limit: int,
) -> None:  # fmt: skip
    found = ctx.client.list_resources(
        status=status, type=type_, ids=ids, created_after=created_after,
        created_before=created_before, page_size=min(limit, 500),
    )  # fmt: skip
    for resource in _take(found, limit):
        if ctx.as_json:
            ctx.emit(resource.raw)
        else:
            ctx.out.print(f"{resource.id}  {resource.type:<8} {resource.status:<9} {resource.name}")


def main() -> None:
    try:
        cli(standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort:
        sys.exit(EXIT_INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(EXIT_INTERRUPTED)
    except ApiError as exc:
        _report(exc.code, exc.message, [d.raw or {"message": d.message} for d in exc.details])
    except PcfError as exc:
        _report(type(exc).__name__, str(exc), [])


def _report(code: str, message: str, details: list[dict[str, Any]]) -> None:
    err = Console(stderr=True, highlight=False)
    err.print(f"error: {code}: {message}")
    for detail in details:
        err.print(f"  {detail.get('field') or '-'}: {detail.get('message')}")
    sys.exit(EXIT_FAILED)
