"""Answers of other panels, in the dialects real panels speak, as scripts for PanelServer.

Each script answers by ``action:id-parameter`` (see ``Received.variant``).
"""

from __future__ import annotations

from .panel_server import Reply, Script

# A panel that sends numbers rather than strings, says "Cancelled", "In Progress",
# "remains": "Unknown", adds "status": "success", lowercases type names, gives
# booleans as "1"/"0"/1/true and per-id errors as bare strings.
NUMBERS_AND_SPELLINGS = {
    "services": Reply(
        [
            {
                "service": "1",
                "name": "Followers",
                "type": "default",
                "rate": 0.9,
                "min": 50,
                "max": "10000",
                "dripfeed": "1",
                "refill": 1,
                "cancel": "0",
                "category": "Followers",
            },
            {
                "service": 2,
                "name": "Comments [Refill 30D]",
                "type": " custom comments ",
                "rate": "8",
                "min": "10",
                "max": 15000,
                "dripfeed": 0,
                "refill": "false",
                "cancel": True,
                "category": "Comments",
                "desc": "Real comments",
            },
            {
                "service": 3,
                "name": "Traffic",
                "type": "web_traffic",
                "rate": 0.0009,
                "min": "100",
                "max": "1000000",
                "dripfeed": "true",
                "refill": "0",
                "cancel": "1",
                "category": "Traffic",
            },
            {
                "service": 4,
                "name": "Exotic",
                "type": "Likes  Split",
                "rate": "1.5",
                "min": "1",
                "max": "2",
                "category": "Other",
            },
        ]
    ),
    "status:orders": Reply(
        {
            "status": "success",
            "1": {
                "charge": 0.27819,
                "start_count": 3572,
                "status": "Cancelled",
                "remains": 0,
                "currency": "USD",
            },
            "2": {
                "charge": "1.44219",
                "start_count": "",
                "status": "In Progress",
                "remains": "Unknown",
                "currency": "USD",
            },
            "3": "Incorrect order ID",
            "4": {"charge": "0.1", "start_count": "12", "status": "canceled", "remains": "12"},
            "5": {"charge": 2, "start_count": None, "status": "completed", "remains": "0"},
        }
    ),
    "status:order": Reply(
        {
            "status": "Cancelled",
            "charge": 0.5,
            "remains": "Unknown",
            "start_count": None,
            "currency": "EUR",
        }
    ),
    "add": Reply({"status": "success", "order": "23501"}),
    "balance": Reply({"status": "success", "balance": 100.84292, "currency": "USD"}),
    "refill:orders": Reply(
        [
            {"order": "1", "refill": "11"},
            {"order": 2, "refill": "Incorrect order ID"},
            {"order": 3, "error": "Refill is disabled for this service"},
        ]
    ),
    "refill:order": Reply({"status": "success", "refill": 77}),
    "refill_status:refills": Reply(
        [
            {"refill": 1, "status": "completed"},
            {"refill": 2, "type": "Rejected"},
            {"refill": "3", "status": {"error": "Refill not found"}},
        ]
    ),
    "refill_status:refill": Reply({"status": "in progress"}),
    "cancel:orders": Reply(
        {
            "1": {"type": "order", "cancel": "100"},
            "2": {"cancel": {"error": "Cancellation request was sent earlier"}},
        }
    ),
    "cancel:cancels": Reply(
        [
            {"cancel": "1", "status": "completed"},
            {"cancel": 2, "status": "Cancel not found"},
        ]
    ),
}


def numbers_and_spellings() -> Script:
    return Script(NUMBERS_AND_SPELLINGS)


# A panel that wraps single answers in the multi shape, and answers a multi
# call about one id in the single shape.
WRAPPED = {
    "status:order": Reply(
        {
            "7": {
                "charge": "0.10000",
                "start_count": "0",
                "status": "Pending",
                "remains": "100",
                "currency": "USD",
            }
        }
    ),
    "status:orders": Reply(
        {
            "charge": "0.20000",
            "start_count": "5",
            "status": "Partial",
            "remains": "3",
            "currency": "USD",
        }
    ),
    "refill:order": Reply([{"order": 7, "refill": 70}]),
    "refill_status:refill": Reply([{"refill": 70, "status": "Completed"}]),
    "cancel:orders": Reply({"order": 7, "type": "dripfeed", "cancel": 300}),
}

# Untranslated error keys, as some panels leave them.
UNTRANSLATED = {
    "add": Reply({"error": "neworder.error.not_enough_funds"}),
    "balance": Reply({"error": "error.incorrect_key"}),
    "status:order": Reply({"error": "Incorrect order ID"}),
    "status:orders": Reply({"error": "Incorrect order ID"}),
    "refill:order": Reply({"error": "neworder.error.refill_disabled"}),
    "services": Reply(b'"Invalid API key"'),
}

HTML_502 = Reply(
    "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway"
    "</h1></center><hr><center>nginx</center></body></html>",
    status=502,
    content_type="text/html",
)
HTML_200 = Reply(
    "<!DOCTYPE html><html><body><h1>Site under maintenance</h1><p>Back soon.</p></body></html>",
    content_type="text/html; charset=utf-8",
)
EMPTY = Reply("", content_type="text/html")
