"""The pages' forms (WTForms through starlette-wtf: each carries the CSRF token).

Only the shape of the input is checked here (present, not absurdly long); what
makes a username, a password or an e-mail acceptable is the domain's rule, and
its refusals are shown beside the form.  Labels are English msgids, translated
when the template renders them.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette_wtf import StarletteForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from smmpanel.web.i18n import current_language

_TEXT = Length(max=255)
_PASSWORD = Length(max=256)


class Form(StarletteForm):
    """WTForms' own messages ("This field is required.") in the page's language."""

    class Meta:
        locales: Any = ("en",)

    def __init__(self, request: Request, *args: Any, **kwargs: Any) -> None:
        meta = dict(kwargs.pop("meta", None) or {})
        meta["locales"] = (current_language(), "en")
        super().__init__(request, *args, meta=meta, **kwargs)


class LoginForm(Form):
    username = StringField("Username", [DataRequired(), Length(max=64)])
    password = PasswordField("Password", [DataRequired(), _PASSWORD])


class SignupForm(Form):
    username = StringField("Username", [DataRequired(), Length(max=64)])
    email = EmailField("E-mail", [DataRequired(), _TEXT])
    password = PasswordField("Password", [DataRequired(), _PASSWORD])


class ChangePasswordForm(Form):
    current = PasswordField("Current password", [DataRequired(), _PASSWORD])
    new = PasswordField("New password", [DataRequired(), _PASSWORD])


class ResetForm(Form):
    password = PasswordField("New password", [DataRequired(), _PASSWORD])


class CodeForm(Form):
    code = StringField(
        "Code from the app",
        [DataRequired(), Length(max=16)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )


class TwoFactorBeginForm(Form):
    """Only the button (and the CSRF token)."""


class TwoFactorForm(Form):
    """Turning two-factor authentication on or off: the password and a code."""

    password = PasswordField("Password", [DataRequired(), _PASSWORD])
    code = StringField(
        "Code from the app",
        [DataRequired(), Length(max=16)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )


class ResetRequestForm(Form):
    login = StringField("Username or e-mail", [DataRequired(), _TEXT])
