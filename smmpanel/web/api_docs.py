"""The API documentation page's content, built from the running panel: its
URL, the service types it knows, and the customer's own services, so each
example can be pasted and run (with the real key in place of YOUR_API_KEY).
The tables follow docs/api.md."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from smmpanel.catalog.queries import ServiceView
from smmpanel.catalog.types import SERVICE_TYPES, ServiceType

KEY_PLACEHOLDER = "YOUR_API_KEY"
SAMPLE_LINK = "https://instagram.com/p/example"
# Sample values of the parameters `add` takes; counts and lists are made per service.
SAMPLES: dict[str, str] = {
    "hashtag": "smm",
    "username": "example_user",
    "media": SAMPLE_LINK,
    "answer_number": "1",
    "keywords": "smm panel, followers",
    "hashtags": "#smm\n#panel",
    "groups": "group_one\ngroup_two",
    "usernames": "first_user\nsecond_user",
    "comments": "Great post!\nLove it",
}
INT_PARAMS = frozenset(("quantity", "runs", "interval", "answer_number", "min", "max"))
LIST_PARAMS = frozenset(("comments", "usernames", "hashtags", "groups"))
MAX_SAMPLE_LINES = 50

QUANTITY_WORDS = {
    "param": "quantity",
    "package": "one package",
    "comments": "the number of comments",
    "usernames": "the number of usernames",
    "subscription": "min to max per new post",
}

# (action, parameters, answer): the Actions table of docs/api.md.
ACTIONS: tuple[tuple[str, str, str], ...] = (
    ("services", "—", "an array of services (id, name, type, rate, min, max, ...)"),
    ("add", "service, the parameters of its type, optional request_id", '{"order": 23501}'),
    (
        "status",
        "order (one id)",
        '{"charge": "0.27819", "start_count": "3572", "status": "Partial", "remains": "157", '
        '"currency": "USD"}',
    ),
    ("status", "orders (ids separated by commas)", "an object with one entry per id"),
    ("refill", "order (one id)", '{"refill": "1"}'),
    ("refill", "orders", '[{"order": 1, "refill": 1}, ...]'),
    ("refill_status", "refill (one id)", '{"status": "Completed"}'),
    ("refill_status", "refills", '[{"refill": 1, "status": "Completed"}, ...]'),
    ("cancel", "orders, or order", '[{"order": 1, "type": "order", "cancel": 100}, ...]'),
    ("cancel", "cancels (cancel request ids)", '[{"cancel": 100, "status": "Completed"}, ...]'),
    ("balance", "—", '{"balance": "100.84292", "currency": "USD"}'),
)

# (situation, error): the Errors table of docs/api.md.
ERRORS: tuple[tuple[str, str], ...] = (
    ("no key, or a key that is wrong, revoked or of a suspended account", "Invalid API key"),
    ("an unknown action, a missing or malformed parameter (with detail)", "Incorrect request"),
    ("a service that does not exist or is disabled", "Incorrect service ID"),
    ("a quantity below the minimum N", "Quantity less than minimal N"),
    ("a quantity above the maximum N", "Quantity more than maximum N"),
    ("a balance below the charge", "Not enough funds on balance"),
    (
        "an active order for this page on this service",
        "You have active order with this link. Please wait until order being completed.",
    ),
    ("an order id that does not exist or is another account's", "Incorrect order ID"),
)


@dataclass(frozen=True)
class TypeRow:
    name: str
    parameters: str
    quantity: str
    service_id: int | None  # the customer's service of this type, if any


@dataclass(frozen=True)
class Example:
    title: str
    params: tuple[tuple[str, str], ...]  # as sent, key first
    curl: str
    python: str


def type_rows(services: Iterable[ServiceView]) -> list[TypeRow]:
    first = first_of_each_type(services)
    return [
        TypeRow(
            name=kind.name,
            parameters=", ".join(_type_params(kind, link=True, dripfeed=kind.dripfeed)),
            quantity=QUANTITY_WORDS.get(kind.quantity, kind.quantity),
            service_id=first[kind.name].id if kind.name in first else None,
        )
        for kind in SERVICE_TYPES
    ]


def first_of_each_type(services: Iterable[ServiceView]) -> dict[str, ServiceView]:
    found: dict[str, ServiceView] = {}
    for service in services:
        found.setdefault(service.type, service)
    return found


def _type_params(kind: ServiceType, *, link: bool, dripfeed: bool) -> list[str]:
    names = ["link"] if link and kind.quantity != "subscription" else []
    if kind.quantity == "param":
        names.append("quantity")
    names += kind.required
    names += [f"{name} (optional)" for name in kind.optional]
    if dripfeed and kind.dripfeed:
        names += ["runs (optional)", "interval (optional)"]
    return names


def examples(api_url: str, services: Iterable[ServiceView]) -> list[Example]:
    """balance, services, then one `add` per service type the customer can order."""
    made = [
        _example(api_url, "balance", [("action", "balance")], "print(panel.balance())"),
        _example(
            api_url,
            "services",
            [("action", "services")],
            "for service in panel.services():\n"
            "        print(service.service, service.name, service.rate)",
        ),
    ]
    by_type = first_of_each_type(services)
    for kind in SERVICE_TYPES:
        service = by_type.get(kind.name)
        if service is None:
            continue
        params = add_params(kind, service)
        call = _python_add(service.id, params)
        made.append(
            _example(
                api_url,
                f"add: {kind.name}",
                [("action", "add"), ("service", str(service.id)), *params],
                f"order = {call}\n    print(order.order_id)",
            )
        )
    return made


def add_params(kind: ServiceType, service: ServiceView) -> list[tuple[str, str]]:
    """Parameters of `add` that the panel accepts for `service`."""
    params: list[tuple[str, str]] = []
    if service.link_required and kind.quantity != "subscription":
        params.append(("link", SAMPLE_LINK))
    if kind.quantity == "param":
        params.append(("quantity", str(service.min_quantity)))
    for name in kind.required:
        params.append((name, _sample(name, kind, service)))
    return params


def _sample(name: str, kind: ServiceType, service: ServiceView) -> str:
    if name in ("min", "max"):
        return str(service.min_quantity)
    if name == kind.quantity:  # the lines are the quantity: as many as the minimum
        lines = max(1, min(service.min_quantity, MAX_SAMPLE_LINES))
        word = "comment" if name == "comments" else "user"
        return "\n".join(f"{word}_{n}" for n in range(1, lines + 1))
    return SAMPLES.get(name, "example")


def _example(api_url: str, title: str, params: list[tuple[str, str]], python: str) -> Example:
    sent = [("key", KEY_PLACEHOLDER), *params]
    lines = [f"curl -X POST {api_url}"]
    lines += [f"  --data-urlencode {_shell_quote(f'{name}={value}')}" for name, value in sent]
    program = (
        "from smmpanel.client import Client\n\n"
        f'with Client("{api_url}", "{KEY_PLACEHOLDER}") as panel:\n'
        f"    {python}"
    )
    return Example(title=title, params=tuple(sent), curl=" \\\n".join(lines), python=program)


def _shell_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _python_add(service_id: int, params: list[tuple[str, str]]) -> str:
    values = dict(params)
    args = [str(service_id)]
    if "link" in values:
        args.append(repr(values.pop("link")))
        if "quantity" in values:
            args.append(values.pop("quantity"))
    for name, value in values.items():
        if name in INT_PARAMS:
            args.append(f"{name}={value}")
        elif name in LIST_PARAMS:
            args.append(f"{name}={value.splitlines()!r}")
        else:
            args.append(f"{name}={value!r}")
    return f"panel.add({', '.join(args)})"
