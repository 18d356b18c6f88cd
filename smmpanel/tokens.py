"""Random secrets that survive being pasted into a shell or a query string."""

from __future__ import annotations

import secrets


def new_token(nbytes: int = 32) -> str:
    """`nbytes` random bytes in the URL-safe alphabet, never starting with "-".

    Keys are pasted unescaped into query strings (URL-safe alphabet) and onto
    command lines, where a leading "-" reads as an option and the command
    refuses the key. Redrawing such a token (1 in 64) costs under a bit of
    entropy out of 256.
    """
    while True:
        token = secrets.token_urlsafe(nbytes)
        if not token.startswith("-"):
            return token
