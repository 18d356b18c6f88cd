"""Generated keys and secrets are safe to paste into a shell and a query string."""

from __future__ import annotations

import re

from smmpanel.accounts.service import new_api_key
from smmpanel.orders.webhooks import new_webhook_secret
from smmpanel.tokens import new_token

URL_SAFE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]+$")


def test_tokens_never_start_with_a_dash() -> None:
    # 2,000 draws: with a plain token_urlsafe about 31 of them would start with "-".
    tokens = [new_token(24) for _ in range(2000)]
    assert all(URL_SAFE.match(t) for t in tokens)
    assert len(set(tokens)) == 2000


def test_api_keys_and_webhook_secrets_use_the_same_rule() -> None:
    keys = [new_api_key() for _ in range(500)] + [new_webhook_secret() for _ in range(500)]
    assert all(URL_SAFE.match(k) and len(k) >= 43 for k in keys)
