"""Taking updates in so that every message is answered, and answered once.

python-telegram-bot's ``Updater`` confirms a polled update to Telegram (the next getUpdates
offset) as soon as it is fetched, and its webhook answers 200 before the update is handled: a
crash then loses every update in hand. Here:

* ``Ledger`` records, in the ``Store``, which update ids are being handled and which are done
  (ids only, bounded). An update that comes again (Telegram resends what was not confirmed; a
  webhook retry; another replica got it first) is not answered twice: a done one is skipped, and
  one still being handled is waited for.
* ``BotApplication.process_update`` marks an update done only after its handlers ran and what
  they changed was stored (language choice, message ids for "Hide this chat").
* ``ConfirmingUpdater`` polls with an offset that confirms only updates that are done: while
  some are in hand it asks again every ``busy_poll_interval`` with the lowest one still in hand
  as the offset (Telegram sends those again, and they are skipped), so at most ``LIMIT``
  updates are in hand at once; one still in hand after ``HOLD_FOR`` seconds no longer holds
  the others back. Its webhook server checks the secret and the size before reading
  a body, answers 400 to malformed JSON, and answers 200 only once the update was handled
  (within ``answer_within``, below Telegram's own limit; otherwise 503, and Telegram retries).

What this guarantees is *at least once, with deduplication*: a ``kill -9`` or a lost machine at
the wrong moment can make the bot answer one message a second time (the reply went out, the
"done" did not), never leave it unanswered while Telegram still has it (24 hours).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dtm
import hmac
import json
import logging
from collections.abc import Callable, Sequence
from http import HTTPStatus
from typing import Any

from telegram import Update
from telegram.error import Conflict, InvalidToken, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import Application, Updater
from tornado import web
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from bot.storage import CLAIM_LEASE, Claim, Store
from bot.telegram.privacy import MessageTracker

logger = logging.getLogger(__name__)

#: Updates asked for per getUpdates call (Telegram's maximum), and so at most in hand at once.
LIMIT = 100
#: While updates are in hand, how often to ask Telegram for new ones (seconds).
BUSY_POLL_INTERVAL = 0.2
#: An update still in hand after this many seconds (a reply retried while Telegram is away)
#: stops holding back the confirmation of the others, which could otherwise stall the bot once
#: ``LIMIT`` updates piled up behind it.
HOLD_FOR = 30.0
#: Waits after a failed getUpdates: doubling from the first up to the last (seconds).
FIRST_RETRY = 0.5
MAX_RETRY = 5.0
#: Webhook: answer Telegram within this many seconds (Telegram gives up after about a minute).
ANSWER_WITHIN = 25.0
#: Webhook: the largest body read. Telegram's updates are a few kilobytes (a message is at most
#: 4,096 characters, plus entities, a replied-to message and a keyboard); anything bigger is not
#: from Telegram and is refused before it is read.
MAX_BODY = 1024 * 1024
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
#: How often another process's claim is checked while waiting for it (seconds).
CHECK_EVERY = 0.05


class ShuttingDown(Exception):
    """The process stops before an update in hand was handled (Telegram will resend it)."""


class Ledger:
    """Handled and in-hand update ids, in the store; wakes whoever waits for one."""

    def __init__(self, store: Store, *, lease: float = CLAIM_LEASE) -> None:
        self.store = store
        self._lease = lease
        self._mine: dict[int, asyncio.Future[None]] = {}
        self._listeners: list[Callable[[int], None]] = []
        self._renewer: asyncio.Task[None] | None = None

    def on_finish(self, listener: Callable[[int], None]) -> None:
        """Call ``listener(update_id)`` whenever an update is done (or found to be)."""
        self._listeners.append(listener)

    async def admit(self, update_id: int) -> Claim:
        """Claim ``update_id`` for this process: NEW (handle it), DONE or BUSY (skip it)."""
        if update_id in self._mine:
            return Claim.BUSY
        claim = await self.store.claim(update_id)
        if claim is Claim.NEW:
            self._mine[update_id] = asyncio.get_running_loop().create_future()
            self._start_renewing()
        return claim

    def holds(self, update_id: int) -> bool:
        return update_id in self._mine

    async def finish(self, update_id: int) -> None:
        """The update was handled: record it, then tell the waiters."""
        waiter = self._mine.pop(update_id, None)
        if waiter is None:
            return
        try:
            await self.store.finish(update_id)
        finally:
            if not waiter.done():
                waiter.set_result(None)
            self._notify(update_id)

    async def wait_done(self, update_id: int, timeout: float) -> Claim:
        """Wait until the update is done, here or elsewhere; BUSY if it still is at the end,
        NEW if its claim lapsed (the process handling it went away)."""
        waiter = self._mine.get(update_id)
        if waiter is not None:
            try:
                await asyncio.wait_for(asyncio.shield(waiter), timeout)
            except (TimeoutError, ShuttingDown):
                return Claim.BUSY
            return Claim.DONE
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            state = await self.store.state(update_id)
            if state is not Claim.BUSY or loop.time() >= deadline:
                return state
            await asyncio.sleep(CHECK_EVERY)

    async def close(self) -> None:
        renewer, self._renewer = self._renewer, None
        if renewer is not None:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
        for update_id in list(self._mine):  # not handled: let the next one to see it take it
            waiter = self._mine.pop(update_id)
            if not waiter.done():
                waiter.set_exception(ShuttingDown())
                waiter.exception()  # retrieved: nobody may be waiting for it
            await self.store.release(update_id)

    def _notify(self, update_id: int) -> None:
        for listener in self._listeners:
            listener(update_id)

    def _start_renewing(self) -> None:
        if self.store.shared and (self._renewer is None or self._renewer.done()):
            self._renewer = asyncio.get_running_loop().create_task(self._renew())

    async def _renew(self) -> None:
        """Keep this process's claims alive while it works on them."""
        while self._mine:
            await asyncio.sleep(self._lease / 3)
            await self.store.renew(list(self._mine))


class BotApplication(Application):  # type: ignore[type-arg]
    """``Application`` that stores what an update changed, then marks it done in the ledger."""

    store: Store
    ledger: Ledger
    tracker: MessageTracker

    def attach(self, store: Store, tracker: MessageTracker) -> None:
        """Give the application its store (called once, by ``build_application``)."""
        self.store = store
        self.tracker = tracker
        self.ledger = Ledger(store)

    async def initialize(self) -> None:
        """Open the store first: the persistence reads from it."""
        await self.store.open()
        await super().initialize()

    async def stop(self) -> None:
        """Finish the updates in hand (python-telegram-bot does), then confirm them."""
        await super().stop()
        if isinstance(self.updater, ConfirmingUpdater):
            await self.updater.confirm_handled()

    async def shutdown(self) -> None:
        """Shut down, then write and close the store."""
        try:
            await super().shutdown()
        finally:
            await self.ledger.close()
            await self.store.close()

    async def process_update(self, update: object) -> None:
        """Handle the update; then store what it changed; only then is it done."""
        try:
            await super().process_update(update)
        finally:
            await self._settle(update)

    async def _settle(self, update: object) -> None:
        try:
            await self.update_persistence()
            await self.tracker.flush()
        except Exception:
            logger.exception("Could not store what an update changed")
        if isinstance(update, Update):
            await self.ledger.finish(update.update_id)


# ---- polling and webhook ------------------------------------------------------------------


class ConfirmingUpdater(Updater):
    """``Updater`` whose polling and webhook confirm an update only once it was handled."""

    def __init__(self, application: BotApplication) -> None:
        super().__init__(bot=application.bot, update_queue=application.update_queue)
        self.ledger = application.ledger
        self.ledger.on_finish(self._finished)
        self.busy_poll_interval = BUSY_POLL_INTERVAL
        self.first_retry = FIRST_RETRY
        self.max_retry = MAX_RETRY
        self.answer_within = ANSWER_WITHIN
        self.max_body = MAX_BODY
        #: Updates fetched and not yet handled, with when they were fetched (event-loop time).
        self._in_hand: dict[int, float] = {}
        self.hold_for = HOLD_FOR
        self.limit = LIMIT
        self._next_offset = 0
        self._polled = False
        self._allowed_updates: Sequence[str] | None = None
        self._stopping = asyncio.Event()
        self._poller: asyncio.Task[None] | None = None
        self._server: HTTPServer | None = None

    # ---- polling ---------------------------------------------------------------------------

    async def start_polling(  # type: ignore[override]
        self,
        poll_interval: float = 0.0,
        timeout: int | dtm.timedelta = dtm.timedelta(seconds=10),
        bootstrap_retries: int = 0,
        allowed_updates: Sequence[str] | None = None,
        drop_pending_updates: bool | None = None,
        error_callback: Callable[[TelegramError], None] | None = None,
    ) -> asyncio.Queue[object]:
        """Delete any webhook, then poll in the background until ``stop()``."""
        self._check_startable()
        self._running = True
        try:
            await self._bootstrap(
                bootstrap_retries,
                webhook_url="",
                allowed_updates=None,
                drop_pending_updates=drop_pending_updates,
            )
        except BaseException:
            self._running = False
            raise
        seconds = timeout.total_seconds() if isinstance(timeout, dtm.timedelta) else timeout
        self._allowed_updates = allowed_updates
        self._polled = True
        self._poller = asyncio.get_running_loop().create_task(
            self._poll(float(seconds), poll_interval), name="ConfirmingUpdater:poll"
        )
        return self.update_queue

    def _offset(self) -> int:
        """Confirms everything below the lowest update still in hand, unless that one has been
        in hand for ``hold_for`` seconds: then it no longer holds the others back."""
        oldest = asyncio.get_running_loop().time() - self.hold_for
        held = [u for u, fetched in self._in_hand.items() if fetched > oldest]
        return min(held) if held else self._next_offset

    async def _poll(self, timeout: float, interval: float) -> None:
        retry = self.first_retry
        while self._running:
            busy = self._offset() < self._next_offset
            try:
                updates = await self.bot.get_updates(
                    offset=self._offset(),
                    limit=self.limit,
                    timeout=0 if busy else timeout,
                    allowed_updates=self._allowed_updates,
                )
            except asyncio.CancelledError:
                raise
            except TimedOut:
                continue  # a long poll that ran out: ask again
            except RetryAfter as error:
                await self._pause(_seconds(error.retry_after))
                continue
            except Exception as error:
                _log_poll_failure(error, retry)
                await self._pause(retry)
                retry = min(retry * 2, self.max_retry)
                continue
            retry = self.first_retry
            for update in updates:
                self._next_offset = max(self._next_offset, update.update_id + 1)
                await self._take(update)
            if self._offset() < self._next_offset:
                await self._pause(max(self.busy_poll_interval, interval))
            elif interval:
                await self._pause(interval)

    async def _take(self, update: Update) -> None:
        """Queue a fetched update unless it is in hand or done already."""
        update_id = update.update_id
        if update_id in self._in_hand:
            return
        claim = await self.ledger.admit(update_id)
        if claim is Claim.NEW:
            self._in_hand[update_id] = asyncio.get_running_loop().time()
            await self.update_queue.put(update)
        else:  # done, and fetched again because an earlier one is still in hand; or resent
            logger.debug("update=repeated %s", claim.value)

    def _finished(self, update_id: int) -> None:
        self._in_hand.pop(update_id, None)

    async def _pause(self, seconds: float) -> None:
        """Sleep, but not past ``stop()``."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    # ---- webhook ---------------------------------------------------------------------------

    async def start_webhook(  # type: ignore[override]
        self,
        listen: str = "127.0.0.1",
        port: int = 80,
        url_path: str = "",
        cert: Any = None,
        key: Any = None,
        bootstrap_retries: int = 0,
        webhook_url: str | None = None,
        allowed_updates: Sequence[str] | None = None,
        drop_pending_updates: bool | None = None,
        ip_address: str | None = None,
        max_connections: int = 40,
        secret_token: str | None = None,
        unix: Any = None,
    ) -> asyncio.Queue[object]:
        """Listen on ``listen:port/url_path`` (plain HTTP behind a TLS reverse proxy) and
        register ``webhook_url`` with Telegram."""
        if cert is not None or key is not None or unix is not None:
            raise RuntimeError("TLS and unix sockets belong to the reverse proxy in front")
        self._check_startable()
        self._running = True
        listen, port = getattr(listen, "value", listen), getattr(port, "value", port)
        try:
            path = "/" + url_path.strip("/")
            app = web.Application(
                [(path, WebhookHandler, {"updater": self, "secret": secret_token})],
                log_function=_no_access_log,
            )
            server = HTTPServer(app, max_body_size=self.max_body, idle_connection_timeout=60)
            server.add_sockets(bind_sockets(port, listen))
            self._server = server
            await self._bootstrap(
                bootstrap_retries,
                webhook_url=webhook_url or f"http://{listen}:{port}{path}",
                allowed_updates=allowed_updates,
                drop_pending_updates=drop_pending_updates,
                ip_address=ip_address,
                max_connections=max_connections,
                secret_token=secret_token,
            )
        except BaseException:
            self._running = False
            if self._server is not None:
                self._server.stop()
                self._server = None
            raise
        return self.update_queue

    async def deliver(self, update: Update) -> HTTPStatus:
        """Handle a webhook update; the status to answer Telegram with."""
        claim = await self.ledger.admit(update.update_id)
        if claim is Claim.NEW:
            await self.update_queue.put(update)
            claim = Claim.BUSY
        if claim is Claim.BUSY:
            claim = await self.ledger.wait_done(update.update_id, self.answer_within)
            if claim is Claim.NEW:  # whoever had it went away: take it over
                return await self.deliver(update)
        if claim is Claim.DONE:
            return HTTPStatus.OK
        logger.warning(
            "Update still being handled after %.0f s; Telegram will retry", self.answer_within
        )
        return HTTPStatus.SERVICE_UNAVAILABLE

    # ---- stopping --------------------------------------------------------------------------

    def _check_startable(self) -> None:
        if self.running:
            raise RuntimeError("This Updater is already running!")
        if not self._initialized:
            raise RuntimeError("This Updater was not initialized via `Updater.initialize`!")
        self._stopping.clear()

    async def stop(self) -> None:
        """Stop fetching; updates in hand are finished by ``Application.stop()``."""
        if not self.running:
            raise RuntimeError("This Updater is not running!")
        self._running = False
        self._stopping.set()
        poller, self._poller = self._poller, None
        if poller is not None:
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poller
        if self._server is not None:
            self._server.stop()  # no new connections; requests in progress still get answers

    async def confirm_handled(self) -> None:
        """Tell Telegram what was handled since the last poll (after polling stopped)."""
        if self._polled and not self.running and self._offset() > 0:
            try:
                await self.bot.get_updates(offset=self._offset(), limit=1, timeout=0)
            except TelegramError as error:
                logger.warning(
                    "Could not confirm the last updates (%s); they are skipped when they come "
                    "again",
                    type(error).__name__,
                )
            self._polled = False

    async def shutdown(self) -> None:
        """Close the webhook's connections, then shut down."""
        server, self._server = self._server, None
        if server is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.close_all_connections(), 5)
        await super().shutdown()


def _seconds(value: float | dtm.timedelta) -> float:
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


def _log_poll_failure(error: Exception, retry: float) -> None:
    """Telegram being unreachable is expected now and then; only our own bugs are ERRORs."""
    if isinstance(error, InvalidToken):
        logger.error("Telegram no longer accepts the token; retrying in %.1f s", retry)
    elif isinstance(error, Conflict):
        logger.warning(
            "Another process is polling with this token (409); retrying in %.1f s", retry
        )
    elif isinstance(error, (NetworkError, TelegramError)):
        logger.warning("getUpdates failed (%s); retrying in %.1f s", type(error).__name__, retry)
    else:
        logger.error("getUpdates failed; retrying in %.1f s", retry, exc_info=error)


def _no_access_log(handler: web.RequestHandler) -> None:
    """Tornado's access log names the path; the bot logs each update its own way."""


@web.stream_request_body
class WebhookHandler(web.RequestHandler):
    """One webhook request: the secret and the size are checked before the body is read."""

    def initialize(self, updater: ConfirmingUpdater, secret: str | None) -> None:
        self.updater = updater
        self.secret = secret
        self.body = bytearray()

    async def prepare(self) -> None:
        assert self.request.connection is not None
        self.request.connection.set_max_body_size(self.updater.max_body)  # type: ignore[attr-defined]
        if self.request.method != "POST":
            self._refuse(HTTPStatus.METHOD_NOT_ALLOWED)
            return
        given = self.request.headers.get(SECRET_HEADER, "")
        if self.secret and not hmac.compare_digest(given.encode(), self.secret.encode()):
            self._refuse(HTTPStatus.FORBIDDEN)
            return
        length = self.request.headers.get("Content-Length")
        if length is not None and (not length.isdigit() or int(length) > self.updater.max_body):
            self._refuse(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)

    def data_received(self, chunk: bytes) -> None:
        self.body.extend(chunk)

    def _refuse(self, status: HTTPStatus) -> None:
        self.set_status(status)
        self.set_header("Connection", "close")
        self.finish()

    async def post(self) -> None:
        try:
            data = json.loads(self.body)
            if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
                raise ValueError("not an update")
        except ValueError:
            logger.warning("Webhook request that is not an update (malformed JSON); answered 400")
            self.set_status(HTTPStatus.BAD_REQUEST)
            return
        try:
            update = Update.de_json(data, self.updater.bot)
        except Exception as error:
            logger.warning(
                "Skipping update %s that cannot be read (%s)",
                data["update_id"],
                type(error).__name__,
            )
            update = Update(data["update_id"])
        self.set_status(await self.updater.deliver(update))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        """Tornado would log the request with its body; only the type is logged here."""
        if isinstance(value, web.HTTPError):
            return
        logger.error("Webhook request failed (%s)", typ.__name__ if typ else "?")
