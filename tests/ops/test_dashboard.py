"""Every PromQL query we ship (the Grafana dashboard, the alert rules, the scaling
examples in docs/operations.md) names only metrics that a live `/metrics` answer has:
a renamed metric breaks this test, not a dashboard at 3 a.m."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

DOCS = Path(__file__).resolve().parents[2] / "docs"

# PromQL words that are not metric names (functions, aggregations, operators, keywords).
PROMQL_WORDS = {
    "sum", "min", "max", "avg", "count", "rate", "irate", "increase", "delta",
    "histogram_quantile", "absent", "and", "or", "unless", "by", "without", "on",
    "ignoring", "group_left", "group_right", "bool", "offset", "topk", "bottomk",
    "clamp_min", "clamp_max", "abs", "time", "vector", "scalar", "inf", "nan",
}  # fmt: skip
# Hidden in a query: strings, label matchers, ranges, grouping clauses, numbers.
NOT_NAMES = re.compile(
    r'"[^"]*"|\{[^}]*\}|\[[^\]]*\]|\b(?:by|without|on|ignoring)\s*\([^)]*\)|\b\d+(?:\.\d+)?\b'
)
NAME = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
SUFFIXES = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"]}


def metric_names_in(expr: str) -> set[str]:
    words = set(NAME.findall(NOT_NAMES.sub(" ", expr)))
    return {w for w in words if w.lower() not in PROMQL_WORDS}


def _live_metric_names() -> set[str]:
    client = Client()
    client.get("/healthz")  # so request metrics have samples too
    text = client.get("/metrics").content.decode()
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, []))
        names.update(sample.name for sample in family.samples)
    return names


def _walk(node: Any, keys: set[str]) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in keys and isinstance(value, str):
                yield value
            else:
                yield from _walk(value, keys)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item, keys)


def dashboard_queries() -> list[str]:
    return list(_walk(json.loads((DOCS / "grafana-dashboard.json").read_text()), {"expr"}))


def alert_queries() -> list[str]:
    return list(_walk(yaml.safe_load((DOCS / "prometheus-alerts.yml").read_text()), {"expr"}))


def scaling_queries() -> list[str]:
    text = (DOCS / "operations.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", text, flags=re.DOTALL)
    return [q for block in blocks for q in _walk(yaml.safe_load(block), {"query"})]


def test_the_query_parser_finds_names_and_only_names() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (le, route) (rate(pcf_x_bucket{route=~"a|b"}[5m])))'
        " / on (job) sum(up) > 2"
    )
    assert metric_names_in(expr) == {"pcf_x_bucket", "up"}


@pytest.mark.django_db
def test_every_query_we_ship_names_metrics_that_exist() -> None:
    # given what a live /metrics answers
    live = _live_metric_names()
    assert {"pcf_chunks_ready", "pcf_rows_total", "pcf_chunk_duration_seconds_bucket"} <= live
    # and every query of the dashboard, the alert rules and the scaling examples
    queries = {
        "dashboard": dashboard_queries(),
        "alerts": alert_queries(),
        "scaling": scaling_queries(),
    }
    assert len(queries["dashboard"]) >= 10 and len(queries["alerts"]) >= 6
    assert len(queries["scaling"]) >= 2
    # then each names at least one metric, and only metrics that exist
    for source, exprs in queries.items():
        for expr in exprs:
            names = metric_names_in(expr)
            assert names, f"{source}: no metric in {expr!r}"
            assert names <= live, f"{source}: {sorted(names - live)} in {expr!r}"


def test_the_dashboard_plots_the_signals_on_call_needs() -> None:
    text = " ".join(dashboard_queries())
    for metric in (
        "pcf_oldest_ready_chunk_age_seconds", "pcf_chunks_ready", "pcf_chunks_running",
        "pcf_chunks_failed_total", "pcf_webhook_deliveries_total", "pcf_sweeper_actions_total",
        "pcf_rows_total",
    ):  # fmt: skip
        assert metric in text, metric
