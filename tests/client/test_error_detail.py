"""The panel's explanation of an error reaches the SDK's ApiError and `smm`'s output."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from typer.testing import CliRunner

from smmpanel.api_v2.app import create_app
from smmpanel.client import ApiError, AsyncClient, Client
from smmpanel.client.cli import app
from smmpanel.client.dialect import error_details
from smmpanel.db import Database
from smmpanel.server import serve_in_thread
from tests.factories import make_customer, make_service

from .fake_panel import KEY
from .panel_server import PanelServer, Reply, Script

INCORRECT = {"error": "Incorrect request", "detail": "quantity: required"}


def smm(url: str, key: str, *args: str) -> Any:
    env = {"SMM_API_URL": url, "SMM_API_KEY": key, "SMM_API_METHOD": "post"}
    return CliRunner().invoke(app, list(args), env=env)


def raised(panel: PanelServer, reply: object, kind: str = "sync") -> ApiError:
    panel.responder = Script({"add": Reply(reply)})
    with pytest.raises(ApiError) as caught:
        if kind == "sync":
            with Client(panel.url, KEY, retries=0) as client:
                client.add(1, "https://example.com/p", 100)
        else:

            async def place() -> None:
                async with AsyncClient(panel.url, KEY, retries=0) as client:
                    await client.add(1, "https://example.com/p", 100)

            asyncio.run(place())
    return caught.value


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_api_error_carries_the_detail(panel: PanelServer, kind: str) -> None:
    error = raised(panel, INCORRECT, kind)
    assert (error.message, error.code) == ("Incorrect request", "incorrect_request")
    assert error.detail == "quantity: required"
    assert error.details == {"detail": "quantity: required"}
    assert str(error) == "Incorrect request (quantity: required)"
    assert error.answer == INCORRECT


def test_every_other_text_field_is_kept_detail_first(panel: PanelServer) -> None:
    answer = {
        "status": "error",
        "hint": "see  the\n docs",
        "error": "Incorrect request",
        "code": 42,
        "detail": "link: not a URL",
    }
    error = raised(panel, answer)
    assert error.details == {"detail": "link: not a URL", "hint": "see the docs"}
    assert str(error) == "Incorrect request (link: not a URL; hint: see the docs)"
    assert error.answer == answer


def test_without_any_detail_the_message_stands_alone(panel: PanelServer) -> None:
    error = raised(panel, {"error": "Not enough funds on balance"})
    assert (error.detail, error.details) == (None, {})
    assert str(error) == "Not enough funds on balance"


def test_error_object_dialects() -> None:
    nested = {"error": {"message": "Incorrect request", "detail": "runs: too many"}}
    assert error_details(nested) == {"detail": "runs: too many"}
    flagged = {"error": True, "message": "Invalid API key", "reason": "key revoked"}
    assert error_details(flagged) == {"reason": "key revoked"}
    assert error_details("Invalid API key") == {}


def test_a_key_echoed_in_the_detail_is_hidden(panel: PanelServer) -> None:
    error = raised(panel, {"error": "Incorrect request", "detail": f"key {KEY} is odd"})
    assert KEY not in str(error) + repr(error) + json.dumps(error.answer)
    assert error.detail == "key *** is odd"
    assert error.answer == {"error": "Incorrect request", "detail": "key *** is odd"}


def test_smm_prints_the_detail(panel: PanelServer) -> None:
    panel.responder = Script({"add": Reply(INCORRECT)})
    result = smm(panel.url, KEY, "add", "1", "https://example.com/p")
    assert result.exit_code == 1
    assert result.stderr == "error: Incorrect request (quantity: required) [incorrect_request]\n"
    assert result.stdout == ""


def test_smm_json_prints_the_panels_error_object(panel: PanelServer) -> None:
    panel.responder = Script({"add": Reply(INCORRECT), "balance": Reply('"Invalid API key"')})
    result = smm(panel.url, KEY, "add", "1", "https://example.com/p", "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout) == INCORRECT
    assert result.stderr.startswith("error: Incorrect request (quantity: required)")
    # A bare error string: an object all the same.
    bare = smm(panel.url, KEY, "--json", "balance")
    assert bare.exit_code == 1
    assert json.loads(bare.stdout) == {"error": "Invalid API key"}


def test_smm_against_the_real_panel(db: Database) -> None:
    service = make_service(db)
    alice = make_customer(db, balance="10")
    with serve_in_thread(create_app(db)) as base:
        url = f"{base}/api/v2"
        text = smm(url, alice.key, "add", str(service), "https://example.com/p/1")
        as_json = smm(url, alice.key, "add", str(service), "https://example.com/p/1", "--json")
    assert text.exit_code == as_json.exit_code == 1
    answer = json.loads(as_json.stdout)
    assert answer["error"] == "Incorrect request"
    assert "quantity" in answer["detail"]
    assert text.stderr == f"error: Incorrect request ({answer['detail']}) [incorrect_request]\n"
