"""POST /payments/webhook/{code}: where payment gateways post their events.

A gateway is a program, not a browser: this route sits beside /api/v2 (composed
in smmpanel/server.py), outside the pages' session, CSRF and header middleware,
and answers JSON only.  The status codes are what gateways act on:

- 200 ``{"ok": true}``: taken (a duplicate or an out-of-order event too: it was
  recorded and changed nothing, and sending it again would not either);
- 400: refused (wrong signature, unreadable body): nothing changed, and the same
  webhook sent again will be refused again;
- 404: no such gateway installed, or never set up (a disabled one still takes
  webhooks, so payments already started are credited);
- 413: a body over 256 KB (no gateway sends one);
- 503 with Retry-After: the gateway or the database could not be reached, or
  something unexpected failed; nothing was committed, or what was is safe to
  repeat (crediting is keyed on the deposit), so the gateway should retry.

Nothing of the body, the headers or a secret is ever written to the log.
"""

from __future__ import annotations

import logging
import re

import anyio.to_thread
from anyio import CapacityLimiter
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from smmpanel.bodies import BodyTooLarge, read_body
from smmpanel.config import Settings
from smmpanel.db import UNAVAILABLE_ERRORS, Database
from smmpanel.errors import DomainError
from smmpanel.metrics.recorder import PanelMetrics
from smmpanel.payments.errors import GatewayDisabled, UnknownGateway
from smmpanel.payments.gateway import GatewayUnavailable, WebhookRefused
from smmpanel.payments.service import receive_webhook

log = logging.getLogger("smmpanel.payments.webhook")

MAX_BODY = 256 * 1024
RETRY_AFTER_SECONDS = 60
EVERY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
GATEWAY_CODE = re.compile(r"[a-z0-9_]{1,32}")


def _answer(status: int, body: dict[str, object], **headers: str) -> Response:
    return JSONResponse(body, status_code=status, headers=headers or None)


def _retry_later(detail: str) -> Response:
    return _answer(
        503, {"error": detail, "retry": True}, **{"Retry-After": str(RETRY_AFTER_SECONDS)}
    )


class WebhookEndpoint:
    """The route's handler, holding the database and the settings.  At most
    `threads` webhooks are applied at once: a gateway retrying a burst must
    not take every thread the API has."""

    def __init__(
        self, db: Database, settings: Settings, metrics: PanelMetrics | None = None
    ) -> None:
        self.db = db
        self.settings = settings
        self.metrics = metrics
        self.threads = CapacityLimiter(max(1, settings.db_threads))

    async def handle(self, request: Request) -> Response:
        response = await self._handle(request)
        if self.metrics is not None:  # refusals counted: a wrong secret shows on a graph
            self.metrics.payment_webhook(request.path_params["code"], response.status_code)
        return response

    async def _handle(self, request: Request) -> Response:
        if request.method != "POST":
            return _answer(405, {"error": "a webhook is a POST"}, Allow="POST")
        code = request.path_params["code"]
        if not GATEWAY_CODE.fullmatch(code):
            return _answer(404, {"error": "no such gateway"})
        try:
            # The raw body: the signature is over its exact bytes.
            body = await read_body(request, MAX_BODY)
        except BodyTooLarge:
            # Closing the connection stops the upload rather than read and drop it.
            return _answer(413, {"error": "body too large"}, Connection="close")
        except ClientDisconnect:
            return _answer(400, {"error": "the body ended early"})
        return await self.apply(code, body, dict(request.headers))

    async def apply(self, code: str, body: bytes, headers: dict[str, str]) -> Response:
        try:
            await anyio.to_thread.run_sync(self._receive, code, body, headers, limiter=self.threads)
        except WebhookRefused as exc:
            # The reason is the gateway's own words (no secret, no body): useful to
            # an owner whose signing secret is wrong.
            log.info("webhook for %s refused: %s", code, str(exc)[:200])
            return _answer(400, {"error": "webhook refused"})
        except (UnknownGateway, GatewayDisabled):
            return _answer(404, {"error": "no such gateway"})
        except GatewayUnavailable as exc:
            log.warning("webhook for %s: the gateway is unreachable: %s", code, str(exc)[:200])
            return _retry_later("the gateway could not be reached; try again")
        except UNAVAILABLE_ERRORS as exc:
            log.warning("webhook for %s: database unavailable: %s", code, type(exc).__name__)
            return _retry_later("the panel is busy; try again")
        except DomainError as exc:
            # A refusal of the domain (e.g. a malformed event): sending it again
            # would not change it.
            log.info("webhook for %s not applied: %s", code, str(exc)[:200])
            return _answer(400, {"error": "webhook not applied"})
        except Exception:
            # A bug: no traceback detail leaves, and the gateway retries later,
            # which is safe (a deposit is credited once whatever comes twice).
            log.exception("webhook for %s failed", code)
            return _retry_later("the webhook could not be applied; try again")
        return _answer(200, {"ok": True})

    def _receive(self, code: str, body: bytes, headers: dict[str, str]) -> None:
        receive_webhook(self.db, gateway=code, body=body, headers=headers, settings=self.settings)


def webhook_routes(
    db: Database, settings: Settings, *, metrics: PanelMetrics | None = None
) -> list[Route]:
    endpoint = WebhookEndpoint(db, settings, metrics)
    # A bound method, so that Starlette calls it with a Request (an object would
    # be an ASGI app).  Every method reaches it: one limited to POST would let a
    # GET fall through to the pages' HTML 404.
    return [Route("/payments/webhook/{code}", endpoint.handle, methods=EVERY_METHOD)]
