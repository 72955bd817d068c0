"""Against a real server process: a fragment bomb is refused (400, GraphQL shape) without
walking its spreads and never blocks the event loop: a concurrent /healthz keeps
answering."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from pcf.models import ApiClient
from tests.graphql.documents import fragment_bomb, fragment_chain
from tests.live_server import LiveServer, live_server

BOMBS = 20  # requests sent back to back while /healthz is polled
# Walking the bomb's 10^9 spreads takes many minutes, and holds /healthz as long if it
# happens on the event loop; refusing it takes milliseconds. Bounds in between, with
# room for a loaded machine, tell the two apart.
HEALTHZ_BUDGET_SECONDS = 5.0
BOMB_BUDGET_SECONDS = 10.0


@pytest.fixture
def server(transactional_db: None) -> Iterator[LiveServer]:
    with live_server() as running:
        yield running


def test_fragment_bombs_never_block_other_requests(server: LiveServer) -> None:
    # given: a tenant, and two hostile documents: a 1 KB bomb (10^9 spreads once
    # expanded) and a chain of 3,000 fragments (the biggest parse of the two)
    _, token = ApiClient.issue("attacker")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    bomb = json.dumps({"query": fragment_bomb()})
    chain = json.dumps({"query": fragment_chain(3000)})
    answers: list[tuple[str, int, dict[str, object], float]] = []
    failures: list[BaseException] = []
    done = threading.Event()

    def attack() -> None:
        try:
            with httpx.Client(timeout=30) as client:
                for i in range(BOMBS):
                    kind, body = ("bomb", bomb) if i % 2 == 0 else ("chain", chain)
                    started = time.monotonic()
                    response = client.post(
                        f"{server.base}/v1/graphql", content=body, headers=headers
                    )
                    elapsed = time.monotonic() - started
                    answers.append((kind, response.status_code, response.json(), elapsed))
        except BaseException as exc:  # reported below, never lost in the thread
            failures.append(exc)
        finally:
            done.set()

    # when: the documents arrive back to back while /healthz is polled
    attacker = threading.Thread(target=attack, daemon=True)
    attacker.start()
    latencies: list[float] = []
    with httpx.Client(timeout=10) as client:
        while not done.is_set() or len(latencies) < 5:
            started = time.monotonic()
            health = client.get(f"{server.base}/healthz")
            latencies.append(time.monotonic() - started)
            assert health.status_code == 200
    attacker.join(60)

    # then: every document was refused in GraphQL shape, each bomb within its budget,
    # and /healthz always answered within its budget
    assert not failures, failures
    assert len(answers) == BOMBS
    for kind, status, body, elapsed in answers:
        assert status == 400, body
        assert body["data"] is None
        message = body["errors"][0]["message"]
        assert "levels deep" in message or "fragment spreads" in message
        if kind == "bomb":
            assert elapsed < BOMB_BUDGET_SECONDS, (kind, elapsed)
    assert max(latencies) < HEALTHZ_BUDGET_SECONDS, latencies
