"""AsyncPcfClient against a real server: the same calls as PcfClient, awaited, with
typed results and errors; an import followed over SSE to its final event, run by real
Celery workers."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pcf_client import AsyncPcfClient
from pcf_client.errors import NotFound, ValidationError

from resources.models import Resource
from tests.client.live import LiveServer, pcf_server, start_server, token  # noqa: F401
from tests.client.test_jobs import MAPPING, write_csv
from tests.worker_fixtures import Workers


def test_async_crud_list_batch_and_errors(pcf_server: LiveServer, token: str) -> None:
    async def scenario() -> None:
        async with AsyncPcfClient(pcf_server.url, token) as client:
            # CRUD with typed results
            created = await client.create_resource(name="a", type="document")
            patched = await client.update_resource(created.id, status="archived")
            assert (await client.get_resource(created.id)) == patched
            await client.delete_resource(created.id)
            with pytest.raises(NotFound):
                await client.get_resource(created.id)
            with pytest.raises(ValidationError) as invalid:
                await client.create_resource(name="", type="x")
            assert {d.field for d in invalid.value.details} >= {"name", "type"}
            # a batch of 1,200 operations (over one request's 1,000), results in order
            ops = [
                {"method": "POST", "path": "/resources", "body": {"name": f"b{i}", "type": "image"}}
                for i in range(1200)
            ]
            ops[700]["body"] = {"name": "", "type": "image"}
            report = await client.batch(ops)
            assert report.successful == 1199 and report.requests >= 2
            assert [i for i, r in enumerate(report.results) if not r.ok] == [700]
            # list iteration over cursors
            # (batches run concurrently, so creation order is not name order)
            names = [r.name async for r in client.list_resources(page_size=500)]
            assert len(names) == 1199
            assert set(names) == {f"b{i}" for i in range(1200) if i != 700}

    asyncio.run(scenario())


@pytest.mark.slow
def test_async_import_watched_to_its_final_event(
    pcf_server: LiveServer, token: str, celery_worker: Workers, tmp_path: Path
) -> None:
    source = write_csv(tmp_path / "data.csv", 5000, bad_every=2500)

    async def scenario() -> list[str]:
        async with AsyncPcfClient(pcf_server.url, token) as client:
            job = await client.import_csv(
                source, mapping=MAPPING, validation="lenient", chunk_size=250
            )
            kinds = [event.kind async for event in job.watch(timeout=120)]
            final = await job.refresh()
            assert final.status == "completed"
            assert (final.progress.successful, final.progress.failed) == (4998, 2)
            errors = [e.row async for e in job.errors(page_size=1)]
            assert errors == [2500, 5000]
            return kinds

    kinds = asyncio.run(scenario())
    assert kinds[-1] == "complete" and "progress" in kinds
    assert Resource.objects.count() == 4998
