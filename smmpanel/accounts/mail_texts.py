# ruff: noqa: RUF001 - Russian text: its Cyrillic letters look like Latin ones on purpose
"""The texts of the mail the panel sends customers, in English and Russian
(the web pages' catalog belongs to the web edge; the worker sends these)."""

from __future__ import annotations


def reset_message(language: str | None, *, username: str, link: str, hours: int) -> tuple[str, str]:
    """The mail's subject and text, in the account's language (English by default)."""
    if language == "ru":
        return (
            "Сброс пароля",
            f"Здравствуйте, {username}!\n\n"
            f"Кто-то (надеемся, вы) попросил сбросить пароль на панели. Новый пароль "
            f"можно задать по этой ссылке; она работает один раз и {hours} ч.:\n\n"
            f"{link}\n\n"
            "Если вы этого не просили, просто проигнорируйте письмо: пароль не изменится.\n",
        )
    return (
        "Password reset",
        f"Hello {username},\n\n"
        f"Someone (we hope you) asked to reset your password on the panel. Set a new "
        f"one with this link; it works once, for {hours} hours:\n\n"
        f"{link}\n\n"
        "If you did not ask for it, ignore this mail: your password stays as it is.\n",
    )
