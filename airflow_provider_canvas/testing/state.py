"""The fake Canvas's data and the rules Canvas applies to it (behaviour document §3).

Everything here is guarded by one lock so each API call is atomic, like a database transaction: two
concurrent creates of the same address give one success and one ``unique!`` error. Users are indexed by id,
SIS user id, login id and integration id, so no request scans all users.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field

from . import errors

VALID_TYPES = frozenset({"email", "sms", "twitter", "push", "slack", "personal_email"})
MAX_CCS_PER_USER = 100
MAX_CHANNELS_MESSAGE = "Maximum number of communication channels reached"
SNS_MESSAGE = "SNS is not configured for this developer key"
PUSH_ADDRESS = "push"
PUSH_DESCRIPTION = "For All Devices"
BOUNCE_KEYS = (
    "last_bounce_at",
    "last_bounce_summary",
    "last_suppression_bounce_at",
    "last_transient_bounce_at",
    "last_transient_bounce_summary",
)

# EmailAddressValidator's RFC 2822 addr-spec (dot-atom or quoted local part; dot-atom or literal domain).
_ATEXT = r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]"
_DOT_ATOM = rf"{_ATEXT}+(?:\.{_ATEXT}+)*"
_QUOTED = (
    r'"(?:\s*(?:[\x01-\x08\x0b\x0c\x0e-\x1f\x21\x23-\x5b\x5d-\x7e]|\\[\x01-\x09\x0b\x0c\x0e-\x7f]))*\s*"'
)
_LITERAL = r"\[(?:\s*(?:[\x01-\x08\x0b\x0c\x0e-\x1f\x21-\x5a\x5e-\x7e]|\\[\x01-\x09\x0b\x0c\x0e-\x7f]))*\s*\]"
_EMAIL_RE = re.compile(rf"(?:{_DOT_ATOM}|{_QUOTED})@(?:{_DOT_ATOM}|{_LITERAL})")
_NUMERIC_ID_RE = re.compile(r"[0-9]{1,19}")
_DIGITS_RE = re.compile(r"[0-9]+")
_RUBY_INT_RE = re.compile(r"\s*([+-]?[0-9]+(?:_[0-9]+)*)")
_RECENT_RETIRED_SECONDS = 3600.0


@dataclass
class AccountSettings:
    """Root-account settings Canvas consults on these endpoints; mutable while the server runs.

    :ivar users_can_edit_comm_channels: users may add and delete their own channels.
    :ivar max_communication_channels: the most channels a user may create (Canvas counts the *calling*
        user's channels); None for no limit.
    :ivar edit_institution_email: False protects SIS-imported e-mail channels from deletion.
    """

    users_can_edit_comm_channels: bool = True
    max_communication_channels: int | None = None
    edit_institution_email: bool = True


@dataclass(slots=True, eq=False)
class Channel:
    id: int
    user_id: int
    path: str
    path_type: str  # stored value; "personal_email" is rendered as "email"
    position: int
    workflow_state: str
    created_at: float
    sis_imported: bool = False


@dataclass(slots=True, eq=False)
class User:
    id: int
    name: str
    created_at: float
    sis_user_id: str | None = None
    login_id: str | None = None
    integration_id: str | None = None
    site_admin: bool = False
    account_admin: bool = False
    # An account admin role can lack "manage students" (needed to skip confirmation) while it may still
    # manage users' details (needed to create channels for them): Canvas then ignores skip_confirmation.
    manage_students: bool = True
    channels: list[Channel] = field(default_factory=list)  # every row, retired too, in position order


@dataclass(slots=True, eq=False)
class AccessToken:
    id: int
    token: str
    user_id: int
    push_enabled: bool  # whether the token's developer key has an SNS ARN


@dataclass(slots=True, eq=False)
class PushEndpoint:
    id: int
    token: str
    access_token_id: int
    user_id: int
    workflow_state: str = "active"


def iso8601(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))


def ruby_to_i(value: str) -> int:
    """Ruby's ``String#to_i``: leading integer or 0, so ``"5abc"`` is 5 and ``"abc"`` is 0."""
    match = _RUBY_INT_RE.match(value)
    return int(match.group(1).replace("_", "")) if match else 0


def value_to_boolean(value: object) -> bool:
    """Canvas::Plugin.value_to_boolean, close enough for ``skip_confirmation``."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in {"yes", "true", "on", "1"}:
            return True
        if lowered in {"no", "false", "off", "0", ""}:
            return False
        return ruby_to_i(value) != 0
    return False


def param_text(value: object) -> str | None:
    """A request parameter as Rails would hand it to the model (scalars only)."""
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _blank(value: str | None) -> bool:
    return value is None or not value.strip()


class CanvasState:
    def __init__(self, *, settings: AccountSettings | None = None, auth_error_updates: bool = False) -> None:
        self.lock = threading.RLock()
        self.settings = settings or AccountSettings()
        self.auth_error_updates = auth_error_updates
        self.users: dict[int, User] = {}
        self.tokens: dict[str, AccessToken] = {}
        self._by_sis: dict[str, User] = {}
        self._by_login: dict[str, User] = {}  # lower-cased
        self._by_integration: dict[str, User] = {}
        self._endpoints: dict[int, list[PushEndpoint]] = {}
        self._next_user_id = 1
        self._next_channel_id = 100001  # far from user ids, so swapping the two in a client shows up
        self._next_token_id = 1
        self._next_endpoint_id = 1

    # ----- seeding ----------------------------------------------------------------------------

    def add_user(
        self,
        name: str,
        *,
        sis_user_id: str | None = None,
        login_id: str | None = None,
        integration_id: str | None = None,
    ) -> User:
        with self.lock:
            if sis_user_id is not None and sis_user_id in self._by_sis:
                raise ValueError(f"duplicate sis_user_id {sis_user_id!r}")
            if login_id is not None and login_id.lower() in self._by_login:
                raise ValueError(f"duplicate login_id {login_id!r}")
            if integration_id is not None and integration_id in self._by_integration:
                raise ValueError(f"duplicate integration_id {integration_id!r}")
            user = User(self._next_user_id, name, time.time(), sis_user_id, login_id, integration_id)
            self._next_user_id += 1
            self.users[user.id] = user
            if sis_user_id is not None:
                self._by_sis[sis_user_id] = user
            if login_id is not None:
                self._by_login[login_id.lower()] = user
            if integration_id is not None:
                self._by_integration[integration_id] = user
            return user

    def add_token(
        self,
        user_id: int,
        token: str,
        *,
        site_admin: bool,
        account_admin: bool,
        push_enabled: bool,
        manage_students: bool = True,
    ) -> AccessToken:
        """Admin roles belong to the user in Canvas, so they stick to the user, not to this one token."""
        with self.lock:
            user = self.user(user_id)
            user.site_admin = user.site_admin or site_admin
            user.account_admin = user.account_admin or account_admin
            user.manage_students = user.manage_students and manage_students
            access_token = AccessToken(self._next_token_id, token, user_id, push_enabled)
            self._next_token_id += 1
            self.tokens[token] = access_token
            return access_token

    def add_channel(
        self,
        user_id: int,
        path_type: str,
        path: str,
        *,
        workflow_state: str = "active",
        sis_imported: bool = False,
    ) -> Channel:
        """Direct seeding: no validation, no duplicate check, just a row appended to the user's list."""
        if workflow_state not in {"unconfirmed", "active", "retired"}:
            raise ValueError(f"unknown workflow_state {workflow_state!r}")
        with self.lock:
            return self._append_channel(self.user(user_id), path_type, path, workflow_state, sis_imported)

    def user(self, user_id: int) -> User:
        try:
            return self.users[user_id]
        except KeyError:
            raise ValueError(f"no user with id {user_id}") from None

    def push_endpoints(self, user_id: int) -> list[PushEndpoint]:
        with self.lock:
            return list(self._endpoints.get(user_id, ()))

    # ----- lookups and permissions ------------------------------------------------------------

    def authenticate(self, token: str) -> tuple[AccessToken, User] | None:
        with self.lock:
            access_token = self.tokens.get(token)
            return None if access_token is None else (access_token, self.users[access_token.user_id])

    def find_user(self, ref: str, caller: User | None) -> User:
        """``api_find(User, id)``: numeric id, ``self`` (only when authenticated) or a SIS id."""
        with self.lock:
            user = self._find_user(ref, caller)
        if user is None:
            raise errors.not_found()
        return user

    def _find_user(self, ref: str, caller: User | None) -> User | None:
        if ref == "self":
            return caller
        if _NUMERIC_ID_RE.fullmatch(ref):
            return self.users.get(int(ref))
        kind, sep, value = ref.partition(":")
        if not sep or not value:
            return None
        if kind == "hex":  # deprecated hex:sis_user_id:<hex> form
            inner_kind, sep, hex_value = value.partition(":")
            try:
                decoded = bytes.fromhex(hex_value).decode("utf-8")
            except ValueError:
                return None
            return (
                self._find_user(f"{inner_kind}:{decoded}", caller) if inner_kind.startswith("sis_") else None
            )
        if kind == "sis_user_id":
            return self._by_sis.get(value)
        if kind == "sis_login_id":
            return self._by_login.get(value.lower())
        if kind == "sis_integration_id":
            return self._by_integration.get(value)
        return None

    @staticmethod
    def is_admin(user: User | None) -> bool:
        return user is not None and (user.site_admin or user.account_admin)

    def can_read(self, caller: User | None, target: User) -> bool:
        return caller is not None and (caller is target or self.is_admin(caller))

    def can_skip_confirmation(self, caller: User) -> bool:
        """``:manage_students`` on Site Admin or the root account: site admins, admin roles that have it."""
        return caller.site_admin or (caller.account_admin and caller.manage_students)

    def can_edit_channels(self, caller: User | None, target: User) -> bool:
        """``has_api_permissions?``: yourself while the account lets users edit, or an admin."""
        if caller is None:
            return False
        own = caller is target and self.settings.users_can_edit_comm_channels
        return own or self.is_admin(caller)

    def deny(self, caller: User | None) -> errors.ApiError:
        """``render_unauthorized_action``: anonymous callers get the 401 that asks them to log in."""
        if caller is None:
            return errors.unauthenticated()
        return errors.unauthorized(auth_error_updates=self.auth_error_updates)

    # ----- rules ------------------------------------------------------------------------------

    def unretired(self, user: User) -> list[Channel]:
        with self.lock:
            return [c for c in user.channels if c.workflow_state != "retired"]

    def create_channel(
        self, caller: User, token: AccessToken, target: User, params: object, skip_param: object
    ) -> Channel:
        """CommunicationChannelsController#create, in Canvas's order of evaluation (§3.2)."""
        with self.lock:
            if not self.can_edit_channels(caller, target):
                raise self.deny(caller)
            if not self._can_have_more_channels(caller):
                raise errors.type_error(MAX_CHANNELS_MESSAGE)
            skip_confirmation = value_to_boolean(skip_param) and self.can_skip_confirmation(caller)
            if not isinstance(params, dict):  # params[:communication_channel][:type] on nil
                raise errors.internal_error()
            path_type = param_text(params.get("type"))
            path = param_text(params.get("address"))
            if path_type == "push":
                if not token.push_enabled:
                    raise errors.type_error(SNS_MESSAGE)
                self._register_endpoint(token, param_text(params.get("token")))
                skip_confirmation = True
                path = PUSH_ADDRESS
            state = "active" if skip_confirmation else "unconfirmed"
            existing = self._lookup(target, path, path_type)
            if existing is None:
                problems = self._validate(target, None, path, path_type, new=True)
                if problems:
                    raise errors.model_errors(problems)
                # before_save :assert_path_type quietly turns an unknown type into e-mail
                stored_type = path_type if path_type in VALID_TYPES else "email"
                return self._append_channel(target, stored_type, path or "", state, False)
            if existing.workflow_state != "retired" and existing.path_type != "push":
                raise errors.model_errors({"path": ["unique!"]})
            problems = self._validate(target, existing, path, path_type, new=False)
            if problems:
                raise errors.model_errors(problems)
            existing.path = path or ""  # restoring keeps the id but takes the new casing
            existing.workflow_state = state
            return existing

    def destroy_channel(
        self,
        caller: User,
        target: User,
        *,
        channel_id: str | None = None,
        path_type: str | None = None,
        address: str | None = None,
    ) -> Channel:
        """The lookup comes before the permission check, so probing a missing channel gives 404, not 401."""
        with self.lock:
            if channel_id is not None:
                channel = self._unretired_by_id(target, channel_id)
            else:
                channel = self._lookup(target, address, path_type, unretired=True)
            if channel is None:
                raise errors.not_found()
            if not self.can_edit_channels(caller, target):
                raise self.deny(caller)
            if channel.sis_imported and not self.settings.edit_institution_email:
                raise self.deny(caller)
            channel.workflow_state = "retired"  # soft delete
            return channel

    def delete_push_token(self, caller: User, push_token: object) -> None:
        with self.lock:
            if not any(c.path_type == "push" and c.workflow_state != "retired" for c in caller.channels):
                raise errors.not_found()
            if not isinstance(push_token, str):  # params[:push_token].downcase on nil
                raise errors.internal_error()
            wanted = push_token.lower()
            for endpoint in self._endpoints.get(caller.id, ()):
                if endpoint.token.lower() == wanted:
                    endpoint.workflow_state = "deleted"

    def reset_bounce_count(self, caller: User | None, target: User, channel_id: str) -> Channel:
        """The fake keeps no bounce data; only the lookup and the site-admin-only permission are real."""
        with self.lock:
            channel = self._unretired_by_id(target, channel_id)
            if channel is None:
                raise errors.not_found()
            if caller is None or not caller.site_admin:
                raise self.deny(caller)
            return channel

    # ----- rendering --------------------------------------------------------------------------

    @staticmethod
    def channel_json(channel: Channel, *, bounce_details: bool = False) -> dict[str, object]:
        """Api::V1::CommunicationChannel; bounce keys only for callers with Site Admin :read_messages."""
        if channel.path_type == "push":
            address = PUSH_DESCRIPTION
        elif channel.path_type == "twitter":
            address = "Twitter Handle"
        else:
            address = channel.path
        data: dict[str, object] = {
            "id": channel.id,
            "position": channel.position,
            "user_id": channel.user_id,
            "workflow_state": channel.workflow_state,
            "created_at": iso8601(channel.created_at),
            "address": address,
            "type": "email" if channel.path_type == "personal_email" else channel.path_type,
        }
        if bounce_details:
            data.update(dict.fromkeys(BOUNCE_KEYS))
        return data

    def user_json(self, user: User, caller: User | None) -> dict[str, object]:
        """A small subset of Canvas's user JSON; SIS and login ids only for admins, as Canvas does."""
        first, _, last = user.name.rpartition(" ")
        data: dict[str, object] = {
            "id": user.id,
            "name": user.name,
            "created_at": iso8601(user.created_at),
            "sortable_name": f"{last}, {first}" if first else user.name,
            "short_name": user.name,
        }
        if self.is_admin(caller):
            data.update(
                sis_user_id=user.sis_user_id, integration_id=user.integration_id, login_id=user.login_id
            )
        return data

    # ----- internals --------------------------------------------------------------------------

    def _append_channel(
        self, user: User, path_type: str, path: str, state: str, sis_imported: bool
    ) -> Channel:
        position = user.channels[-1].position + 1 if user.channels else 1  # acts_as_list, retired rows count
        channel = Channel(
            self._next_channel_id, user.id, path, path_type, position, state, time.time(), sis_imported
        )
        self._next_channel_id += 1
        user.channels.append(channel)
        return channel

    @staticmethod
    def _lookup(
        user: User, path: str | None, path_type: str | None, *, unretired: bool = False
    ) -> Channel | None:
        """``by_path(path).where(path_type:)``: the first by position, address compared case-insensitively."""
        if path is None:
            return None
        lowered = path.lower()
        for channel in user.channels:
            if unretired and channel.workflow_state == "retired":
                continue
            if channel.path_type == path_type and channel.path.lower() == lowered:
                return channel
        return None

    @staticmethod
    def _unretired_by_id(user: User, channel_id: str) -> Channel | None:
        """``user.communication_channels.unretired.find(id)``; another user's channel is not found."""
        if not _DIGITS_RE.fullmatch(channel_id):
            return None
        wanted = int(channel_id)
        return next((c for c in user.channels if c.id == wanted and c.workflow_state != "retired"), None)

    def _can_have_more_channels(self, caller: User) -> bool:
        """Counts the *calling* user's channels, as Canvas does, not the target's."""
        limit = self.settings.max_communication_channels
        if limit is None:
            return True
        cutoff = time.time() - _RECENT_RETIRED_SECONDS
        counted = sum(1 for c in caller.channels if c.workflow_state != "retired" or c.created_at > cutoff)
        return counted < limit

    def _validate(
        self, user: User, channel: Channel | None, path: str | None, path_type: str | None, *, new: bool
    ) -> dict[str, list[str]]:
        problems: dict[str, list[str]] = {}
        if _blank(path):
            problems.setdefault("path", []).append("blank")
        if _blank(path_type):
            problems.setdefault("path_type", []).append("blank")
        # Canvas counts the existing rows and refuses when they already exceed the cap, so 101 rows can exist.
        if new and len(user.channels) > MAX_CCS_PER_USER:
            problems.setdefault("user_id", []).append("user communication_channels limit exceeded")
        if path is not None:
            lowered = path.lower()
            for other in user.channels:
                if (
                    other is not channel
                    and other.workflow_state != "retired"
                    and other.path_type == path_type
                    and other.path.lower() == lowered
                ):
                    problems.setdefault("path", []).append("taken")
                    break
        if new and path_type == "email" and (path is None or not _EMAIL_RE.fullmatch(path)):
            problems.setdefault("email", []).append("invalid")
        return problems

    def _register_endpoint(self, token: AccessToken, push_token: str | None) -> None:
        """One NotificationEndpoint per access token and device token, matched case-insensitively."""
        if push_token is None:
            raise errors.model_errors({"token": ["blank"]})  # create! on a blank token (UNVERIFIED)
        endpoints = self._endpoints.setdefault(token.user_id, [])
        lowered = push_token.lower()
        for endpoint in endpoints:
            if (
                endpoint.access_token_id == token.id
                and endpoint.workflow_state == "active"
                and endpoint.token.lower() == lowered
            ):
                return
        endpoints.append(PushEndpoint(self._next_endpoint_id, push_token, token.id, token.user_id))
        self._next_endpoint_id += 1
