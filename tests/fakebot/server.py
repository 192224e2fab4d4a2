"""A fake Telegram Bot API server for end-to-end tests of the bot.

``FakeTelegram`` listens on 127.0.0.1 in the test's own event loop and speaks the Bot API over
real HTTP, so the bot under test runs unmodified: PTB's ``HTTPXRequest``, its retry loops and its
error mapping are all exercised. It is deliberately strict (HTML parsing like Telegram's, inline
keyboard limits, "message is not modified", unknown chats/messages) because every one of those
is a way a real bot fails in production while passing tests against a lenient mock.

Parameter encoding (checked against PTB 22's ``RequestData``/``HTTPXRequest``): PTB posts
``application/x-www-form-urlencoded`` (``multipart/form-data`` when uploading files). Strings are
sent as-is; every other value is JSON-encoded (``chat_id=42``, ``reply_markup={"inline_...``,
``disable_notification=true``). A form value therefore cannot tell "the string 42" from "the
number 42": like the real server, we decode per parameter name (``_JSON_FIELDS`` etc. below).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
import re
import socket
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import httpx
from tornado import httputil
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from . import updates as _updates

_log = logging.getLogger(__name__)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# --------------------------------------------------------------------------------------------
# Telegram's HTML parser (a port of tdlib's parse_html, td/telegram/MessageEntity.cpp)
# --------------------------------------------------------------------------------------------

_HTML_TAGS = _words(
    "a b strong i em s strike del u ins tg-spoiler tg-emoji span pre code blockquote"
)
_HTML_SPACES = " \t\r\n\v\0"  # tdlib's is_space(); "\0" doubles as its end-of-string marker
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_SIMPLE_ENTITY_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}
MAX_MESSAGE_LENGTH = 4096
_TRIMMED = " \t\r\n"


class HtmlParseError(ValueError):
    """Raised for text Telegram would reject with "can't parse entities"."""

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(f"Bad Request: can't parse entities: {detail}")


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _decode_entity(html: str, pos: int, *, strict: bool) -> tuple[str, int] | None:
    """Decode the character reference starting at ``html[pos] == "&"``.

    Returns (character, index after it) or None when it is not a reference Telegram knows.
    tdlib makes the ``;`` optional and keeps an unknown ``&`` literally; ``strict`` insists on
    the documented form (``&amp;`` etc.), which is what the bot must send anyway.
    """
    n = len(html)
    end = pos + 1
    if end < n and html[end] == "#":
        end += 1
        is_hex = end < n and html[end] == "x"
        if is_hex:
            end += 1
        start = end
        allowed = "0123456789abcdefABCDEF" if is_hex else "0123456789"
        while end < n and html[end] in allowed:
            end += 1
        digits = html[start:end]
        code = int(digits, 16 if is_hex else 10) if digits else 0
        if code == 0 or code >= 0x10FFFF or end - pos >= 10:
            return None
    else:
        while end < n and html[end].isascii() and html[end].isalpha():
            end += 1
        name = html[pos + 1 : end]
        if name not in _NAMED_ENTITIES:
            return None
        code = ord(_NAMED_ENTITIES[name])
    if end < n and html[end] == ";":
        end += 1
    elif strict:
        return None
    return chr(code), end


def parse_html(html: str, *, strict: bool = True) -> tuple[str, list[dict[str, Any]]]:
    """Parse Bot API HTML the way Telegram does: returns (visible text, entities).

    Entity offsets/lengths are UTF-16 code units. Raises ``HtmlParseError`` with Telegram's own
    wording (byte offsets are UTF-8 offsets into ``html``). With ``strict`` (the default) a bare
    ``&`` that is not a complete reference is rejected too, although Telegram itself lets it
    through: the Bot API documentation requires escaping it and the bot should do so.
    """
    n = len(html)
    out: list[str] = []
    utf16 = 0
    entities: list[dict[str, Any]] = []
    # (tag name, argument, UTF-16 offset where it starts, index into `out` where it starts)
    stack: list[tuple[str, str, int, int]] = []

    def at(k: int) -> str:
        return html[k] if k < n else "\0"

    def byte_offset(k: int) -> int:
        return len(html[:k].encode("utf-8", "surrogatepass"))

    i = 0
    while i < n:
        c = html[i]
        if c == "&":
            decoded = _decode_entity(html, i, strict=strict)
            if decoded is not None:
                char, i = decoded
                if 0xD800 <= ord(char) <= 0xDFFF:
                    raise HtmlParseError(
                        "Text contains invalid Unicode characters after decoding HTML entities, "
                        "check for unmatched surrogate code units"
                    )
                out.append(char)
                utf16 += _utf16_len(char)
                continue
            if strict:
                raise HtmlParseError(
                    f'Unescaped "&" at byte offset {byte_offset(i)}: write it as &amp; '
                    "(stricter than Telegram, which follows its docs loosely here)"
                )
        if c != "<":
            out.append(c)
            utf16 += _utf16_len(c)
            i += 1
            continue

        begin = i
        b_off = byte_offset(begin)
        i += 1
        if at(i) != "/":
            while at(i) not in _HTML_SPACES and at(i) != ">":
                i += 1
            if i >= n:
                raise HtmlParseError(f"Unclosed start tag at byte offset {b_off}")
            tag = html[begin + 1 : i].lower()
            if tag not in _HTML_TAGS:
                raise HtmlParseError(f'Unsupported start tag "{tag}" at byte offset {b_off}')
            argument = ""
            while at(i) != ">":
                while i < n and html[i] in _HTML_SPACES:
                    i += 1
                if at(i) == ">":
                    break
                name_start = i
                while at(i) not in _HTML_SPACES and at(i) not in "=>/\"'":
                    i += 1
                attr = html[name_start:i]
                if not attr:
                    raise HtmlParseError(
                        f'Empty attribute name in the tag "{tag}" at byte offset {b_off}'
                    )
                while i < n and html[i] in _HTML_SPACES:
                    i += 1
                if at(i) != "=":
                    if i >= n:
                        raise HtmlParseError(f'Unclosed start tag "{tag}" at byte offset {b_off}')
                    if tag == "blockquote" and attr == "expandable":
                        argument = "1"
                    continue
                i += 1
                while i < n and html[i] in _HTML_SPACES:
                    i += 1
                if i >= n:
                    raise HtmlParseError(f'Unclosed start tag "{tag}" at byte offset {b_off}')
                if html[i] not in "'\"":
                    token_start = i
                    while i < n and ((html[i].isascii() and html[i].isalnum()) or html[i] in ".-"):
                        i += 1
                    value = html[token_start:i].lower()
                    if at(i) not in _HTML_SPACES and at(i) != ">":
                        token_offset = byte_offset(token_start)
                        raise HtmlParseError(
                            f"Unexpected end of name token at byte offset {token_offset}"
                        )
                else:
                    quote = html[i]
                    i += 1
                    chars: list[str] = []
                    while i < n and html[i] != quote:
                        if html[i] == "&":
                            # Attribute values stay lenient: URLs full of bare "&" are common
                            # and Telegram accepts them.
                            decoded = _decode_entity(html, i, strict=False)
                            if decoded is not None:
                                chars.append(decoded[0])
                                i = decoded[1]
                                continue
                        chars.append(html[i])
                        i += 1
                    if i < n:
                        i += 1
                    value = "".join(chars)
                if i >= n:
                    raise HtmlParseError(f"Unclosed start tag at byte offset {b_off}")
                if tag == "a" and attr == "href":
                    argument = value
                elif tag == "code" and attr == "class" and value.startswith("language-"):
                    argument = value[len("language-") :]
                elif tag == "span" and attr == "class" and value.startswith("tg-"):
                    argument = value[len("tg-") :]
                elif tag == "tg-emoji" and attr == "emoji-id":
                    argument = value
                elif tag == "blockquote" and attr == "expandable":
                    argument = "1"
            if tag == "span" and argument != "spoiler":
                raise HtmlParseError(
                    f'Tag "span" must have class "tg-spoiler" at byte offset {b_off}'
                )
            stack.append((tag, argument, utf16, len(out)))
            i += 1
            continue

        # an end tag
        if not stack:
            raise HtmlParseError(f"Unexpected end tag at byte offset {b_off}")
        while at(i) not in _HTML_SPACES and at(i) != ">":
            i += 1
        end_tag = html[begin + 2 : i].lower()
        while i < n and html[i] in _HTML_SPACES:
            i += 1
        if at(i) != ">":
            raise HtmlParseError(f"Unclosed end tag at byte offset {b_off}")
        tag, argument, start, out_start = stack[-1]
        if end_tag and end_tag != tag:
            raise HtmlParseError(
                f'Unmatched end tag at byte offset {b_off}, expected "</{tag}>", '
                f'found "</{end_tag}>"'
            )
        if utf16 > start:
            entity = _make_entity(tag, argument, start, utf16 - start, "".join(out[out_start:]))
            if entity is not None:
                last = entities[-1] if entities else None
                same_span = last is not None and (last["offset"], last["length"]) == (
                    entity["offset"],
                    entity["length"],
                )
                if tag == "pre" and same_span and last["type"] == "code" and last.get("language"):
                    last["type"] = "pre"  # <pre><code class="language-x">: one pre entity
                elif tag == "code" and same_span and last["type"] == "pre" and argument:
                    last["language"] = argument  # <code class="language-x"> inside <pre>
                else:
                    entities.append(entity)
        stack.pop()
        i += 1

    if stack:
        raise HtmlParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    for entity in entities:
        if entity["type"] == "code":
            entity.pop("language", None)
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _make_entity(
    tag: str, argument: str, offset: int, length: int, inner_text: str
) -> dict[str, Any] | None:
    entity: dict[str, Any] = {"offset": offset, "length": length}
    if tag in _SIMPLE_ENTITY_TYPES:
        entity["type"] = _SIMPLE_ENTITY_TYPES[tag]
    elif tag == "tg-emoji":
        if not argument.isdigit() or int(argument) == 0:
            raise HtmlParseError("Invalid custom emoji identifier specified")
        entity.update(type="custom_emoji", custom_emoji_id=argument)
    elif tag == "a":
        url = argument or inner_text
        if not url:
            return None  # Telegram silently drops links it cannot check
        entity.update(type="text_link", url=url)
    elif tag == "pre":
        entity["type"] = "pre"
    elif tag == "code":
        entity["type"] = "code"
        if argument:
            entity["language"] = argument
    else:  # blockquote
        entity["type"] = "expandable_blockquote" if argument else "blockquote"
    return entity


def telegram_html_error(text: str, *, strict: bool = True) -> str | None:
    """Telegram's error description for ``text`` sent with ``parse_mode="HTML"``, or None.

    Checks parsing and the 4096-character limit on the visible text, e.g.
    ``telegram_html_error("a <br> b")`` ->
    ``'Bad Request: can\'t parse entities: Unsupported start tag "br" at byte offset 2'``.
    """
    try:
        visible, _ = parse_html(text, strict=strict)
    except HtmlParseError as exc:
        return str(exc)
    visible = visible.strip(_TRIMMED)
    if not visible:
        return "Bad Request: message text is empty"
    if len(visible) > MAX_MESSAGE_LENGTH:
        return "Bad Request: message is too long"
    return None


def visible_text(html: str, *, strict: bool = True) -> str:
    """The text a user sees for an HTML message (tags removed, entities decoded).

    Raises ``HtmlParseError`` if Telegram would reject it.
    """
    return parse_html(html, strict=strict)[0]


def _trim(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Strip leading/trailing whitespace like Telegram does, moving entities along."""
    stripped = text.strip(_TRIMMED)
    if stripped == text:
        return text, entities
    shift = _utf16_len(text[: len(text) - len(text.lstrip(_TRIMMED))])
    total = _utf16_len(stripped)
    moved = []
    for entity in entities:
        start = max(0, entity["offset"] - shift)
        end = min(total, entity["offset"] + entity["length"] - shift)
        if end > start:
            moved.append({**entity, "offset": start, "length": end - start})
    return stripped, moved


# --------------------------------------------------------------------------------------------
# Requests, responses and recordings
# --------------------------------------------------------------------------------------------

_JSON_FIELDS = _words(
    "reply_markup entities caption_entities results message_ids commands scope "
    "allowed_updates link_preview_options reply_parameters menu_button button media options "
    "permissions reaction rights prices input_message_content"
)
_INT_FIELDS = _words(
    "chat_id from_chat_id message_id offset limit timeout cache_time message_thread_id "
    "user_id max_connections reply_to_message_id until_date"
)
_BOOL_FIELDS = _words(
    "disable_notification protect_content show_alert is_personal drop_pending_updates "
    "allow_sending_without_reply disable_web_page_preview for_channels revoke_messages "
    "allow_paid_broadcast"
)
_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_CHAT_ACTIONS = _words(
    "typing upload_photo record_video upload_video record_voice upload_voice upload_document "
    "choose_sticker find_location record_video_note upload_video_note"
)
# Telegram's default when allowed_updates is empty: everything but these.
_OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_FAULT_DESCRIPTIONS = {
    400: "Bad Request: injected fault",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request; make sure that only one bot "
    "instance is running",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
_CANT_DELETE = "Bad Request: message can't be deleted for everyone"
_DELETABLE_FOR = 48 * 3600
_QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"
_PATH_RE = re.compile(r"/bot([^/]*)/([A-Za-z0-9_]+)/?")
_FILE_PATH_RE = re.compile(r"/file/bot([^/]*)/(.+)")


class ApiError(Exception):
    """A Bot API error response (``{"ok": false, "error_code": ..., "description": ...}``)."""

    def __init__(
        self, status: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


@dataclass(frozen=True)
class Call:
    """One Bot API request as the fake saw it.

    ``status`` is the HTTP status answered (0 when the connection was dropped instead);
    ``fault`` names the injected fault ("429", "500", "drop", "delay") for ``faulted_calls``.
    """

    method: str
    params: dict[str, Any]
    at: float
    token: str = ""
    status: int = 200
    result: Any = None
    error: str | None = None
    fault: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.fault is None

    def brief(self) -> str:
        shown = {k: v for k, v in self.params.items() if k not in ("reply_markup", "entities")}
        text = json.dumps(shown, ensure_ascii=False, default=str)
        if len(text) > 160:
            text = text[:157] + "..."
        outcome = self.fault or ("ok" if self.status == 200 else f"{self.status} {self.error}")
        return f"{self.method} {text} -> {outcome}"


@dataclass
class _Fault:
    kind: str  # "status" | "drop" | "delay"
    method: str | None  # lower-cased method name; None matches every method
    remaining: int | None  # None: until clear_faults()
    status: int = 0
    retry_after: int = 0
    description: str | None = None
    seconds: float = 0.0
    processed: bool = False


_DROP = object()  # answer with a closed connection instead of a response
_GONE = object()  # the client went away while we were waiting; there is nobody to answer


class _Exchange:
    """One HTTP request/response, with a wake-up event for long polls and slow answers."""

    def __init__(self, request: httputil.HTTPServerRequest) -> None:
        self.request = request
        self.wake = asyncio.Event()
        self.gone = False
        self.conflict = False
        # Called when the client hangs up before we answered (timeouts, cancelled polls).
        request.connection.set_close_callback(self._on_close)  # type: ignore[union-attr]

    def _on_close(self) -> None:
        self.gone = True
        self.wake.set()

    @property
    def closed(self) -> bool:
        stream = getattr(self.request.connection, "stream", None)
        return self.gone or stream is None or stream.closed()

    async def sleep(self, seconds: float) -> None:
        """Sleep, waking early when ``wake`` is set (client gone, server shutting down)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wake.wait(), seconds)

    def respond(self, status: int, body: bytes, content_type: str) -> None:
        if self.closed:
            return
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Unknown"
        headers = httputil.HTTPHeaders(
            {"Content-Type": content_type, "Content-Length": str(len(body))}
        )
        conn = self.request.connection
        assert conn is not None
        conn.write_headers(httputil.ResponseStartLine("HTTP/1.1", status, reason), headers, body)
        conn.finish()

    def drop(self) -> None:
        """Close the socket without a response: httpx reports RemoteProtocolError."""
        conn = self.request.connection
        if conn is not None:
            conn.close()  # type: ignore[attr-defined]


def _coerce(name: str, value: Any) -> Any:
    """Decode one parameter the way the Bot API reads form fields (see module docstring)."""
    if not isinstance(value, str):
        return value
    if name in _JSON_FIELDS:
        try:
            return json.loads(value)
        except ValueError:
            raise ApiError(400, f"Bad Request: can't parse {name} JSON object") from None
    if name in _INT_FIELDS:
        try:
            return int(value)
        except ValueError:
            try:
                return float(value)
            except ValueError:
                return value  # e.g. chat_id="@channelusername"
    if name in _BOOL_FIELDS and value.lower() in ("true", "false", "1", "0", ""):
        return value.lower() in ("true", "1")
    return value


def _read_params(request: httputil.HTTPServerRequest) -> dict[str, Any]:
    """Query string + JSON, urlencoded or multipart body, decoded into Python values."""
    raw: dict[str, Any] = {k: v[-1].decode() for k, v in request.query_arguments.items()}
    content_type = request.headers.get("Content-Type", "")
    if content_type.startswith("application/json"):
        if request.body:
            try:
                body = json.loads(request.body)
            except ValueError:
                raise ApiError(400, "Bad Request: can't parse JSON request body") from None
            if not isinstance(body, dict):
                raise ApiError(400, "Bad Request: JSON request body must be an object")
            raw.update(body)
    else:
        for name, values in request.body_arguments.items():
            raw[name] = values[-1].decode("utf-8", "replace")
        for name, files in request.files.items():
            raw[name] = {
                "filename": files[-1].filename,
                "content_type": files[-1].content_type,
                "size": len(files[-1].body),
            }
    return {name: _coerce(name, value) for name, value in raw.items()}


def _update_type(update: dict[str, Any]) -> str:
    return next((key for key in update if key != "update_id"), "")


def _check_inline_button(button: Any) -> None:
    prefix = "Bad Request: can't parse inline keyboard button: "
    if not isinstance(button, dict):
        raise ApiError(400, prefix + "InlineKeyboardButton must be an Object")
    text = button.get("text")
    if not isinstance(text, str):
        raise ApiError(400, prefix + 'Field "text" must be of type String')
    if not text.strip():
        raise ApiError(400, prefix + 'Field "text" must be non-empty (fake server check)')
    # Telegram treats an empty url/callback_data as missing (hence the odd error for "").
    actions = [
        k
        for k in _BUTTON_ACTIONS
        if k in button and button[k] is not None and (button[k] != "" or k.startswith("switch"))
    ]
    if not actions:
        raise ApiError(400, prefix + "Text buttons are unallowed in the inline keyboard")
    if len(actions) > 1:
        raise ApiError(
            400,
            prefix + f"exactly one action field must be used, got {actions} (fake server check)",
        )
    if actions[0] == "callback_data":
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= 64:
            raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
    elif actions[0] == "url":
        url = str(button["url"])
        scheme = url.split("://", 1)[0].lower() if "://" in url else "http"
        if scheme not in ("http", "https", "tg"):
            raise ApiError(
                400,
                f"Bad Request: inline keyboard button URL '{url}' is invalid: "
                "Unsupported URL protocol",
            )
        if " " in url or url.rstrip("/").endswith("://"):
            raise ApiError(
                400, f"Bad Request: inline keyboard button URL '{url}' is invalid: Wrong HTTP URL"
            )


def _check_reply_markup(markup: Any) -> dict[str, Any] | None:
    """Validate ``reply_markup``; return it if it is an inline keyboard (the only kind a
    sent ``Message`` echoes back), else None."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in markup:
        return None
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise ApiError(
            400,
            'Bad Request: field "inline_keyboard" of the InlineKeyboardMarkup should be an '
            "Array of Arrays",
        )
    count = 0
    for row in rows:
        for button in row:
            _check_inline_button(button)
            count += 1
    if count > 100:
        raise ApiError(400, "Bad Request: reply markup is too long")
    return markup


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------


class FakeTelegram:
    """A fake Bot API server; use as ``async with FakeTelegram() as tg:``.

    State a test can inspect: ``calls`` (answered requests, including Telegram-style error
    answers; see ``Call.ok``), ``faulted_calls`` (requests that met an injected fault),
    ``tokens_seen``, ``chats``, ``messages`` (keyed by (chat_id, message_id), current content),
    ``user_messages``/``bot_messages`` (message ids per chat), ``deleted``, ``commands``,
    ``answered_queries``, ``webhook``, ``blocked`` (chat ids that blocked the bot),
    ``undeletable`` (messages it refuses to delete; messages dated 48 hours ago are refused too).

    ``pending_updates`` follows Telegram's getUpdates semantics: an update stays queued (and is
    delivered again) until a later getUpdates passes an ``offset`` above its ``update_id``.
    """

    def __init__(
        self,
        *,
        bot_username: str = _updates.BOT_USERNAME,
        bot_id: int = 999,
        bot_first_name: str = "Kids Rights Test Bot",
        tokens: Iterable[str] | None = None,
        require_known_chats: bool = True,
        strict_html: bool = True,
        first_update_id: int = 1,
    ) -> None:
        """``tokens``: if given, other tokens get 401 Unauthorized (PTB: ``InvalidToken``).
        ``require_known_chats``: sending to a chat no update has mentioned gives
        "chat not found", as with a real bot nobody has talked to."""
        self.bot_user: dict[str, Any] = {
            "id": bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": True,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self.valid_tokens = set(tokens) if tokens is not None else None
        self.require_known_chats = require_known_chats
        self.strict_html = strict_html
        self.port = 0

        self.calls: list[Call] = []
        self.faulted_calls: list[Call] = []
        self.tokens_seen: set[str] = set()
        self.internal_errors: list[str] = []

        self.pushed: dict[int, dict[str, Any]] = {}
        self.filtered_updates: list[dict[str, Any]] = []
        self.allowed_updates: list[str] | None = None
        self.webhook: dict[str, Any] = {"url": ""}
        self.webhook_deliveries: list[tuple[str, int, int]] = []
        self._queue: list[dict[str, Any]] = []
        self._next_update_id = first_update_id

        self.chats: dict[int, dict[str, Any]] = {}
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self.user_messages: dict[int, list[int]] = {}
        self.bot_messages: dict[int, list[int]] = {}
        self.deleted: set[tuple[int, int]] = set()
        #: Messages Telegram refuses to delete (as it does once they are 48 hours old).
        self.undeletable: set[tuple[int, int]] = set()
        self.blocked: set[int] = set()
        self._last_message_id: dict[int, int] = {}

        self.open_queries: set[str] = set()
        self.answered_queries: dict[str, dict[str, Any]] = {}
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.descriptions: dict[tuple[str, str], str] = {}
        self.menu_buttons: dict[int | None, dict[str, Any]] = {}
        self.files: dict[str, bytes] = {}

        self._faults: list[_Fault] = []
        self._server: HTTPServer | None = None
        self._exchanges: set[_Exchange] = set()
        self._pollers: set[_Exchange] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._changed = asyncio.Event()
        self._offline = False
        self._closing = False
        self._methods: dict[str, tuple[str, Callable[..., Any]]] = {
            name[5:].lower(): (name[5:], getattr(self, name))
            for name in dir(self)
            if name.startswith("_api_")
        }

    # ---- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(self, exc_type: object, exc: object, tb: object) -> None:
        await self.aclose()
        if exc_type is None and self.internal_errors:
            raise AssertionError("the fake Telegram server crashed:\n" + self.internal_errors[0])

    async def start(self) -> None:
        """Listen on 127.0.0.1 (a free port the first time, the same port afterwards)."""
        sockets = bind_sockets(self.port, "127.0.0.1", family=socket.AF_INET)
        self.port = sockets[0].getsockname()[1]
        server = HTTPServer(self._on_request)
        server.add_sockets(sockets)
        self._server = server
        self._offline = False

    async def aclose(self) -> None:
        """Stop listening, answer pending long polls with no updates, close every socket."""
        self._closing = True
        server, self._server = self._server, None
        if server is not None:
            server.stop()
        for exchange in list(self._exchanges):
            exchange.wake.set()
        await self._settle()
        if server is not None:
            await server.close_all_connections()
        await self._settle()

    async def go_away(self) -> None:
        """Simulate an outage: the port refuses connections, in-flight requests are cut off.

        State and queued updates are kept for ``come_back()``.
        """
        server, self._server = self._server, None
        if server is None:
            return
        self._offline = True
        server.stop()
        for exchange in list(self._exchanges):
            exchange.wake.set()
        await server.close_all_connections()
        await self._settle()

    async def come_back(self) -> None:
        """Listen again on the same port after ``go_away()``."""
        if self._server is None and not self._closing:
            await self.start()

    async def offline_for(self, seconds: float) -> None:
        """``go_away()``, wait ``seconds`` (the bot keeps running meanwhile), ``come_back()``."""
        await self.go_away()
        await asyncio.sleep(seconds)
        await self.come_back()

    async def _settle(self, timeout: float = 5.0) -> None:
        """Wait for in-flight request handlers, cancelling any that hang."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self._tasks:
            remaining = deadline - asyncio.get_running_loop().time()
            _, pending = await asyncio.wait(set(self._tasks), timeout=max(remaining, 0))
            if pending and remaining <= 0:
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)

    @property
    def base_url(self) -> str:
        """For ``ApplicationBuilder().base_url(...)`` / ``Bot(base_url=...)``."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates queued and not yet confirmed by a getUpdates offset."""
        return list(self._queue)

    # ---- HTTP plumbing ---------------------------------------------------------------------

    def _on_request(self, request: httputil.HTTPServerRequest) -> None:
        if self._closing:  # a bot still running after the test: refuse rather than spin
            request.connection.close()  # type: ignore[union-attr]
            return
        task = asyncio.get_running_loop().create_task(self._handle(request))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, request: httputil.HTTPServerRequest) -> None:
        exchange = _Exchange(request)
        self._exchanges.add(exchange)
        try:
            reply = await self._route(exchange)
        except Exception:  # a bug in the fake must not look like a Telegram outage
            self.internal_errors.append(traceback.format_exc())
            _log.exception("fake Telegram server crashed handling %s", request.path)
            payload = ApiError(500, "Internal Server Error: the fake server crashed").payload()
            reply = (500, json.dumps(payload).encode(), "application/json")
        finally:
            self._exchanges.discard(exchange)
        if reply is _DROP:
            exchange.drop()
        elif reply is not _GONE:
            status, body, content_type = reply  # type: ignore[misc]
            exchange.respond(status, body, content_type)
        self._notify()

    async def _route(self, exchange: _Exchange) -> Any:
        path = exchange.request.path
        if match := _FILE_PATH_RE.fullmatch(path):
            self.tokens_seen.add(match.group(1))
            file_id = match.group(2).rsplit("/", 1)[-1]
            content = self.files.get(file_id, f"fake content of {file_id}".encode())
            return 200, content, "application/octet-stream"
        match = _PATH_RE.fullmatch(path)
        if match is None:
            return _json_reply(ApiError(404, "Not Found").payload(), 404)
        token, raw_method = match.groups()
        self.tokens_seen.add(token)
        method = self._methods.get(raw_method.lower(), (raw_method, None))[0]
        at = time.monotonic()
        try:
            params = _read_params(exchange.request)
        except ApiError as exc:
            self._record(Call(method, {}, at, token, exc.status, error=exc.description))
            return _json_reply(exc.payload(), exc.status)
        fault = self._take_fault(method)
        if fault is None:
            return await self._execute(exchange, method, params, token, at)
        return await self._apply_fault(fault, exchange, method, params, token, at)

    async def _execute(
        self, exchange: _Exchange, method: str, params: dict[str, Any], token: str, at: float
    ) -> Any:
        entry = self._methods.get(method.lower())
        try:
            if self.valid_tokens is not None and token not in self.valid_tokens:
                raise ApiError(401, "Unauthorized")
            if entry is None:
                raise ApiError(404, "Not Found")
            result = await entry[1](params, exchange)
        except ApiError as exc:
            self._record(Call(method, params, at, token, exc.status, error=exc.description))
            return _json_reply(exc.payload(), exc.status)
        if result is _GONE:
            return _GONE
        self._record(Call(method, params, at, token, 200, result=copy.deepcopy(result)))
        return _json_reply({"ok": True, "result": result})

    async def _apply_fault(
        self,
        fault: _Fault,
        exchange: _Exchange,
        method: str,
        params: dict[str, Any],
        token: str,
        at: float,
    ) -> Any:
        if fault.kind == "status":
            description = fault.description or _FAULT_DESCRIPTIONS.get(
                fault.status, HTTPStatus(fault.status).phrase
            )
            parameters = None
            if fault.status == 429:
                description = fault.description or (
                    f"Too Many Requests: retry after {fault.retry_after}"
                )
                parameters = {"retry_after": fault.retry_after}
            error = ApiError(fault.status, description, parameters)
            self._record_fault(
                Call(method, params, at, token, fault.status, None, description, str(fault.status))
            )
            return _json_reply(error.payload(), fault.status)
        if fault.kind == "delay":
            await exchange.sleep(fault.seconds)
            if not (exchange.closed or self._offline or self._closing):
                return await self._execute(exchange, method, params, token, at)
        if fault.processed:  # Telegram did the work; only the answer got lost
            await self._execute(exchange, method, params, token, at)
        self._record_fault(Call(method, params, at, token, 0, None, None, fault.kind))
        return _DROP

    def _record(self, call: Call) -> None:
        self.calls.append(call)
        self._notify()

    def _record_fault(self, call: Call) -> None:
        self.faulted_calls.append(call)
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    # ---- faults ----------------------------------------------------------------------------

    def fail(
        self,
        method: str | None = None,
        status: int = 429,
        retry_after: int = 1,
        times: int | None = 1,
        *,
        description: str | None = None,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` (None: any method, getUpdates
        included) with an error status: 429 carries ``parameters.retry_after`` (PTB:
        ``RetryAfter``); 500/502 (PTB: ``NetworkError``), 403, 409 etc. get Telegram's
        wording. ``times=None`` keeps failing until ``clear_faults()``."""
        self._faults.append(
            _Fault("status", _lower(method), times, status, retry_after, description)
        )

    def drop_connections(
        self, method: str | None = None, times: int | None = 1, *, processed: bool = False
    ) -> None:
        """Close the socket instead of answering (httpx: RemoteProtocolError, PTB:
        ``NetworkError``). ``processed=True``: the call takes effect first, as when Telegram
        sent the message but the answer was lost (a retrying bot then sends it twice)."""
        self._faults.append(_Fault("drop", _lower(method), times, processed=processed))

    def delay(
        self,
        method: str | None,
        seconds: float,
        times: int | None = 1,
        *,
        processed: bool = False,
    ) -> None:
        """Answer only after ``seconds``. If the client gives up first (PTB: ``TimedOut``),
        the call is recorded as faulted and has no effect, unless ``processed=True``."""
        self._faults.append(
            _Fault("delay", _lower(method), times, seconds=seconds, processed=processed)
        )

    def clear_faults(self) -> None:
        self._faults.clear()

    def _take_fault(self, method: str) -> _Fault | None:
        for fault in self._faults:
            if fault.method is None or fault.method == method.lower():
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                return fault
        return None

    # ---- recordings --------------------------------------------------------------------------

    def calls_of(self, method: str, *, ok: bool | None = True) -> list[Call]:
        """Calls of ``method`` (case-insensitive); ``ok=True`` successful ones only,
        ``ok=False`` the ones answered with an error, ``ok=None`` both."""
        wanted = method.lower()
        return [c for c in self.calls if c.method.lower() == wanted and (ok is None or c.ok == ok)]

    def sent_to(self, chat_id: int | str, *, edits: bool = False) -> list[Call]:
        """Successful sendMessage calls to ``chat_id`` (plus editMessageText if ``edits``)."""
        methods = {"sendmessage", "editmessagetext"} if edits else {"sendmessage"}
        return [
            c
            for c in self.calls
            if c.ok and c.method.lower() in methods and str(c.params.get("chat_id")) == str(chat_id)
        ]

    def texts_to(self, chat_id: int | str) -> list[str]:
        """The ``text`` parameters of the successful sendMessage calls to ``chat_id``."""
        return [c.params["text"] for c in self.sent_to(chat_id)]

    @property
    def errors(self) -> list[Call]:
        """Calls Telegram would have rejected (4xx answers from validation, not faults)."""
        return [c for c in self.calls if not c.ok]

    def assert_no_errors(self) -> None:
        """Fail if the bot made any call the real API would have rejected."""
        if self.errors:
            raise AssertionError(
                "Telegram would have rejected these calls:\n"
                + "\n".join("  " + c.brief() for c in self.errors)
            )

    def clear(self) -> None:
        """Forget recorded calls (successful, failed and faulted); chats, messages, the
        update queue and pending faults stay."""
        self.calls.clear()
        self.faulted_calls.clear()
        self._notify()

    def summary(self, limit: int = 40) -> str:
        """Human-readable list of what was recorded (getUpdates polls only counted)."""
        polls = len(self.calls_of("getUpdates", ok=None))
        lines = [f"  {c.brief()}" for c in self.calls if c.method != "getUpdates"][-limit:]
        faulted = [f"  {c.brief()}" for c in self.faulted_calls][-limit:]
        return (
            f"recorded calls ({polls} getUpdates not shown):\n"
            + ("\n".join(lines) or "  (none)")
            + "\nfaulted calls:\n"
            + ("\n".join(faulted) or "  (none)")
        )

    async def wait_for(
        self,
        condition: int | Callable[[], Any],
        timeout: float = 5.0,
        *,
        what: str | None = None,
    ) -> Any:
        """Wait until ``condition()`` is truthy and return its value; an int ``n`` waits for
        ``n`` successful calls other than getUpdates. Raises AssertionError listing what was
        recorded on timeout."""
        if isinstance(condition, int):
            count = condition

            def check() -> Any:
                done = [c for c in self.calls if c.ok and c.method != "getUpdates"]
                return done if len(done) >= count else None

            what = what or f"{count} successful calls"
        else:
            check = condition
            what = what or getattr(condition, "__name__", "condition")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            changed = self._changed
            value = check()
            if value:
                return value
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"timed out after {timeout}s waiting for {what}\n" + self.summary()
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), min(remaining, 0.05))

    async def wait_for_calls(
        self, method: str, n: int = 1, timeout: float = 5.0, **match: Any
    ) -> list[Call]:
        """Wait for ``n`` successful calls of ``method`` whose params include ``match``
        (compared as strings, so ``chat_id=42`` matches either form); returns them."""

        def check() -> list[Call] | None:
            found = [
                c
                for c in self.calls_of(method)
                if all(str(c.params.get(k)) == str(v) for k, v in match.items())
            ]
            return found if len(found) >= n else None

        return await self.wait_for(
            check, timeout, what=f"{n} successful {method} calls matching {match or '{}'}"
        )

    # ---- chats, messages, updates ----------------------------------------------------------

    def new_message_id(self, chat_id: int) -> int:
        """Next message id in ``chat_id`` (ids are per chat and shared by user and bot)."""
        self._last_message_id[chat_id] = self._last_message_id.get(chat_id, 0) + 1
        return self._last_message_id[chat_id]

    def push(self, update: dict[str, Any]) -> int:
        """Queue an update for getUpdates (waking a pending long poll); returns its update_id.

        Missing ``update_id``/``message_id`` are assigned; chats, messages and query ids are
        remembered so later API calls about them succeed.
        """
        update = self._prepare(update)
        self._queue.append(update)
        for poller in self._pollers:
            poller.wake.set()
        self._notify()
        return int(update["update_id"])

    def push_message(self, text: str, **kwargs: Any) -> dict[str, Any]:
        """Push ``updates.text_message(text, **kwargs)``; returns the message with its id."""
        update_id = self.push(_updates.text_message(text, **kwargs))
        return self.pushed[update_id]["message"]

    def last_bot_message(self, chat_id: int) -> dict[str, Any]:
        """The bot's latest live message in ``chat_id`` (current text and keyboard), e.g. to
        build a ``callback_query`` on it."""
        for message_id in reversed(self.bot_messages.get(chat_id, [])):
            if (chat_id, message_id) not in self.deleted:
                return copy.deepcopy(self.messages[(chat_id, message_id)])
        raise AssertionError(f"the bot has no message in chat {chat_id}\n{self.summary()}")

    def chat_log(self, chat_id: int) -> list[dict[str, Any]]:
        """Every message in ``chat_id`` not deleted, user's and bot's, in order."""
        return [
            copy.deepcopy(msg)
            for (cid, mid), msg in sorted(self.messages.items())
            if cid == chat_id and (cid, mid) not in self.deleted
        ]

    async def post_update_to(
        self, url: str, update: dict[str, Any], secret_token: str | None = None
    ) -> int:
        """POST ``update`` to a bot's webhook like Telegram does; returns the HTTP status."""
        update = self._prepare(update)
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret_token} if secret_token else {}
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.post(url, json=update, headers=headers)
        self.webhook_deliveries.append((url, int(update["update_id"]), response.status_code))
        return response.status_code

    def _prepare(self, update: dict[str, Any]) -> dict[str, Any]:
        update = copy.deepcopy(update)
        if update.get("update_id") is None:
            update["update_id"] = self._next_update_id
        self._next_update_id = max(self._next_update_id, int(update["update_id"]) + 1)
        for key in ("message", "channel_post", "business_message"):
            if isinstance(update.get(key), dict):
                self._register_incoming(update[key], new=True)
        for key in ("edited_message", "edited_channel_post"):
            if isinstance(update.get(key), dict):
                self._register_incoming(update[key], new=False)
        for key in ("callback_query", "inline_query"):
            query = update.get(key)
            if isinstance(query, dict) and "id" in query:
                self.open_queries.add(str(query["id"]))
                if isinstance(query.get("message"), dict):
                    self._remember_chat(query["message"].get("chat"))
        member = update.get("my_chat_member")
        if isinstance(member, dict) and isinstance(member.get("chat"), dict):
            self._remember_chat(member["chat"])
            status = member.get("new_chat_member", {}).get("status")
            if status in ("kicked", "left"):
                self.blocked.add(member["chat"]["id"])
            elif status in ("member", "administrator"):
                self.blocked.discard(member["chat"]["id"])
        self.pushed[int(update["update_id"])] = update
        return update

    def _register_incoming(self, message: dict[str, Any], *, new: bool) -> None:
        chat = message.get("chat")
        if not isinstance(chat, dict) or "id" not in chat:
            return  # a deliberately malformed update: deliver it untouched
        chat_id = chat["id"]
        self._remember_chat(chat)
        if not new:
            if message.get("message_id") is None:
                raise ValueError("an edited message needs the message_id of the original")
            stored = self.messages.get((chat_id, message["message_id"]))
            if stored is not None:
                stored.update(copy.deepcopy(message))
            return
        if message.get("message_id") is None:
            message["message_id"] = self.new_message_id(chat_id)
        else:
            self._last_message_id[chat_id] = max(
                self._last_message_id.get(chat_id, 0), message["message_id"]
            )
        self.messages[(chat_id, message["message_id"])] = copy.deepcopy(message)
        if not (message.get("from") or {}).get("is_bot"):
            self.user_messages.setdefault(chat_id, []).append(message["message_id"])

    def _remember_chat(self, chat: Any) -> None:
        if isinstance(chat, dict) and "id" in chat:
            self.chats[chat["id"]] = {**self.chats.get(chat["id"], {}), **chat}

    def _find_chat(self, chat_id: Any) -> dict[str, Any] | None:
        if isinstance(chat_id, str) and chat_id.startswith("@"):
            return next((c for c in self.chats.values() if c.get("username") == chat_id[1:]), None)
        try:
            return self.chats.get(int(chat_id))
        except (TypeError, ValueError):
            return None

    def _chat_for_send(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = params.get("chat_id")
        if chat_id in (None, ""):
            raise ApiError(400, "Bad Request: chat_id is empty")
        chat = self._find_chat(chat_id)
        if chat is None:
            if self.require_known_chats or not isinstance(chat_id, int):
                raise ApiError(400, "Bad Request: chat not found")
            chat = _updates.chat(chat_id, "private" if chat_id > 0 else "supergroup")
            self._remember_chat(chat)
        if chat["id"] in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat

    def _bot_message(self, params: dict[str, Any]) -> dict[str, Any] | None:
        """The stored bot message an edit refers to (None for inline messages)."""
        if params.get("inline_message_id"):
            return None
        if params.get("chat_id") in (None, "") or params.get("message_id") in (None, ""):
            raise ApiError(400, "Bad Request: message identifier is not specified")
        chat = self._find_chat(params["chat_id"])
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        key = (chat["id"], params["message_id"])
        message = self.messages.get(key)
        if message is None or key in self.deleted:
            raise ApiError(400, "Bad Request: message to edit not found")
        if (message.get("from") or {}).get("id") != self.bot_user["id"]:
            raise ApiError(400, "Bad Request: message can't be edited")
        return message

    def _text(self, text: Any, parse_mode: Any, entities: Any) -> tuple[str, list[dict[str, Any]]]:
        """Validate a message text like Telegram: returns (visible text, entities)."""
        if text is None or text == "":
            raise ApiError(400, "Bad Request: message text is empty")
        text = str(text)
        mode = str(parse_mode or "").lower()
        if mode == "html":
            try:
                visible, found = parse_html(text, strict=self.strict_html)
            except HtmlParseError as exc:
                raise ApiError(400, str(exc)) from None
        elif mode in ("", "markdown", "markdownv2"):  # Markdown is not validated by the fake
            visible, found = text, (list(entities or []) if not mode else [])
        else:
            raise ApiError(400, "Bad Request: unsupported parse_mode")
        visible, found = _trim(visible, found)
        if not visible:
            raise ApiError(400, "Bad Request: message text is empty")
        if len(visible) > MAX_MESSAGE_LENGTH:
            raise ApiError(400, "Bad Request: message is too long")
        return visible, found

    # ---- Bot API methods (``_api_<name>``; looked up case-insensitively) ----------------------

    async def _api_getMe(self, params: dict[str, Any], exchange: _Exchange) -> Any:
        return dict(self.bot_user)

    async def _api_logOut(self, params: dict[str, Any], exchange: _Exchange) -> Any:
        return True

    async def _api_close(self, params: dict[str, Any], exchange: _Exchange) -> Any:
        return True

    async def _api_getUpdates(self, params: dict[str, Any], exchange: _Exchange) -> Any:
        if self.webhook["url"]:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use "
                "deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset") or 0)
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = max(float(params.get("timeout") or 0), 0.0)
        if "allowed_updates" in params:
            self._set_allowed_updates(params["allowed_updates"])
        if offset > 0:
            self._queue = [u for u in self._queue if u["update_id"] >= offset]
        elif offset < 0:
            self._queue = self._queue[offset:]
        # Like Telegram, a new poll ends the pending one with 409: two bot instances show up.
        for other in self._pollers:
            other.conflict = True
            other.wake.set()
        self._pollers.add(exchange)
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            while True:
                if exchange.conflict and not exchange.closed:
                    # A client that cancelled its poll and asked again right away shows up as
                    # a conflict until its hang-up arrives; wait for it so only a real second
                    # poller gets the 409.
                    exchange.wake.clear()
                    await exchange.sleep(0.1)
                    if not exchange.closed:
                        raise ApiError(409, _FAULT_DESCRIPTIONS[409])
                if exchange.closed or self._offline:
                    return _GONE
                ready = self._deliverable(limit)
                remaining = deadline - loop.time()
                if ready or self._closing or remaining <= 0:
                    return ready
                exchange.wake.clear()
                await exchange.sleep(remaining)
        finally:
            self._pollers.discard(exchange)

    def _set_allowed_updates(self, allowed: Any) -> None:
        if allowed is None:
            return
        self.allowed_updates = list(allowed) or None

    def _deliverable(self, limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` queued updates; ones excluded by allowed_updates are discarded,
        as Telegram never stores them."""
        ready = []
        for update in list(self._queue):
            kind = _update_type(update)
            wanted = (
                kind in self.allowed_updates
                if self.allowed_updates
                else kind not in _OPT_IN_UPDATES
            )
            if not wanted:
                self._queue.remove(update)
                self.filtered_updates.append(update)
                continue
            ready.append(update)
            if len(ready) >= limit:
                break
        return ready

    async def _api_setWebhook(self, params: dict[str, Any], exchange: _Exchange) -> Any:
        url = str(params.get("url") or "")
        if url and not url.startswith(("http://", "https://")):
            raise ApiError(
                400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
            )
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        if params.get("drop_pending_updates"):
            self._queue.clear()
        if "allowed_updates" in params:
            self._set_allowed_updates(params["allowed_updates"])
        self.webhook = {
            "url": url,
            "secret_token": secret,
            "max_connections": params.get("max_connections", 40),
        }
        for poller in self._pollers:  # Telegram ends a pending poll when a webhook is set
            poller.conflict = True
            poller.wake.set()
        return True

    async def _api_deleteWebhook(self, params: dict[str, Any], exchange: _Exchange) -> Any:
        if params.get("drop_pending_updates"):
            self._queue.clear()
        self.webhook = {"url": ""}
        return True

    async def _api_getWebhookInfo(self, params: dict[str, Any], exchange: _Exchange) -> Any:
        info: dict[str, Any] = {
            "url": self.webhook["url"],
            "has_custom_certificate": False,
            "pending_update_count": len(self._queue),
        }
        if self.webhook["url"]:
            info["max_connections"] = self.webhook.get("max_connections", 40)
        if self.allowed_updates:
            info["allowed_updates"] = list(self.allowed_updates)
        return info

    async def _api_sendMessage(self, params: dict[str, Any], exchange: _Exchange) -> Any:
        chat = self._chat_for_send(params)
        text, entities = self._text(
            params.get("text"), params.get("parse_mode"), params.get("entities")
        )
        markup = _check_reply_markup(params.get("reply_markup"))
        message: dict[str, Any] = {
            "message_id": self.new_message_id(chat["id"]),
            "from": dict(self.bot_user),
            "chat": copy.deepcopy(chat),
            "date": int(time.time()),
            "text": text,
        }
        if entities:
            message["entities"] = entities
        if markup is not None:
            message["reply_markup"] = markup
        reply_to = self._reply_target(chat["id"], params)
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        if isinstance(params.get("link_preview_options"), dict):
            message["link_preview_options"] = params["link_preview_options"]
        self.messages[(chat["id"], message["message_id"])] = message
        self.bot_messages.setdefault(chat["id"], []).append(message["message_id"])
        return copy.deepcopy(message)

    def _reply_target(self, chat_id: int, params: dict[str, Any]) -> dict[str, Any] | None:
        reply = params.get("reply_parameters")
        if not isinstance(reply, dict):
            if params.get("reply_to_message_id") is None:
                return None
            reply = {
                "message_id": params["reply_to_message_id"],
                "allow_sending_without_reply": params.get("allow_sending_without_reply"),
            }
        key = (chat_id, reply.get("message_id"))
        if key in self.messages and key not in self.deleted:
            target = copy.deepcopy(self.messages[key])
            target.pop("reply_to_message", None)
            return target
        if reply.get("allow_sending_without_reply"):
            return None
        raise ApiError(400, "Bad Request: message to be replied not found")

    async def _api_editMessageText(self, params: dict[str, Any], exchange: _Exchange) -> Any:
        text, entities = self._text(
            params.get("text"), params.get("parse_mode"), params.get("entities")
        )
        markup = _check_reply_markup(params.get("reply_markup"))
        message = self._bot_message(params)
        if message is None:
            return True
        if "text" not in message:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        if (
            message["text"] == text
            and message.get("entities", []) == entities
            and message.get("reply_markup") == markup
        ):
            raise ApiError(400, _NOT_MODIFIED)
        message["text"] = text
        message.pop("entities", None)
        if entities:
            message["entities"] = entities
        # Like Telegram: an edit without reply_markup removes the inline keyboard.
        message.pop("reply_markup", None)
        if markup is not None:
            message["reply_markup"] = markup
        message["edit_date"] = int(time.time())
        return copy.deepcopy(message)

    async def _api_editMessageReplyMarkup(self, params: dict[str, Any], exchange: _Exchange) -> Any:
        markup = _check_reply_markup(params.get("reply_markup"))
        message = self._bot_message(params)
        if message is None:
            return True
        if message.get("reply_markup") == markup:
            raise ApiError(400, _NOT_MODIFIED)
        message.pop("reply_markup", None)
        if markup is not None:
            message["reply_markup"] = markup
        message["edit_date"] = int(time.time())
        return copy.deepcopy(message)

    async def _api_deleteMessage(self, params: dict[str, Any], exchange: _Exchange) -> Any:
        chat = self._find_chat(params.get("chat_id"))
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        key = (chat["id"], params.get("message_id"))
        if key not in self.messages or key in self.deleted:
            raise ApiError(400, "Bad Request: message to delete not found")
        if not self._deletable(key):  # type: ignore[arg-type]
            raise ApiError(400, _CANT_DELETE)
        self.deleted.add(key)  # type: ignore[arg-type]
        return True

    def _deletable(self, key: tuple[int, int]) -> bool:
        """Bots may delete a private chat's messages for 48 hours."""
        message = self.messages.get(key, {})
        too_old = message.get("date", time.time()) < time.time() - _DELETABLE_FOR
        return key not in self.undeletable and not too_old

    async def _api_deleteMessages(self, params: dict[str, Any], exchange: _Exchange) -> Any:
        chat = self._find_chat(params.get("chat_id"))
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        ids = params.get("message_ids")
        if not isinstance(ids, list) or not ids:
            raise ApiError(400, "Bad Request: message_ids are empty")
        if len(ids) > 100:
            raise ApiError(400, "Bad Request: too many message identifiers specified")
        found = [(chat["id"], i) for i in ids if (chat["id"], i) in self.messages]
        # Messages that cannot be found are skipped, as documented. One that exists but may not
        # be deleted fails the whole call (what Telegram does here is not documented; the bot
        # must cope either way).
        if not all(self._deletable(key) for key in found):
            raise ApiError(400, _CANT_DELETE)
        self.deleted.update(found)
        return True

    async def _api_sendChatAction(self, params: dict[str, Any], exchange: _Exchange) -> Any:
        self._chat_for_send(params)
        if params.get("action") not in _CHAT_ACTIONS:
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        return True

    async def _api_getChat(self, params: dict[str, Any], exchange: _Exchange) -> Any:
        chat = self._find_chat(params.get("chat_id"))
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        return {
            **chat,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    async def _api_answerCallbackQuery(self, params: dict[str, Any], exchange: _Exchange) -> Any:
        query_id = str(params.get("callback_query_id") or "")
        if query_id not in self.open_queries:
            raise ApiError(400, _QUERY_INVALID)
        if len(str(params.get("text") or "")) > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        self.open_queries.discard(query_id)
        self.answered_queries[query_id] = dict(params)
        return True

    async def _api_answerInlineQuery(self, params: dict[str, Any], exchange: _Exchange) -> Any:
        query_id = str(params.get("inline_query_id") or "")
        if query_id not in self.open_queries:
            raise ApiError(400, _QUERY_INVALID)
        results = params.get("results")
        if not isinstance(results, list):
            raise ApiError(400, "Bad Request: can't parse results JSON object")
        if len(results) > 50:
            raise ApiError(400, "Bad Request: RESULTS_TOO_MUCH")
        if len(str(params.get("next_offset") or "").encode()) > 64:
            raise ApiError(400, "Bad Request: NEXT_OFFSET_INVALID")
        seen: set[str] = set()
        for result in results:
            result_id = result.get("id") if isinstance(result, dict) else None
            if not isinstance(result_id, str) or not 1 <= len(result_id.encode()) <= 64:
                raise ApiError(400, "Bad Request: RESULT_ID_INVALID")
            if result_id in seen:
                raise ApiError(400, "Bad Request: RESULT_ID_DUPLICATE")
            seen.add(result_id)
            content = result.get("input_message_content")
            if result.get("type") == "article":
                if not result.get("title"):
                    raise ApiError(400, "Bad Request: RESULT_TITLE_EMPTY (fake server check)")
                if not isinstance(content, dict):
                    raise ApiError(400, "Bad Request: MESSAGE_EMPTY")
            if isinstance(content, dict) and "message_text" in content:
                self._text(
                    content.get("message_text"), content.get("parse_mode"), content.get("entities")
                )
            _check_reply_markup(result.get("reply_markup"))
        self.open_queries.discard(query_id)
        self.answered_queries[query_id] = dict(params)
        return True

    def _scope_key(self, params: dict[str, Any]) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        language = str(params.get("language_code") or "")
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise ApiError(400, "Bad Request: invalid language code specified")
        return json.dumps(scope, sort_keys=True), language

    async def _api_setMyCommands(self, params: dict[str, Any], exchange: _Exchange) -> Any:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise ApiError(400, "Bad Request: can't parse commands JSON object")
        if len(commands) > 100:
            raise ApiError(400, "Bad Request: too many commands (fake server check)")
        for entry in commands:
            if not isinstance(entry, dict) or not re.fullmatch(
                r"[a-z0-9_]{1,32}", str(entry.get("command", ""))
            ):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(entry.get("description", ""))) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands[self._scope_key(params)] = commands
        return True

    async def _api_getMyCommands(self, params: dict[str, Any], exchange: _Exchange) -> Any:
        return self.commands.get(self._scope_key(params), [])

    async def _api_deleteMyCommands(self, params: dict[str, Any], exchange: _Exchange) -> Any:
        self.commands.pop(self._scope_key(params), None)
        return True

    def _set_text_setting(self, kind: str, params: dict[str, Any], limit: int) -> bool:
        value = str(params.get(kind) or "")
        if len(value) > limit:
            raise ApiError(400, f"Bad Request: {kind} is too long (fake server check)")
        key = (kind, self._scope_key({"language_code": params.get("language_code")})[1])
        if value:
            self.descriptions[key] = value
        else:
            self.descriptions.pop(key, None)
        return True

    async def _api_setMyDescription(self, params: dict[str, Any], exchange: _Exchange) -> Any:
        return self._set_text_setting("description", params, 512)

    async def _api_setMyShortDescription(self, params: dict[str, Any], exchange: _Exchange) -> Any:
        return self._set_text_setting("short_description", params, 120)

    async def _api_setMyName(self, params: dict[str, Any], exchange: _Exchange) -> Any:
        return self._set_text_setting("name", params, 64)

    def _get_text_setting(self, kind: str, params: dict[str, Any], default: str = "") -> Any:
        language = self._scope_key({"language_code": params.get("language_code")})[1]
        return {kind: self.descriptions.get((kind, language), default)}

    async def _api_getMyDescription(self, params: dict[str, Any], exchange: _Exchange) -> Any:
        return self._get_text_setting("description", params)

    async def _api_getMyShortDescription(self, params: dict[str, Any], exchange: _Exchange) -> Any:
        return self._get_text_setting("short_description", params)

    async def _api_getMyName(self, params: dict[str, Any], exchange: _Exchange) -> Any:
        return self._get_text_setting("name", params, self.bot_user["first_name"])

    async def _api_setChatMenuButton(self, params: dict[str, Any], exchange: _Exchange) -> Any:
        button = params.get("menu_button") or {"type": "default"}
        if not isinstance(button, dict) or button.get("type") not in (
            "default",
            "commands",
            "web_app",
        ):
            raise ApiError(400, "Bad Request: can't parse menu button")
        self.menu_buttons[params.get("chat_id")] = button
        return True

    async def _api_getChatMenuButton(self, params: dict[str, Any], exchange: _Exchange) -> Any:
        return self.menu_buttons.get(params.get("chat_id"), {"type": "default"})

    async def _api_getFile(self, params: dict[str, Any], exchange: _Exchange) -> Any:
        file_id = str(params.get("file_id") or "")
        if not file_id:
            raise ApiError(400, "Bad Request: file_id is empty")
        content = self.files.get(file_id, f"fake content of {file_id}".encode())
        return {
            "file_id": file_id,
            "file_unique_id": f"u-{file_id}",
            "file_size": len(content),
            "file_path": f"files/{file_id}",
        }


def _lower(method: str | None) -> str | None:
    return method.lower() if method else None


def _json_reply(payload: dict[str, Any], status: int = 200) -> tuple[int, bytes, str]:
    return status, json.dumps(payload, ensure_ascii=False).encode(), "application/json"


__all__ = [
    "ApiError",
    "Call",
    "FakeTelegram",
    "HtmlParseError",
    "parse_html",
    "telegram_html_error",
    "visible_text",
]
