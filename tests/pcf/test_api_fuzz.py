"""API fuzz test: schemathesis, with all of its checks, over /v1/openapi.json against a
real server process. No 5xx, no status the schema does not document, no schema-valid
request refused, no schema-invalid one accepted, 405s with `Allow`, and so on.

Bounded: a fixed seed, a few examples per operation and a time budget, so it runs in
about a minute on a loaded 2-core machine. Raise FUZZ_EXAMPLES locally to dig deeper."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pcf.models import ApiClient
from tests.live_server import LiveServer, live_server

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "5"))
MAX_SECONDS = int(os.environ.get("FUZZ_MAX_SECONDS", "60"))
SEED = int(os.environ.get("FUZZ_SEED", "20261203"))
CONFIG = Path(__file__).with_name("schemathesis.toml")
ROOT = Path(__file__).resolve().parents[2]
CHECKS = {
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "positive_data_acceptance",
    "missing_required_header",
    "unsupported_method",
    "allow_header_conformance",
    "use_after_free",
    "ensure_resource_availability",
    "ignored_auth",
    "object_level_authorization",
}


@pytest.fixture
def server(transactional_db: None) -> Iterator[LiveServer]:
    # Fuzzed webhooks point anywhere; private targets stay refused (the default).
    with live_server() as running:
        yield running


def test_schemathesis_finds_nothing(server: LiveServer, tmp_path: Path) -> None:
    # given: a tenant's token and the served schema; every check is on
    # (tests/pcf/schemathesis.toml, which also says what the schema cannot express)
    _, token = ApiClient.issue("fuzz")
    report = tmp_path / "events.ndjson"
    argv = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(CONFIG),
        "run",
        f"{server.base}/v1/openapi.json",
        "--header",
        f"Authorization: Bearer {token}",
        "--max-examples",
        str(EXAMPLES),
        "--max-time",
        str(MAX_SECONDS),
        "--seed",
        str(SEED),
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--no-shrink",
        "--report",
        "ndjson",
        "--report-ndjson-path",
        str(report),
    ]
    # when: schemathesis runs every phase against the real server
    run = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=MAX_SECONDS * 4 + 120,
        env={**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_TELEMETRY": "false"},
        cwd=ROOT,  # the config's hooks module is imported from here
    )
    print(run.stdout)  # the run's summary, for `pytest -s`
    # then: it found nothing
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-5000:]
    # and every check ran (the events name each check they applied)
    ran = set(re.findall(r'"name": ?"([a-z_]+)"', report.read_text()))
    assert ran >= CHECKS, CHECKS - ran
