"""The API documentation page's tables stay those of docs/api.md."""

from __future__ import annotations

from pathlib import Path

from smmpanel.web.api_docs import ACTIONS, ERRORS

API_MD = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()


def test_the_page_tables_match_the_reference() -> None:
    for action, _, answer in ACTIONS:
        assert f"| `{action}` |" in API_MD, action
        if not answer.endswith("...}]") and answer.startswith("{"):
            assert answer in API_MD, answer
    for _, error in ERRORS:
        assert error.replace(" N", "") in API_MD, error
