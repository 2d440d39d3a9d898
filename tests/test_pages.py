"""The logreg commands stop NumPy from requesting huge pages, unless the user set NUMPY_MADVISE_HUGEPAGE."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from logreg_cli import pages
from logreg_cli.cli import main

switch = pages._hugepage_switch()
pytestmark = pytest.mark.skipif(switch is None, reason="this NumPy has no huge-page switch")


@pytest.fixture
def huge_pages_on() -> Iterator[None]:
    before = switch(True)
    yield
    switch(before)


def huge_pages_enabled() -> bool:
    enabled = switch(True)
    switch(enabled)
    return bool(enabled)


def test_turns_huge_pages_off(monkeypatch: pytest.MonkeyPatch, huge_pages_on: None) -> None:
    monkeypatch.delenv(pages.ENVIRONMENT_VARIABLE, raising=False)
    assert pages.prefer_small_pages() is True
    assert huge_pages_enabled() is False
    assert pages.prefer_small_pages() is False  # already off


@pytest.mark.parametrize("value", ["0", "1"])
def test_environment_variable_wins(monkeypatch: pytest.MonkeyPatch, huge_pages_on: None, value: str) -> None:
    monkeypatch.setenv(pages.ENVIRONMENT_VARIABLE, value)
    assert pages.prefer_small_pages() is False
    assert huge_pages_enabled() is True


def test_commands_turn_huge_pages_off(monkeypatch: pytest.MonkeyPatch, huge_pages_on: None) -> None:
    monkeypatch.delenv(pages.ENVIRONMENT_VARIABLE, raising=False)
    result = CliRunner().invoke(main, ["init-config"])
    assert result.exit_code == 0, result.output
    assert huge_pages_enabled() is False
