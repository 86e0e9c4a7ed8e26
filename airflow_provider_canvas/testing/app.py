"""Routing, parameters and authentication in front of the Canvas rules (behaviour document §1, §2, §9).

Canvas routes first (an unknown path is a routing 404 whatever the credentials), then authenticates (an
unknown token is a 401 on every route), then runs the action. Path segments are split on ``/`` *before*
percent-decoding, so an encoded slash in a SIS id stays inside its segment; ``+`` in a path is a plus sign.
An optional ``.json`` suffix is accepted on the last segment, except on the ``:type/:address`` route where
Canvas's greedy address pattern swallows it into the address.
"""

from __future__ import annotations

import itertools
import json
import re
import traceback
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote

from . import errors
from .messages import Request, Response, json_response
from .pagination import escape_segment, link_header, paginate, per_page_for
from .state import AccessToken, CanvasState, User, param_text

API_PREFIX = "/api/v1/"

# (method, segment patterns, action). ":name" captures a segment; order matters, as in config/routes.rb.
_ROUTES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("GET", ("users", ":id"), "show_user"),
    ("GET", ("users", ":user_id", "communication_channels"), "index"),
    ("POST", ("users", ":user_id", "communication_channels"), "create"),
    ("POST", ("users", ":user_id", "communication_channels", ":id"), "reset_bounce_count"),
    ("DELETE", ("users", "self", "communication_channels", "push"), "delete_push_token"),
    ("DELETE", ("users", ":user_id", "communication_channels", ":id"), "destroy"),
    ("DELETE", ("users", ":user_id", "communication_channels", ":type", ":address"), "destroy"),
)
_KEY_RE = re.compile(r"([^\[\]]+)((?:\[[^\[\]]*\])*)")


@dataclass(slots=True)
class Context:
    request: Request
    params: dict[str, object]
    path: dict[str, str]
    query_pairs: list[tuple[str, str]]
    caller: User | None
    token: AccessToken | None


def match_route(method: str, raw_path: str) -> tuple[str, dict[str, str]] | None:
    if not raw_path.startswith(API_PREFIX):
        return None
    segments = [s for s in raw_path[len(API_PREFIX) :].split("/") if s]  # Rails squeezes and trims slashes
    if method == "HEAD":
        method = "GET"
    for route_method, patterns, action in _ROUTES:
        if route_method != method or len(patterns) != len(segments):
            continue
        captured = _match_segments(patterns, segments)
        if captured is not None:
            return action, captured
    return None


def _match_segments(patterns: tuple[str, ...], segments: list[str]) -> dict[str, str] | None:
    if patterns[-1] != ":address" and segments[-1].endswith(".json"):
        segments = [*segments[:-1], segments[-1][: -len(".json")]]
    captured: dict[str, str] = {}
    for index, (pattern, segment) in enumerate(zip(patterns, segments, strict=True)):
        if not segment:
            return None
        if not pattern.startswith(":"):
            if segment != pattern:
                return None
            continue
        last = index == len(patterns) - 1
        if pattern == ":type" and "." in segment:
            return None
        if pattern in (":id", ":user_id") and not last and segment.endswith(".json"):
            return None  # ApiRouteSet ID_REGEX refuses a trailing .json inside the path
        captured[pattern[1:]] = unquote(segment)
    return captured


def parse_params(request: Request, query_pairs: list[tuple[str, str]]) -> dict[str, object]:
    """Rails params: query string, then the body (form or JSON) on top; ``a[b]=c`` nests like Rack."""
    params: dict[str, object] = {}
    for key, value in query_pairs:
        _assign(params, key, value)
    if not request.body:
        return params
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json" or content_type.endswith("+json"):
        try:
            payload = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            raise errors.generic_error(400) from None
        if isinstance(payload, dict):
            params.update(payload)
    elif content_type in ("", "application/x-www-form-urlencoded"):
        for key, value in parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True):
            _assign(params, key, value)
    return params


def _assign(params: dict[str, object], key: str, value: str) -> None:
    match = _KEY_RE.fullmatch(key)
    if match is None or not match.group(2):
        params[key] = value
        return
    names = [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))]
    target = params
    for name, child in itertools.pairwise(names):
        if child == "":
            existing = target.get(name)
            items = existing if isinstance(existing, list) else []
            items.append(value)
            target[name] = items
            return
        nested = target.get(name)
        if not isinstance(nested, dict):
            nested = {}
            target[name] = nested
        target = nested
    target[names[-1]] = value


def access_token(request: Request, params: dict[str, object]) -> str | None:
    """``Authorization: Bearer <token>`` wins; else the ``access_token`` query or form parameter."""
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme == "Bearer":
            return value.strip()
    return param_text(params.get("access_token")) or None


class CanvasApp:
    def __init__(self, state: CanvasState, *, per_page_max: int = 100) -> None:
        self.state = state
        self.per_page_max = per_page_max
        self.default_host = "127.0.0.1"

    def handle(self, request: Request) -> Response:
        try:
            return self._dispatch(request)
        except errors.ApiError as exc:
            return exc.response()
        except Exception:
            traceback.print_exc()  # a bug in the fake: answer like Canvas, but leave a trace
            return errors.internal_error().response()

    def _dispatch(self, request: Request) -> Response:
        route = match_route(request.method, request.path)
        if route is None:
            raise errors.not_found()
        action, path_params = route
        query_pairs = parse_qsl(request.query, keep_blank_values=True)
        params = parse_params(request, query_pairs)
        caller: User | None = None
        token: AccessToken | None = None
        token_text = access_token(request, params)
        if token_text is not None:
            authenticated = self.state.authenticate(token_text)
            if authenticated is None:
                raise errors.invalid_token()
            token, caller = authenticated
        handler = getattr(self, f"_{action}")
        response: Response = handler(Context(request, params, path_params, query_pairs, caller, token))
        return response

    def _show_user(self, ctx: Context) -> Response:
        user = self.state.find_user(ctx.path["id"], ctx.caller)
        if not self.state.can_read(ctx.caller, user):
            raise self.state.deny(ctx.caller)
        return json_response(200, self.state.user_json(user, ctx.caller))

    def _index(self, ctx: Context) -> Response:
        state = self.state
        user = state.find_user(ctx.path["user_id"], ctx.caller)
        if not state.can_read(ctx.caller, user):
            raise state.deny(ctx.caller)
        channels = state.unretired(user)
        per_page = per_page_for(param_text(ctx.params.get("per_page")), self.per_page_max)
        page = paginate(len(channels), param_text(ctx.params.get("page")), per_page)
        host = ctx.request.host or self.default_host
        base = f"http://{host}/api/v1/users/{escape_segment(ctx.path['user_id'])}/communication_channels"
        bounce = ctx.caller is not None and ctx.caller.site_admin
        body = [state.channel_json(c, bounce_details=bounce) for c in channels[page.start : page.stop]]
        return json_response(200, body, [("Link", link_header(base, ctx.query_pairs, page))])

    def _create(self, ctx: Context) -> Response:
        caller, token = _require_user(ctx)
        user = self.state.find_user(ctx.path["user_id"], caller)
        params = ctx.params
        channel = self.state.create_channel(
            caller, token, user, params.get("communication_channel"), params.get("skip_confirmation")
        )
        return json_response(200, self.state.channel_json(channel, bounce_details=caller.site_admin))

    def _destroy(self, ctx: Context) -> Response:
        caller, _ = _require_user(ctx)
        user = self.state.find_user(ctx.path["user_id"], caller)
        if "type" in ctx.path:
            channel = self.state.destroy_channel(
                caller, user, path_type=ctx.path["type"], address=ctx.path["address"]
            )
        else:
            channel = self.state.destroy_channel(caller, user, channel_id=ctx.path["id"])
        return json_response(200, self.state.channel_json(channel, bounce_details=caller.site_admin))

    def _delete_push_token(self, ctx: Context) -> Response:
        caller, _ = _require_user(ctx)
        self.state.delete_push_token(caller, param_text(ctx.params.get("push_token")))
        return json_response(200, {"success": True})

    def _reset_bounce_count(self, ctx: Context) -> Response:
        user = self.state.find_user(ctx.path["user_id"], ctx.caller)
        channel = self.state.reset_bounce_count(ctx.caller, user, ctx.path["id"])
        return json_response(200, self.state.channel_json(channel, bounce_details=True))


def _require_user(ctx: Context) -> tuple[User, AccessToken]:
    if ctx.caller is None or ctx.token is None:
        raise errors.unauthenticated()
    return ctx.caller, ctx.token
