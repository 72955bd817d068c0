"""Twelve-factor settings: strict environment readers fail loudly on garbage."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from pcf.env import env_bool, env_int, env_list, env_str
from pcf.settings import _broker_url

VAR = "PCF_TEST_ENV_VALUE"


@pytest.mark.parametrize("raw", ["1", "true", "True", "YES", "on", " true "])
def test_env_bool_truthy(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    # given a truthy spelling / when read / then True
    monkeypatch.setenv(VAR, raw)
    assert env_bool(VAR, False) is True


@pytest.mark.parametrize("raw", ["0", "false", "FALSE", "no", "off"])
def test_env_bool_falsy(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    # given a falsy spelling / when read / then False
    monkeypatch.setenv(VAR, raw)
    assert env_bool(VAR, True) is False


@pytest.mark.parametrize("raw", ["maybe", "2", "tru", "yes please", "-1"])
def test_env_bool_garbage_raises(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    # given garbage / when read / then ImproperlyConfigured naming the variable
    monkeypatch.setenv(VAR, raw)
    with pytest.raises(ImproperlyConfigured, match=VAR):
        env_bool(VAR, False)


@pytest.mark.parametrize("default", [True, False])
def test_env_bool_unset_or_empty_gives_the_default(
    monkeypatch: pytest.MonkeyPatch, default: bool
) -> None:
    # given the variable unset, then empty / when read / then the default
    monkeypatch.delenv(VAR, raising=False)
    assert env_bool(VAR, default) is default
    monkeypatch.setenv(VAR, "")
    assert env_bool(VAR, default) is default


def test_env_int(monkeypatch: pytest.MonkeyPatch) -> None:
    # given an integer, then garbage / when read / then the value, then an error
    monkeypatch.setenv(VAR, "42")
    assert env_int(VAR, 1) == 42
    monkeypatch.setenv(VAR, "4k")
    with pytest.raises(ImproperlyConfigured, match=VAR):
        env_int(VAR, 1)
    monkeypatch.delenv(VAR)
    assert env_int(VAR, 7) == 7


def test_env_list_and_str(monkeypatch: pytest.MonkeyPatch) -> None:
    # given a comma list with blanks / when read / then trimmed items only
    monkeypatch.setenv(VAR, " a.example, ,b.example,")
    assert env_list(VAR, ["x"]) == ["a.example", "b.example"]
    assert env_str(VAR) == " a.example, ,b.example,"
    monkeypatch.delenv(VAR)
    assert env_list(VAR, ["x"]) == ["x"] and env_str(VAR, "d") == "d"


def test_broker_url_spells_unix_sockets_for_kombu() -> None:
    # given Redis URLs / when turned into broker URLs / then unix sockets use kombu's scheme
    assert _broker_url("unix:///tmp/r.sock") == "redis+socket:///tmp/r.sock"
    assert _broker_url("redis://127.0.0.1:6379/5") == "redis://127.0.0.1:6379/5"
