"""The smm command line, run with typer's CliRunner against a real server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from smmpanel.client.cli import app

from .fake_panel import KEY, FakePanel
from .panel_server import PanelServer, Reply, Script
from .test_client_retries import closed_port_url


@pytest.fixture
def smm(panel: PanelServer) -> Any:
    """``smm(*args, env=...)`` -> click Result; configured through the environment."""
    runner = CliRunner()

    def run(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> Any:
        # Wide COLUMNS, so table cells stay whole whatever the runner sets (xdist: 80).
        base = {
            "SMM_API_URL": panel.url,
            "SMM_API_KEY": KEY,
            "SMM_API_METHOD": "post",
            "COLUMNS": "200",
        }
        return runner.invoke(app, list(args), env={**base, **(env or {})}, input=stdin)

    return run


def test_balance_json_and_table(smm: Any, panel: PanelServer) -> None:
    result = smm("balance", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"balance": "100.84292", "currency": "USD"}
    table = smm("balance")
    assert table.exit_code == 0
    assert "100.84292" in table.stdout and "USD" in table.stdout and "Balance" in table.stdout
    assert len(panel.calls("balance")) == 2


def test_options_instead_of_environment(smm: Any, panel: PanelServer) -> None:
    result = smm(
        "balance",
        "--json",
        "--url",
        panel.url,
        "--key",
        KEY,
        "--method",
        "get",
        env={"SMM_API_URL": "", "SMM_API_KEY": ""},
    )
    assert result.exit_code == 0
    assert json.loads(result.stdout)["balance"] == "100.84292"
    assert panel.requests[-1].method == "GET"


def test_options_before_the_command_apply_to_it(smm: Any, panel: PanelServer) -> None:
    no_env = {"SMM_API_URL": "", "SMM_API_KEY": "", "SMM_API_METHOD": ""}
    before = ["--url", panel.url, "--key", KEY, "--method", "json", "--json"]
    result = smm(*before, "balance", env=no_env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["balance"] == "100.84292"
    assert panel.requests[-1].headers["content-type"].startswith("application/json")
    # after the command, an option wins over the same one before it
    result = smm(*before, "balance", "--method", "get", env=no_env)
    assert result.exit_code == 0 and json.loads(result.stdout)["currency"] == "USD"
    assert panel.requests[-1].method == "GET"
    wrong_key = smm("--key", "nope", "balance", env=no_env | {"SMM_API_URL": panel.url})
    assert wrong_key.exit_code == 1 and "Invalid API key" in wrong_key.stderr
    assert smm("--url", panel.url, "balance", "--key", KEY, env=no_env).exit_code == 0


def test_services_table_filters_and_json(smm: Any) -> None:
    table = smm("services", "--category", "instagram")
    assert table.exit_code == 0
    assert "Followers" in table.stdout and "Auto likes" in table.stdout
    assert "Poll votes" not in table.stdout
    assert "3 services" in table.stdout
    found = json.loads(smm("services", "--json", "--search", "POLL").stdout)
    assert found == [
        {
            "service": 3,
            "name": "Poll votes",
            "type": "Poll",
            "rate": "0.00090",
            "min": 100,
            "max": 100000,
            "dripfeed": False,
            "refill": False,
            "cancel": False,
            "category": "Twitter Polls",
            "description": None,
        }
    ]


def test_add_with_drip_feed_and_request_id(smm: Any, panel: PanelServer, fake: FakePanel) -> None:
    result = smm(
        "add",
        "1",
        "https://instagram.com/p/abc",
        "100",
        "--runs",
        "2",
        "--interval",
        "5",
        "--request-id",
        "cli-1",
        "--json",
    )
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"order": 1001}
    params = panel.calls("add")[0].params
    assert (params["runs"], params["interval"], params["request_id"]) == ("2", "5", "cli-1")
    assert fake.created == 1
    table = smm("add", "3", "https://twitter.com/poll", "500", "--answer-number", "2")
    assert table.exit_code == 0 and "Order 1002 placed" in table.stdout
    assert panel.calls("add")[1].params["answer_number"] == "2"


def test_add_comments_and_usernames_from_files(
    smm: Any, panel: PanelServer, tmp_path: Path
) -> None:
    comments = tmp_path / "comments.txt"
    comments.write_text("First!\n\nSo good\n" + "\n".join(f"c{i}" for i in range(10)) + "\n")
    result = smm(
        "add",
        "2",
        "https://instagram.com/p/x",
        "--comments-file",
        str(comments),
        "--param",
        "extra_field=1",
        "--json",
    )
    assert result.exit_code == 0, result.stderr
    sent = panel.calls("add")[0].params
    assert sent["comments"].split("\n") == ["First!", "So good", *[f"c{i}" for i in range(10)]]
    assert sent["extra_field"] == "1" and "quantity" not in sent
    names = smm(
        "add",
        "4",
        "",
        "--usernames-file",
        "-",
        "--min",
        "100",
        "--max",
        "200",
        "--expiry",
        "31/12/2030",
        stdin="alice\nbob\n",
    )
    assert names.exit_code == 0, names.stderr
    sent = panel.calls("add")[1].params
    assert (sent["usernames"], sent["min"], sent["expiry"]) == ("alice\nbob", "100", "31/12/2030")
    assert "link" not in sent


def test_status_table_and_per_id_error_exit_code(smm: Any) -> None:
    ok = smm("status", "10", "11")
    assert ok.exit_code == 0
    assert "Partial" in ok.stdout and "Canceled" in ok.stdout and "0.01230" in ok.stdout
    bad = smm("status", "10", "99999", "--json")
    assert bad.exit_code == 1
    assert json.loads(bad.stdout) == [
        {
            "order": 10,
            "status": "Partial",
            "charge": "0.01230",
            "start_count": 100,
            "remains": 10,
            "currency": "USD",
        },
        {"order": 99999, "error": "Incorrect order ID", "code": "incorrect_order"},
    ]
    assert bad.stderr.strip() == "1 of 2 ids answered with an error"


def test_status_of_many_ids_shows_progress_on_stderr(smm: Any, panel: PanelServer) -> None:
    ids = [str(i) for i in range(1, 251)]
    result = smm("status", *ids, "--json")
    assert result.exit_code == 0
    assert [r["order"] for r in json.loads(result.stdout)] == list(range(1, 251))
    assert "Order status" in result.stderr and "250/250" in result.stderr
    assert [len(c.ids) for c in panel.calls("status")] == [100, 100, 50]
    few = smm("status", "1", "--json")
    assert few.stderr == ""


def test_refill_cancel_and_their_statuses(smm: Any) -> None:
    refill = smm("refill", "3", "4", "--json")
    assert refill.exit_code == 1
    assert json.loads(refill.stdout) == [
        {"order": 3, "refill": 5001},
        {
            "order": 4,
            "refill": None,
            "error": "Order not eligible for refill",
            "code": "not_eligible",
        },
    ]
    status = smm("refill-status", "5001", "2")
    assert status.exit_code == 0
    assert "Pending" in status.stdout and "Completed" in status.stdout
    cancel = smm("cancel", "5", "--json")
    assert json.loads(cancel.stdout) == [{"order": 5, "type": "order", "cancel": 7001}]
    cancel_status = smm("cancel-status", "7001", "--json")
    assert json.loads(cancel_status.stdout) == [{"cancel": 7001, "status": "Pending"}]
    table = smm("cancel-status", "1", "2")
    assert "Completed" in table.stdout and "Rejected" in table.stdout


def test_api_error_exits_1_with_one_line(smm: Any) -> None:
    result = smm("add", "1", "https://x", "10")
    assert result.exit_code == 1
    assert result.stderr == "error: Quantity less than minimal 50 [quantity_too_low]\n"
    assert result.stdout == ""
    wrong_key = smm("balance", env={"SMM_API_KEY": "nope"})
    assert wrong_key.exit_code == 1
    assert wrong_key.stderr == "error: Invalid API key [invalid_key]\n"


def test_transport_and_protocol_errors_exit_3(smm: Any, panel: PanelServer) -> None:
    down = smm("balance", env={"SMM_API_URL": closed_port_url(), "SMM_API_RETRIES": "0"})
    assert down.exit_code == 3
    assert down.stderr.startswith("error: balance: ConnectError")
    assert down.stderr.count("\n") == 1 and "Traceback" not in down.output
    panel.responder = Script({"balance": Reply("<html>oops</html>", 200, "text/html")})
    html = smm("balance", "--json")
    assert html.exit_code == 3
    assert html.stderr == "error: balance: the answer is not JSON (HTTP 200): <html>oops</html>\n"
    assert KEY not in down.output + html.output


def test_add_that_may_have_created_an_order_exits_3(smm: Any, fake: FakePanel) -> None:
    fake.add_delays = [1.0]
    result = smm("add", "1", "https://x", "100", "--timeout", "0.3")
    assert result.exit_code == 3
    assert "may or may not have been created" in result.stderr
    assert result.stderr.count("\n") == 1


def test_usage_errors_exit_2(smm: Any) -> None:
    assert smm("status").exit_code == 2
    assert smm("status", "abc").exit_code == 2
    missing = smm("balance", env={"SMM_API_URL": ""})
    assert missing.exit_code == 2 and "SMM_API_URL" in missing.output
    no_key = smm("balance", env={"SMM_API_KEY": ""})
    assert no_key.exit_code == 2 and "SMM_API_KEY" in no_key.output
    bad_file = smm("add", "2", "https://x", "--comments-file", "/nonexistent/file.txt")
    assert bad_file.exit_code == 2 and "cannot read" in bad_file.output
    bad_param = smm("add", "1", "https://x", "100", "--param", "novalue")
    assert bad_param.exit_code == 2 and "NAME=VALUE" in bad_param.output


def test_help_documents_exit_codes_and_commands(smm: Any) -> None:
    result = smm("--help")
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    assert "Exit codes: 0 success; 1 the panel answered an error" in text
    assert "2 usage error; 3 no usable answer" in text
    for command in (
        "balance",
        "services",
        "add",
        "status",
        "refill",
        "refill-status",
        "cancel",
        "cancel-status",
    ):
        assert command in result.stdout
