"""PCF_BULK_CHUNK_ROWS is a declared setting (env var, default 1,000) that the bulk job
planner reads directly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import override_settings

from resources.bulk.services import chunk_rows

ROOT = Path(__file__).resolve().parents[2]
READ = "import pcf.settings as s; print(s.PCF_BULK_CHUNK_ROWS)"


def _settings_value(env_value: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "PCF_BULK_CHUNK_ROWS"}
    if env_value is not None:
        env["PCF_BULK_CHUNK_ROWS"] = env_value
    done = subprocess.run(
        [sys.executable, "-c", READ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize(("env_value", "expected"), [(None, "1000"), ("250", "250")])
def test_setting_is_declared_and_read_from_the_environment(env_value, expected):
    # given: the variable unset, or set / when: settings load / then: the default or the value
    assert _settings_value(env_value) == expected


def test_chunk_rows_follows_the_setting():
    # when / then
    with override_settings(PCF_BULK_CHUNK_ROWS=3):
        assert chunk_rows() == 3
