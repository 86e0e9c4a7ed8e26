"""The bad-input catalogue and the safety guarantees, as plain data.

``BAD_INPUTS`` lists inputs a DAG author (or an upstream task's XCom, or a connection form) can get wrong,
each with the error the provider must answer with. ``tests/reliability/test_bad_inputs.py`` runs every
entry against the bundled fake Canvas over real HTTP; ``scripts/reliability_report.py`` renders the list
(and ``SAFETY_GUARANTEES``) into ``docs/reliability.md``. Adding a bad input is adding one entry here.

An entry's ``call`` receives an environment from the test with:

* ``env.canvas``: the started :class:`~airflow_provider_canvas.testing.FakeCanvas`;
* ``env.user``: the numeric id of a seeded student (one active e-mail ``demo-student-1@example.edu``);
* ``env.context``: a context for ``execute()`` whose ``ti`` records XCom pushes;
* ``env.hook()``: a :class:`CanvasHook` on ``canvas_default`` (the fake), connection already read;
* ``env.file(name, text)``: the path of a new file with that name and text;
* ``env.connect(host=..., password=..., extra=...)``: point ``canvas_default`` at another connection
  (omitted values stay those of the fake: its URL and the admin token).

Operators are driven through ``execute(context)`` (construction first, which is where some of them check),
the same path a DAG run takes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from airflow_provider_canvas._compat import AirflowFailException
from airflow_provider_canvas.exceptions import CanvasConfigurationError
from airflow_provider_canvas.operators.communication_channels import (
    CanvasCreateCommunicationChannelOperator,
    CanvasDeleteCommunicationChannelOperator,
    CanvasDeletePushTokenOperator,
    CanvasListCommunicationChannelsOperator,
    CanvasSyncCommunicationChannelsOperator,
)
from airflow_provider_canvas.sensors.communication_channels import CanvasCommunicationChannelSensor

__all__ = ["BAD_INPUTS", "HANDLED", "SAFETY_GUARANTEES", "BadInput", "Guarantee"]

HANDLED = "handled"  # ``error`` of an input that is accepted on purpose; ``message`` says what happens


@dataclass(frozen=True)
class BadInput:
    """One bad input and the answer it must get.

    **target** receives the input: a hook method, an operator or the sensor run through ``execute()`` (so
    construction-time checks count), or the Airflow connection. **error** is the exception raised, or
    ``handled`` for an input accepted on purpose, whose **message** then says what happens instead.
    Otherwise **message** is a fragment of the error message, which names **field** and says what to do.
    **local** inputs are judged without Canvas: the test also asserts that no request reached it.
    """

    id: str
    target: str
    input: str
    error: type[BaseException] | str
    field: str
    message: str
    local: bool
    call: Callable[[Any], Any] = field(repr=False, compare=False)
    result: Mapping[str, Any] | None = field(default=None, repr=False, compare=False)


class Guarantee(NamedTuple):
    """A safety guarantee and the test that fails if it is broken (**proven_by**, a pytest node id)."""

    guarantee: str
    proven_by: str  # pytest node id of the test that fails if the guarantee is broken


# ----- how each target is driven ------------------------------------------------------------------------

HOOK_LIST = "CanvasHook.list_communication_channels"
HOOK_CREATE = "CanvasHook.create_communication_channel"
HOOK_DELETE = "CanvasHook.delete_communication_channel"
HOOK_PUSH = "CanvasHook.delete_push_token"
LIST_OP = "CanvasListCommunicationChannelsOperator"
CREATE_OP = "CanvasCreateCommunicationChannelOperator"
DELETE_OP = "CanvasDeleteCommunicationChannelOperator"
PUSH_OP = "CanvasDeletePushTokenOperator"
SYNC_OP = "CanvasSyncCommunicationChannelsOperator"
SENSOR = "CanvasCommunicationChannelSensor"
CONNECTION = "connection (canvas_default)"


def _list(env: Any, **kwargs: Any) -> Any:
    return CanvasListCommunicationChannelsOperator(task_id="list", **kwargs).execute(env.context)


def _create(env: Any, **kwargs: Any) -> Any:
    kwargs.setdefault("user_id", env.user)
    return CanvasCreateCommunicationChannelOperator(task_id="create", **kwargs).execute(env.context)


def _delete(env: Any, **kwargs: Any) -> Any:
    kwargs.setdefault("user_id", env.user)
    return CanvasDeleteCommunicationChannelOperator(task_id="delete", **kwargs).execute(env.context)


def _push(env: Any, push_token: Any) -> Any:
    return CanvasDeletePushTokenOperator(task_id="push", push_token=push_token).execute(env.context)


def _sense(env: Any, *, deferrable: bool = True, **kwargs: Any) -> Any:
    kwargs.setdefault("user_id", env.user)
    sensor = CanvasCommunicationChannelSensor(
        task_id="wait", deferrable=deferrable, poke_interval=0.1, timeout=2, **kwargs
    )
    return sensor.execute(env.context)


def _sync(env: Any, desired: Any, **kwargs: Any) -> Any:
    return CanvasSyncCommunicationChannelsOperator(task_id="sync", desired=desired, **kwargs).execute(
        env.context
    )


def _sync_file(env: Any, name: str, text: str, **kwargs: Any) -> Any:
    return _sync(env, env.file(name, text.replace("{user}", str(env.user))), **kwargs)


def _sync_outcome(env: Any, name: str, text: str, **kwargs: Any) -> dict[str, int]:
    """Run a sync from a file and say what happened, for inputs that are handled rather than refused."""
    report = _sync_file(env, name, text, **kwargs)
    return {
        "users": report["users"],
        "created": report["created"],
        "unchanged": report["unchanged"],
        "failed": report["failed"],
        "creates sent": len([r for r in env.canvas.requests if r.method == "POST"]),
        "requests": len(env.canvas.requests),
    }


def _sync_end_state(env: Any, desired: Any, **kwargs: Any) -> dict[str, Any]:
    """Run a sync and report its counts and the user's e-mail addresses afterwards."""
    report = _sync(env, desired, **kwargs)
    addresses = sorted(str(c["address"]) for c in env.canvas.channels(env.user) if c["type"] == "email")
    return {"created": report["created"], "deleted": report["deleted"], "addresses": addresses}


def _list_with(env: Any, host: Any = ..., password: Any = ..., **extra: Any) -> Any:
    env.connect(host=host, password=password, extra=extra)
    return env.hook().list_communication_channels("self")


def _list_op_with(env: Any, host: Any = ..., password: Any = ..., **extra: Any) -> Any:
    env.connect(host=host, password=password, extra=extra)
    return _list(env, user_id="self")


def _local_port_host(env: Any, scheme: str, suffix: str = "", userinfo: str = "") -> str:
    return f"{scheme}://{userinfo}{env.canvas.host}:{env.canvas.port}{suffix}"


# ----- the catalogue ------------------------------------------------------------------------------------

BAD_INPUTS: list[BadInput] = [
    # --- e-mail addresses ---
    BadInput(
        "email-empty",
        HOOK_CREATE,
        "e-mail channel with address ''",
        ValueError,
        "address",
        "address is required for email channels",
        True,
        lambda env: env.hook().create_communication_channel(env.user, channel_type="email", address=""),
    ),
    BadInput(
        "email-blank-template",
        CREATE_OP,
        "address rendered from a template as '   ' (a missing param)",
        ValueError,
        "address",
        "address is required for email channels",
        True,
        lambda env: _create(env, address="   "),
    ),
    BadInput(
        "email-no-at",
        HOOK_CREATE,
        "address 'not-an-email'",
        ValueError,
        "address",
        "address 'not-an-email' is not a plausible e-mail address (expected name@domain.tld)",
        True,
        lambda env: env.hook().create_communication_channel(
            env.user, channel_type="email", address="not-an-email"
        ),
    ),
    BadInput(
        "email-no-tld",
        HOOK_CREATE,
        "address 'jane@example' (no top-level domain)",
        ValueError,
        "address",
        "is not a plausible e-mail address (expected name@domain.tld)",
        True,
        lambda env: env.hook().create_communication_channel(
            env.user, channel_type="email", address="jane@example"
        ),
    ),
    BadInput(
        "email-double-at",
        CREATE_OP,
        "address 'jane@@example.edu'",
        ValueError,
        "address",
        "is not a plausible e-mail address (expected name@domain.tld)",
        True,
        lambda env: _create(env, address="jane@@example.edu"),
    ),
    BadInput(
        "email-display-name",
        CREATE_OP,
        "address 'Jane Doe <jane@example.edu>' pasted from a mail client",
        ValueError,
        "address",
        "is not a plausible e-mail address (expected name@domain.tld)",
        True,
        lambda env: _create(env, address="Jane Doe <jane@example.edu>"),
    ),
    BadInput(
        "email-angle-brackets",
        CREATE_OP,
        "address '<jane@example.edu>' (angle brackets kept from a mail header)",
        ValueError,
        "address",
        "is not a plausible e-mail address (expected name@domain.tld)",
        True,
        lambda env: _create(env, address="<jane@example.edu>"),
    ),
    BadInput(
        "email-zero-width-space",
        HOOK_CREATE,
        "address 'jane@example.edu' followed by an invisible zero-width space (copied from a web page)",
        ValueError,
        "address",
        "is not a plausible e-mail address (expected name@domain.tld)",
        True,
        lambda env: env.hook().create_communication_channel(
            env.user, channel_type="email", address="jane@example.edu\u200b"
        ),
    ),
    BadInput(
        "email-header-injection",
        HOOK_DELETE,
        "delete by address 'jane@example.edu\\nBcc: x@evil.example' (a line break)",
        ValueError,
        "address",
        "address contains control characters",
        True,
        lambda env: env.hook().delete_communication_channel(
            env.user, channel_type="email", address="jane@example.edu\nBcc: x@evil.example"
        ),
    ),
    BadInput(
        "email-query-in-sensor",
        SENSOR,
        "sensor address 'jane@example.edu?x=1'",
        ValueError,
        "address",
        "is not a plausible e-mail address (expected name@domain.tld)",
        True,
        lambda env: _sense(env, address="jane@example.edu?x=1"),
    ),
    BadInput(
        "email-too-long",
        HOOK_CREATE,
        "a 300-character e-mail address",
        ValueError,
        "address",
        "address is 300 characters long; the limit is 254",
        True,
        lambda env: env.hook().create_communication_channel(
            env.user, channel_type="email", address="x" * 288 + "@example.edu"
        ),
    ),
    BadInput(
        "email-list-from-xcom",
        CREATE_OP,
        "address ['jane@example.edu'] (a list from XCom)",
        ValueError,
        "address",
        "address must be a string; got list",
        True,
        lambda env: _create(env, address=["jane@example.edu"]),
    ),
    # --- channel types ---
    BadInput(
        "type-fax-operator",
        CREATE_OP,
        "channel_type 'fax'",
        ValueError,
        "channel_type",
        "channel_type must be one of email, sms, push; got 'fax'",
        True,
        lambda env: _create(env, channel_type="fax", address="jane@example.edu"),
    ),
    BadInput(
        "type-empty-hook",
        HOOK_CREATE,
        "channel_type ''",
        ValueError,
        "channel_type",
        "channel_type must be one of email, sms, push; got ''",
        True,
        lambda env: env.hook().create_communication_channel(
            env.user, channel_type="", address="jane@example.edu"
        ),
    ),
    BadInput(
        "type-twitter-delete",
        HOOK_DELETE,
        "delete by channel_type 'twitter' (a type Canvas lists but cannot address)",
        ValueError,
        "channel_type",
        "channel_type must be one of email, sms, push; got 'twitter'",
        True,
        lambda env: env.hook().delete_communication_channel(
            env.user, channel_type="twitter", address="@jane"
        ),
    ),
    BadInput(
        "type-fax-sensor",
        SENSOR,
        "sensor channel_type 'fax'",
        ValueError,
        "channel_type",
        "channel_type must be one of email, sms, push; got 'fax'",
        True,
        lambda env: _sense(env, channel_type="fax", address="jane@example.edu"),
    ),
    BadInput(
        "type-filter-unknown",
        LIST_OP,
        "list filter channel_type 'fax'",
        ValueError,
        "channel_type",
        "channel_type has unknown values ['fax']; use any of",
        True,
        lambda env: _list(env, user_id=env.user, channel_type="fax"),
    ),
    BadInput(
        "type-push-sync",
        SYNC_OP,
        "sync with channel_type 'push'",
        ValueError,
        "channel_type",
        "channel_type must be 'email' or 'sms' for a sync: push channels have no address",
        True,
        lambda env: _sync(env, {env.user: "jane@example.edu"}, channel_type="push"),
    ),
    # --- push ---
    BadInput(
        "push-no-token",
        HOOK_CREATE,
        "push channel without a token",
        ValueError,
        "token",
        "token is required for push channels: give the device's push registration token",
        True,
        lambda env: env.hook().create_communication_channel("self", channel_type="push"),
    ),
    BadInput(
        "push-empty-token-template",
        CREATE_OP,
        "push channel with token rendered as '' (a missing param)",
        ValueError,
        "token",
        "token is required for push channels: give the device's push registration token",
        True,
        lambda env: _create(env, user_id="self", channel_type="push", token=""),
    ),
    BadInput(
        "push-token-on-email",
        HOOK_CREATE,
        "a token on an e-mail channel",
        ValueError,
        "token",
        "token is only valid for push channels; remove it or set channel_type='push'",
        True,
        lambda env: env.hook().create_communication_channel(
            env.user, channel_type="email", address="jane@example.edu", token="device-token"
        ),
    ),
    BadInput(
        "push-delete-by-address",
        HOOK_DELETE,
        "delete a push channel by address",
        ValueError,
        "address",
        "Push channels cannot be deleted by address; use channel_id or delete_push_token",
        True,
        lambda env: env.hook().delete_communication_channel(env.user, channel_type="push", address="push"),
    ),
    BadInput(
        "push-token-empty",
        PUSH_OP,
        "push_token ''",
        ValueError,
        "push_token",
        "push_token is required for push channels: give the device's push registration token",
        True,
        lambda env: _push(env, ""),
    ),
    BadInput(
        "push-token-control-characters",
        PUSH_OP,
        "push_token with a line break ('abc\\ndef')",
        ValueError,
        "push_token",
        "push_token contains control characters; remove them",
        True,
        lambda env: _push(env, "abc\ndef"),
    ),
    BadInput(
        "push-token-none",
        HOOK_PUSH,
        "push_token None (an XCom that returned nothing)",
        ValueError,
        "push_token",
        "push_token is required for push channels: give the device's push registration token",
        True,
        lambda env: env.hook().delete_push_token(None),
    ),
    # --- SMS ---
    BadInput(
        "sms-letters",
        HOOK_CREATE,
        "sms address '555-CALL-NOW'",
        ValueError,
        "address",
        "address '555-CALL-NOW' is not an SMS number: use digits with an optional leading '+'",
        True,
        lambda env: env.hook().create_communication_channel(
            env.user, channel_type="sms", address="555-CALL-NOW"
        ),
    ),
    BadInput(
        "sms-letters-operator",
        CREATE_OP,
        "sms address '+1 555 ABC 4567'",
        ValueError,
        "address",
        "address '+1 555 ABC 4567' is not an SMS number: use digits with an optional leading '+'",
        True,
        lambda env: _create(env, channel_type="sms", address="+1 555 ABC 4567"),
    ),
    BadInput(
        "sms-too-short",
        HOOK_CREATE,
        "sms address '12345' (five digits)",
        ValueError,
        "address",
        "address '12345' is not an SMS number: use digits with an optional leading '+'",
        True,
        lambda env: env.hook().create_communication_channel(env.user, channel_type="sms", address="12345"),
    ),
    BadInput(
        "sms-row-in-sync",
        SYNC_OP,
        "an sms sync row with address 'call me'",
        ValueError,
        "address",
        "row 1: address is not an SMS number: use digits",
        True,
        lambda env: _sync(env, [{"user_id": env.user, "address": "call me"}], channel_type="sms"),
    ),
    # --- which channel ---
    BadInput(
        "target-both-hook",
        HOOK_DELETE,
        "delete with channel_id and address",
        ValueError,
        "channel_id",
        "Give either channel_id or channel_type + address, not both",
        True,
        lambda env: env.hook().delete_communication_channel(
            env.user, 5, channel_type="email", address="jane@example.edu"
        ),
    ),
    BadInput(
        "target-neither-hook",
        HOOK_DELETE,
        "delete with neither channel_id nor address",
        ValueError,
        "channel_id",
        "Give channel_id, or both channel_type and address, to say which channel to delete",
        True,
        lambda env: env.hook().delete_communication_channel(env.user),
    ),
    BadInput(
        "target-both-operator",
        DELETE_OP,
        "delete operator with channel_id and address",
        ValueError,
        "channel_id",
        "give either channel_id or channel_type + address, not both",
        True,
        lambda env: _delete(env, channel_id=5, channel_type="email", address="jane@example.edu"),
    ),
    BadInput(
        "target-neither-operator",
        DELETE_OP,
        "delete operator with neither channel_id nor address",
        ValueError,
        "channel_id",
        "say which channel to delete: give channel_id, or both channel_type and address",
        True,
        lambda env: _delete(env),
    ),
    BadInput(
        "target-address-without-type",
        DELETE_OP,
        "delete operator with address but channel_type None",
        ValueError,
        "channel_type",
        "give channel_id, or both channel_type and address",
        True,
        lambda env: _delete(env, channel_type=None, address="jane@example.edu"),
    ),
    BadInput(
        "target-both-sensor",
        SENSOR,
        "sensor with channel_id and address",
        ValueError,
        "channel_id",
        "give either channel_id or address, not both",
        True,
        lambda env: _sense(env, channel_id=5, address="jane@example.edu"),
    ),
    BadInput(
        "target-neither-sensor",
        SENSOR,
        "sensor with neither channel_id nor address",
        ValueError,
        "channel_id",
        "say which channel to watch: give address or channel_id",
        True,
        lambda env: _sense(env),
    ),
    # --- channel ids ---
    BadInput(
        "channel-id-rendered-none",
        DELETE_OP,
        "channel_id rendered from an empty XCom as 'None'",
        ValueError,
        "channel_id",
        "channel_id 'None' is not a Canvas channel id: give a positive integer",
        True,
        lambda env: _delete(env, channel_id="None"),
    ),
    BadInput(
        "channel-id-zero",
        HOOK_DELETE,
        "channel_id 0",
        ValueError,
        "channel_id",
        "channel_id '0' is not a Canvas id: ids are positive",
        True,
        lambda env: env.hook().delete_communication_channel(env.user, 0),
    ),
    BadInput(
        "channel-id-negative",
        HOOK_DELETE,
        "channel_id -3",
        ValueError,
        "channel_id",
        "channel_id '-3' is not a Canvas channel id: give a positive integer",
        True,
        lambda env: env.hook().delete_communication_channel(env.user, -3),
    ),
    BadInput(
        "channel-id-dict-from-xcom",
        DELETE_OP,
        "channel_id {'id': 5} (the whole channel from XCom)",
        ValueError,
        "channel_id",
        "channel_id must be a positive integer; got dict",
        True,
        lambda env: _delete(env, channel_id={"id": 5}),
    ),
    BadInput(
        "channel-id-not-a-number-sensor",
        SENSOR,
        "sensor channel_id '5x'",
        ValueError,
        "channel_id",
        "channel_id '5x' is not a Canvas channel id: give a positive integer",
        True,
        lambda env: _sense(env, channel_id="5x"),
    ),
    BadInput(
        "channel-id-bool",
        HOOK_DELETE,
        "channel_id True",
        ValueError,
        "channel_id",
        "channel_id must be a positive integer; got bool",
        True,
        lambda env: env.hook().delete_communication_channel(env.user, True),
    ),
    # --- user ids ---
    BadInput(
        "user-id-slash",
        HOOK_LIST,
        "user_id '1/2'",
        ValueError,
        "user_id",
        "user_id '1/2' is not a Canvas user reference: use a numeric id, 'self', or a prefixed id",
        True,
        lambda env: env.hook().list_communication_channels("1/2"),
    ),
    BadInput(
        "user-id-dot-dot",
        LIST_OP,
        "user_id '..'",
        ValueError,
        "user_id",
        "user_id '..' is not a Canvas user reference: use a numeric id, 'self', or a prefixed id",
        True,
        lambda env: _list(env, user_id=".."),
    ),
    BadInput(
        "user-id-traversal",
        CREATE_OP,
        "user_id '1/../../accounts/1'",
        ValueError,
        "user_id",
        "user_id '1/../../accounts/1' is not a Canvas user reference: use a numeric id",
        True,
        lambda env: _create(env, user_id="1/../../accounts/1", address="jane@example.edu"),
    ),
    BadInput(
        "user-id-query",
        HOOK_CREATE,
        "user_id '12?as_user_id=1'",
        ValueError,
        "user_id",
        "user_id '12?as_user_id=1' is not a Canvas user reference: use a numeric id",
        True,
        lambda env: env.hook().create_communication_channel(
            "12?as_user_id=1", channel_type="email", address="jane@example.edu"
        ),
    ),
    BadInput(
        "user-id-fragment",
        HOOK_DELETE,
        "user_id '12#top'",
        ValueError,
        "user_id",
        "user_id '12#top' is not a Canvas user reference: use a numeric id",
        True,
        lambda env: env.hook().delete_communication_channel("12#top", 5),
    ),
    BadInput(
        "user-id-percent",
        LIST_OP,
        "user_id '1%2F2' (pre-encoded)",
        ValueError,
        "user_id",
        "user_id '1%2F2' is not a Canvas user reference: use a numeric id",
        True,
        lambda env: _list(env, user_id="1%2F2"),
    ),
    BadInput(
        "user-id-space",
        SENSOR,
        "user_id '1 2'",
        ValueError,
        "user_id",
        "user_id '1 2' is not a Canvas user reference: use a numeric id",
        True,
        lambda env: _sense(env, user_id="1 2", address="jane@example.edu"),
    ),
    BadInput(
        "user-id-unicode-digits",
        HOOK_LIST,
        "user_id '١٢' (Arabic-Indic digits)",
        ValueError,
        "user_id",
        "user_id '\u0661\u0662' is not a Canvas user reference: use a numeric id, 'self', or a prefixed id",
        True,
        lambda env: env.hook().list_communication_channels("\u0661\u0662"),
    ),
    BadInput(
        "user-id-unicode-name",
        CREATE_OP,
        "user_id 'José' (a name, no prefix)",
        ValueError,
        "user_id",
        "user_id 'Jos\u00e9' is not a Canvas user reference: use a numeric id, 'self', or a prefixed id",
        True,
        lambda env: _create(env, user_id="Jos\u00e9", address="jane@example.edu"),
    ),
    BadInput(
        "user-id-json-suffix",
        HOOK_LIST,
        "user_id 'sis_user_id:abc.json'",
        ValueError,
        "user_id",
        "user_id 'sis_user_id:abc.json' ends in '.json', which Canvas's router strips as a format suffix; "
        "use the 'hex:sis_user_id:<hex>' form",
        True,
        lambda env: env.hook().list_communication_channels("sis_user_id:abc.json"),
    ),
    BadInput(
        "user-id-numeric-json-suffix",
        DELETE_OP,
        "user_id '123.json'",
        ValueError,
        "user_id",
        "user_id '123.json' is not a Canvas user reference: use a numeric id",
        True,
        lambda env: _delete(env, user_id="123.json", channel_id=5),
    ),
    BadInput(
        "user-id-huge",
        HOOK_LIST,
        "user_id 'sis_user_id:' + 10,000 characters",
        ValueError,
        "user_id",
        "user_id is 10012 characters long; Canvas ids are at most 255",
        True,
        lambda env: env.hook().list_communication_channels("sis_user_id:" + "x" * 10_000),
    ),
    BadInput(
        "user-id-huge-number",
        HOOK_LIST,
        "user_id of 30 digits",
        ValueError,
        "user_id",
        "user_id '999999999999999999999999999999' is not a Canvas id: ids are positive and at most 19 digits",
        True,
        lambda env: env.hook().list_communication_channels("9" * 30),
    ),
    BadInput(
        "user-id-negative",
        LIST_OP,
        "user_id -5",
        ValueError,
        "user_id",
        "user_id '-5' is not a Canvas id: ids are positive",
        True,
        lambda env: _list(env, user_id=-5),
    ),
    BadInput(
        "user-id-zero",
        HOOK_CREATE,
        "user_id 0",
        ValueError,
        "user_id",
        "user_id '0' is not a Canvas id: ids are positive",
        True,
        lambda env: env.hook().create_communication_channel(
            0, channel_type="email", address="jane@example.edu"
        ),
    ),
    BadInput(
        "user-id-empty-template",
        LIST_OP,
        "user_id rendered from a template as ''",
        ValueError,
        "user_id",
        "user_id is empty; give a Canvas user id, 'self' or 'sis_user_id:...'",
        True,
        lambda env: _list(env, user_id=""),
    ),
    BadInput(
        "user-id-dict-from-xcom",
        LIST_OP,
        "user_id {'id': 5} (a whole user from XCom)",
        ValueError,
        "user_id",
        "user_id must be an int or a string like 123, 'self' or 'sis_user_id:ABC'; got dict",
        True,
        lambda env: _list(env, user_id={"id": 5}),
    ),
    BadInput(
        "user-id-list-from-xcom",
        CREATE_OP,
        "user_id [5] (a list from XCom)",
        ValueError,
        "user_id",
        "user_id must be an int or a string like 123, 'self' or 'sis_user_id:ABC'; got list",
        True,
        lambda env: _create(env, user_id=[5], address="jane@example.edu"),
    ),
    BadInput(
        "user-id-bool",
        SENSOR,
        "user_id True",
        ValueError,
        "user_id",
        "user_id must be an int or a string like 123, 'self' or 'sis_user_id:ABC'; got bool",
        True,
        lambda env: _sense(env, user_id=True, address="jane@example.edu"),
    ),
    BadInput(
        "user-id-none",
        HOOK_LIST,
        "user_id None (an XCom that returned nothing)",
        ValueError,
        "user_id",
        "user_id must be an int or a string like 123, 'self' or 'sis_user_id:ABC'; got NoneType",
        True,
        lambda env: env.hook().list_communication_channels(None),
    ),
    BadInput(
        "user-id-float-from-json",
        DELETE_OP,
        "user_id 5.0 (a JSON number)",
        ValueError,
        "user_id",
        "user_id must be an int or a string like 123, 'self' or 'sis_user_id:ABC'; got float",
        True,
        lambda env: _delete(env, user_id=5.0, channel_id=5),
    ),
    BadInput(
        "user-id-empty-prefix-value",
        HOOK_LIST,
        "user_id 'sis_user_id:'",
        ValueError,
        "user_id",
        "user_id 'sis_user_id:' has an empty value after 'sis_user_id:'",
        True,
        lambda env: env.hook().list_communication_channels("sis_user_id:"),
    ),
    BadInput(
        "user-id-empty-hex-value",
        HOOK_LIST,
        "user_id 'hex:sis_user_id:' (the hex form with no value)",
        ValueError,
        "user_id",
        "user_id 'hex:sis_user_id:' has an empty value",
        True,
        lambda env: env.hook().list_communication_channels("hex:sis_user_id:"),
    ),
    BadInput(
        "user-id-unknown-prefix",
        HOOK_LIST,
        "user_id 'fax_id:1'",
        ValueError,
        "user_id",
        "user_id 'fax_id:1' is not a Canvas user reference: use a numeric id, 'self', or a prefixed id",
        True,
        lambda env: env.hook().list_communication_channels("fax_id:1"),
    ),
    BadInput(
        "user-id-control-character",
        SENSOR,
        "user_id 'sis_user_id:a\\x00b' (a NUL byte)",
        ValueError,
        "user_id",
        "user_id contains control characters; remove them",
        True,
        lambda env: _sense(env, user_id="sis_user_id:a\x00b", address="jane@example.edu"),
    ),
    BadInput(
        "user-id-traversal-in-sync-row",
        SYNC_OP,
        "a sync row with user_id '1/../2'",
        ValueError,
        "user_id",
        "row 1: user_id is not a Canvas user reference",
        True,
        lambda env: _sync(env, [{"user_id": "1/../2", "address": "jane@example.edu"}]),
    ),
    # --- wrong types and values from templates and XCom ---
    BadInput(
        "skip-confirmation-string",
        CREATE_OP,
        "skip_confirmation 'True' (a string from a template)",
        ValueError,
        "skip_confirmation",
        "skip_confirmation must be True or False; got 'True'",
        True,
        lambda env: _create(env, address="jane@example.edu", skip_confirmation="True"),
    ),
    BadInput(
        "skip-confirmation-int",
        HOOK_CREATE,
        "skip_confirmation 1",
        ValueError,
        "skip_confirmation",
        "skip_confirmation must be True or False; got 1",
        True,
        lambda env: env.hook().create_communication_channel(
            env.user, channel_type="email", address="jane@example.edu", skip_confirmation=1
        ),
    ),
    BadInput(
        "workflow-state-retired",
        LIST_OP,
        "list filter workflow_state ['active', 'retired']",
        ValueError,
        "workflow_state",
        "workflow_state has unknown values ['retired']; use any of active, unconfirmed",
        True,
        lambda env: _list(env, user_id=env.user, workflow_state=["active", "retired"]),
    ),
    BadInput(
        "target-state-unknown",
        SENSOR,
        "sensor target_state 'confirmed'",
        ValueError,
        "target_state",
        "target_state must be one of active, unconfirmed, present, absent; got 'confirmed'",
        True,
        lambda env: _sense(env, address="jane@example.edu", target_state="confirmed", deferrable=False),
    ),
    BadInput(
        "if-exists-unknown",
        CREATE_OP,
        "if_exists 'replace'",
        ValueError,
        "if_exists",
        "if_exists must be 'skip' or 'fail'; got 'replace'",
        True,
        lambda env: _create(env, address="jane@example.edu", if_exists="replace"),
    ),
    BadInput(
        "sync-mode-unknown",
        SYNC_OP,
        "sync mode 'replace'",
        ValueError,
        "mode",
        "mode must be one of 'add_only', 'mirror'; got 'replace'",
        True,
        lambda env: _sync(env, {env.user: "jane@example.edu"}, mode="replace"),
    ),
    BadInput(
        "sync-max-deletes-words",
        SYNC_OP,
        "max_deletes 'ten percent'",
        ValueError,
        "max_deletes",
        "max_deletes must be a count (a whole number >= 0, e.g. 5) or a fraction of the total (a number "
        "from 0.0 to 1.0 such as 0.05, or a percentage such as '5%'); got 'ten percent'",
        True,
        lambda env: _sync(env, {env.user: "jane@example.edu"}, max_deletes="ten percent"),
    ),
    BadInput(
        "sync-mirror-without-manage",
        SYNC_OP,
        "mode 'mirror' without manage=",
        ValueError,
        "manage",
        "mode='mirror' needs manage=: say which addresses the sync owns and may retire",
        True,
        lambda env: _sync(env, {env.user: "jane@example.edu"}, mode="mirror"),
    ),
    BadInput(
        "sync-manage-not-a-domain",
        SYNC_OP,
        "manage=['uni edu'] (a space, not a dot)",
        ValueError,
        "manage",
        "manage has 'uni edu', which is not an e-mail domain",
        True,
        lambda env: _sync(env, {env.user: "jane@example.edu"}, mode="mirror", manage=["uni edu"]),
    ),
    BadInput(
        "sync-user-id-prefix-unknown",
        SYNC_OP,
        "user_id_prefix 'sis:'",
        ValueError,
        "user_id_prefix",
        "user_id_prefix must be one of sis_user_id:, sis_login_id:",
        True,
        lambda env: _sync(env, {env.user: "jane@example.edu"}, user_id_prefix="sis:"),
    ),
    BadInput(
        "sync-max-concurrency-zero",
        SYNC_OP,
        "max_concurrency 0",
        ValueError,
        "max_concurrency",
        "max_concurrency must be a whole number from 1 to 64; got 0",
        True,
        lambda env: _sync(env, {env.user: "jane@example.edu"}, max_concurrency=0),
    ),
    BadInput(
        "desired-none-from-xcom",
        SYNC_OP,
        "desired None (an upstream task returned nothing)",
        ValueError,
        "desired",
        "desired must be the path or URL of a .csv/.jsonl file, a list of rows (mappings with the user id "
        "and address columns), or a mapping of user id -> addresses; got NoneType",
        True,
        lambda env: _sync(env, None),
    ),
    BadInput(
        "desired-number",
        SYNC_OP,
        "desired 42",
        ValueError,
        "desired",
        "desired must be the path or URL of a .csv/.jsonl file",
        True,
        lambda env: _sync(env, 42),
    ),
    BadInput(
        "desired-row-not-a-mapping",
        SYNC_OP,
        "desired rows ['5,jane@example.edu'] (strings, not mappings)",
        ValueError,
        "desired",
        "row 1: needs the keys 'user_id' and 'address' (got a str)",
        True,
        lambda env: _sync(env, ["5,jane@example.edu"]),
    ),
    BadInput(
        "desired-address-not-a-string",
        SYNC_OP,
        "desired {user: [12345]} (a number as address)",
        ValueError,
        "address",
        "entry 1: address must be a string; got int",
        True,
        lambda env: _sync(env, {env.user: [12345]}),
    ),
    # --- desired files ---
    BadInput(
        "desired-duplicate-rows",
        SYNC_OP,
        "CSV with the same address three times (in two cases) and the current address twice",
        HANDLED,
        "desired",
        "duplicates collapse (case-insensitively, as Canvas matches): one create, nothing doubled",
        False,
        lambda env: _sync_outcome(
            env,
            "dups.csv",
            "user_id,address\n{user},dup@example.edu\n{user},DUP@Example.edu\n{user},dup@example.edu\n"
            "{user},demo-student-1@example.edu\n{user},Demo-Student-1@example.edu\n",
        ),
        {"users": 1, "created": 1, "unchanged": 1, "failed": 0, "creates sent": 1, "requests": 2},
    ),
    BadInput(
        "desired-bom",
        SYNC_OP,
        "CSV saved by Excel: a UTF-8 byte-order mark and CRLF line ends",
        HANDLED,
        "desired",
        "the BOM is ignored and the header recognised: both rows are created",
        False,
        lambda env: _sync_outcome(
            env,
            "excel.csv",
            "\ufeffuser_id,address\r\n{user},bom1@example.edu\r\n{user},bom2@example.edu\r\n",
        ),
        {"users": 1, "created": 2, "unchanged": 0, "failed": 0, "creates sent": 2, "requests": 3},
    ),
    BadInput(
        "desired-bom-jsonl",
        SYNC_OP,
        "JSON-lines file starting with a byte-order mark",
        HANDLED,
        "desired",
        "the BOM is ignored: the row is created",
        False,
        lambda env: _sync_outcome(
            env, "rows.jsonl", '\ufeff{"user_id": {user}, "address": "jsonl-bom@example.edu"}\n'
        ),
        {"users": 1, "created": 1, "unchanged": 0, "failed": 0, "creates sent": 1, "requests": 2},
    ),
    BadInput(
        "desired-padded-header-extra-column",
        SYNC_OP,
        "CSV with spaces around header names and values, and an extra 'name' column",
        HANDLED,
        "desired",
        "names and values are trimmed and the extra column ignored: the row is created",
        False,
        lambda env: _sync_outcome(
            env, "padded.csv", " user_id , address ,name\n {user} , padded@example.edu ,Jane\n"
        ),
        {"users": 1, "created": 1, "unchanged": 0, "failed": 0, "creates sent": 1, "requests": 2},
    ),
    BadInput(
        "desired-same-user-two-references",
        SYNC_OP,
        "mode 'mirror' with one user under two references: its numeric id (keeping its current address) "
        "and 'sis_user_id:...' (adding a second)",
        HANDLED,
        "desired",
        "the rows are merged per Canvas user: the second address is created and the first is kept",
        False,
        lambda env: _sync_end_state(
            env,
            {env.user: ["demo-student-1@example.edu"], "sis_user_id:demo-student-1": ["second@example.edu"]},
            mode="mirror",
            manage="all",
            max_deletes=1.0,
        ),
        {"created": 1, "deleted": 0, "addresses": ["demo-student-1@example.edu", "second@example.edu"]},
    ),
    BadInput(
        "desired-empty-add-only",
        SYNC_OP,
        "CSV with a header and 0 rows, mode 'add_only'",
        HANDLED,
        "desired",
        "nothing to do: the task succeeds without a request",
        True,
        lambda env: _sync_outcome(env, "empty.csv", "user_id,address\n"),
        {"users": 0, "created": 0, "unchanged": 0, "failed": 0, "creates sent": 0, "requests": 0},
    ),
    BadInput(
        "desired-missing-column",
        SYNC_OP,
        "CSV with columns user_id,email",
        ValueError,
        "desired",
        "needs a header row with the columns 'user_id' and 'address'; missing: address (found: user_id, email). "
        "Name the columns with user_id_column= and address_column=",
        True,
        lambda env: _sync_file(env, "contacts.csv", "user_id,email\n{user},jane@example.edu\n"),
    ),
    BadInput(
        "desired-semicolons",
        SYNC_OP,
        "CSV separated by semicolons (a European Excel export)",
        ValueError,
        "desired",
        "needs a header row with the columns 'user_id' and 'address'; missing: user_id, address",
        True,
        lambda env: _sync_file(env, "contacts.csv", "user_id;address\n{user};jane@example.edu\n"),
    ),
    BadInput(
        "desired-empty-mirror-csv",
        SYNC_OP,
        "CSV with a header and 0 rows, mode 'mirror'",
        AirflowFailException,
        "desired",
        "blocked before any write: desired is empty and mode is 'mirror': that would retire every managed "
        "address. Nothing was changed",
        True,
        lambda env: _sync_file(env, "empty.csv", "user_id,address\n", mode="mirror", manage="all"),
    ),
    BadInput(
        "desired-empty-mirror-jsonl",
        SYNC_OP,
        "empty JSON-lines file, mode 'mirror'",
        AirflowFailException,
        "desired",
        "blocked before any write: desired is empty and mode is 'mirror': that would retire every managed "
        "address. Nothing was changed",
        True,
        lambda env: _sync_file(env, "empty.jsonl", "\n", mode="mirror", manage="all"),
    ),
    BadInput(
        "desired-empty-mirror-mapping",
        SYNC_OP,
        "desired {} from XCom, mode 'mirror'",
        AirflowFailException,
        "desired",
        "blocked before any write: desired is empty and mode is 'mirror': that would retire every managed "
        "address. Nothing was changed",
        True,
        lambda env: _sync(env, {}, mode="mirror", manage="all"),
    ),
    BadInput(
        "desired-bad-json-line",
        SYNC_OP,
        "JSON-lines file whose second line is not JSON",
        ValueError,
        "desired",
        "line 2 is not JSON",
        True,
        lambda env: _sync_file(
            env, "rows.jsonl", '{"user_id": {user}, "address": "a@example.edu"}\n{"user_id": 1,\n'
        ),
    ),
    BadInput(
        "desired-missing-file",
        SYNC_OP,
        "desired path that does not exist",
        ValueError,
        "desired",
        "does not exist (relative paths are from the worker's cwd)",
        True,
        lambda env: _sync(env, "/nonexistent/contacts.csv"),
    ),
    BadInput(
        "desired-spreadsheet",
        SYNC_OP,
        "desired file 'contacts.xlsx'",
        ValueError,
        "desired",
        "use a .csv file (a header row naming the columns 'user_id' and 'address') or a .jsonl file",
        True,
        lambda env: _sync_file(env, "contacts.xlsx", "PK\x03\x04"),
    ),
    BadInput(
        "desired-blank-address",
        SYNC_OP,
        "CSV whose second data row has an empty address",
        ValueError,
        "address",
        "line 3: address is required for email channels",
        True,
        lambda env: _sync_file(env, "contacts.csv", "user_id,address\n{user},a@example.edu\n{user},\n"),
    ),
    # --- the connection ---
    BadInput(
        "connection-no-host",
        CONNECTION,
        "connection without a host",
        CanvasConfigurationError,
        "host",
        "no host. Set 'Canvas URL' (host) to your Canvas address, e.g. https://canvas.example.edu",
        True,
        lambda env: _list_with(env, host=None),
    ),
    BadInput(
        "connection-host-with-path",
        CONNECTION,
        "host 'http://127.0.0.1:<port>/canvas' (a path after the address)",
        CanvasConfigurationError,
        "host",
        "host has a path ('/canvas'); give the Canvas base URL without a path",
        True,
        lambda env: _list_with(env, host=_local_port_host(env, "http", "/canvas")),
    ),
    BadInput(
        "connection-plain-http",
        CONNECTION,
        "host 'http://0.0.0.0:<port>' (plain http to a host that is not loopback; it reaches the fake)",
        CanvasConfigurationError,
        "host",
        "host uses plain http://, which would send the access token unencrypted. Use https://",
        True,
        lambda env: _list_with(env, host=f"http://0.0.0.0:{env.canvas.port}"),
    ),
    BadInput(
        "connection-empty-token",
        CONNECTION,
        "Access Token (password) ''",
        CanvasConfigurationError,
        "password",
        "the Access Token (password) is empty. Paste a Canvas access token into it",
        True,
        lambda env: _list_with(env, password=""),
    ),
    BadInput(
        "connection-blank-token-operator",
        LIST_OP,
        "Access Token (password) '   ', through an operator",
        CanvasConfigurationError,
        "password",
        "the Access Token (password) is empty. Paste a Canvas access token into it",
        True,
        lambda env: _list_op_with(env, password="   "),
    ),
    BadInput(
        "connection-credentials-in-host",
        CONNECTION,
        "host 'http://admin:secret@127.0.0.1:<port>'",
        CanvasConfigurationError,
        "host",
        "host must not contain credentials; put the token in 'Access Token' (password)",
        True,
        lambda env: _list_with(env, host=_local_port_host(env, "http", userinfo="admin:secret@")),
    ),
    BadInput(
        "connection-query-in-host",
        CONNECTION,
        "host 'http://127.0.0.1:<port>/?access_token=x'",
        CanvasConfigurationError,
        "host",
        "host must not contain a query string or fragment; give only the Canvas base URL",
        True,
        lambda env: _list_with(env, host=_local_port_host(env, "http", "/?access_token=x")),
    ),
    BadInput(
        "connection-ftp",
        CONNECTION,
        "host 'ftp://canvas.example.edu'",
        CanvasConfigurationError,
        "host",
        "host scheme 'ftp' is not supported; use https://",
        True,
        lambda env: _list_with(env, host="ftp://canvas.example.edu"),
    ),
    BadInput(
        "connection-per-page",
        CONNECTION,
        "extra per_page 1000",
        CanvasConfigurationError,
        "per_page",
        "'Page size' (extra per_page) must be from 1 to 100; got 1000",
        True,
        lambda env: _list_with(env, per_page=1000),
    ),
    BadInput(
        "connection-timeout-text",
        CONNECTION,
        "extra timeout 'soon'",
        CanvasConfigurationError,
        "timeout",
        "'Timeout (seconds)' (extra timeout) must be a number of seconds; got 'soon'",
        True,
        lambda env: _list_with(env, timeout="soon"),
    ),
    BadInput(
        "connection-verify-missing-bundle",
        CONNECTION,
        "extra verify '/nonexistent/ca-bundle.pem'",
        CanvasConfigurationError,
        "verify",
        "'Verify TLS' (extra verify) must be true or false (for a private CA, set 'CA bundle path')",
        True,
        lambda env: _list_with(env, verify="/nonexistent/ca-bundle.pem"),
    ),
    BadInput(
        "connection-insecure-http-typo",
        CONNECTION,
        "extra allow_insecure_http 'sometimes'",
        CanvasConfigurationError,
        "allow_insecure_http",
        "'Allow plain http://' (extra allow_insecure_http) must be true or false; got 'sometimes'",
        True,
        lambda env: _list_with(env, allow_insecure_http="sometimes"),
    ),
    BadInput(
        "connection-no-host-sync",
        SYNC_OP,
        "a sync through a connection without a host",
        CanvasConfigurationError,
        "host",
        "no host. Set 'Canvas URL' (host) to your Canvas address",
        True,
        lambda env: (
            env.connect(host=None, password=..., extra={}),
            _sync(env, {env.user: "jane@example.edu"}),
        ),
    ),
]


# ----- safety guarantees --------------------------------------------------------------------------------

_SAFETY = "tests/reliability/test_token_safety.py"
_BAD = "tests/reliability/test_bad_inputs.py"
_HOSTILE = "tests/hostile"

SAFETY_GUARANTEES: list[Guarantee] = [
    Guarantee(
        "The access token and push tokens never appear in any log event at DEBUG or above, before Airflow's "
        "masking, for every hook call, operator, sensor and trigger, on success and on every kind of error.",
        f"{_SAFETY}::test_tokens_never_logged_at_debug",
    ),
    Guarantee(
        "A real DAG run (dag.test()) of every operator and the sensor, poke and deferred, at DEBUG: neither "
        "token appears in the task output (except Airflow's own in-process MaskSecret debug line), nor in "
        "any XCom or rendered template field; no student address appears in the output at INFO or above.",
        f"{_SAFETY}::test_dag_run_shows_no_token_in_output_xcom_or_rendered_fields",
    ),
    Guarantee(
        "Push tokens passed through templates are masked in rendered fields, XCom and task output.",
        "tests/dags/test_example_dags.py::test_push_tokens_are_masked_everywhere",
    ),
    Guarantee(
        "No error carries the token, in its message, repr, pickled form, chained causes or formatted "
        "traceback: 400, 401, 403, 404, 429 and 5xx after retries, timeouts, refused and reset "
        "connections, TLS failure, bad bodies, redirects and foreign or downgraded links, local input "
        "errors, a bulk listing's per-user error and the sync operator's failure.",
        f"{_SAFETY}::test_errors_never_carry_the_token",
    ),
    Guarantee(
        "Errors from Canvas or the network (TLS, timeout, refused, reset, 404, 5xx, redirect, bad JSON) show "
        "URLs in their safe form: no e-mail address, SMS number or e-mail-like SIS login id, in the message, "
        "repr or traceback an operator's failure is logged with.",
        f"{_SAFETY}::test_canvas_and_network_errors_never_carry_the_address",
    ),
    Guarantee(
        "The trigger's error events, and the typed error the sensor re-raises from them, carry no token.",
        f"{_SAFETY}::test_trigger_error_events_and_the_reraised_error_never_carry_the_token",
    ),
    Guarantee(
        "A rejected token (401) is not repeated in the error or the Test-button message.",
        "tests/hook/test_hook_http.py::test_test_connection_bad_token",
    ),
    Guarantee(
        "No operator's XCom (return value or other keys) carries the access token or a push token, "
        "including the sync report of a run with failures.",
        f"{_SAFETY}::test_operator_xcoms_never_carry_a_token",
    ),
    Guarantee(
        "The trigger a deferring sensor hands to the triggerer serialises without the token.",
        f"{_SAFETY}::test_deferred_trigger_serialises_without_the_token",
    ),
    Guarantee(
        "A trigger rebuilt from its serialised form neither carries nor logs the token.",
        "tests/triggers/test_channel_trigger_and_sensor.py::test_trigger_never_carries_or_logs_the_token",
    ),
    Guarantee(
        "No request reaches another host when Canvas answers with a pagination link to it (absolute, "
        "scheme-relative, with user-info, or with a backslash), for the hook, bulk listing, sync operator, "
        "sensor and trigger: so the token never leaves the connection's origin.",
        f"{_SAFETY}::test_foreign_next_links_never_reach_the_other_host",
    ),
    Guarantee(
        "No request reaches another host when Canvas redirects (301, 302, 303, 307, 308) there, for "
        "every call including create, deletes and the push-token delete (whose body holds a device token).",
        f"{_SAFETY}::test_redirects_never_reach_the_other_host",
    ),
    Guarantee(
        "An https Canvas whose pagination link downgrades to http:// on another port is refused before "
        "anything is sent there, by the hook and by the trigger.",
        f"{_SAFETY}::test_https_to_http_downgrade_never_reaches_the_other_host",
    ),
    Guarantee(
        "Whatever a Link header says, a next page the hook accepts is sent, by requests and by httpx, to "
        "the connection's origin (property-based).",
        f"{_BAD}::test_accepted_next_links_stay_on_the_connection_origin_for_both_transports",
    ),
    Guarantee(
        "TLS verification is on by default: an untrusted certificate fails clearly, and is not retried.",
        "tests/hook/test_tls.py::test_untrusted_certificate_fails_clearly_and_is_not_retried",
    ),
    Guarantee(
        "TLS verification is on by default in the trigger (async hook) too.",
        f"{_SAFETY}::test_trigger_verifies_tls_by_default",
    ),
    Guarantee(
        "Turning TLS verification off needs the explicit extra verify=false, and logs a warning.",
        "tests/hook/test_tls.py::test_verify_false_works_but_warns",
    ),
    Guarantee(
        "The trigger warns too when verify=false.",
        f"{_SAFETY}::test_trigger_warns_when_tls_verification_is_off",
    ),
    Guarantee(
        "Plain http:// to a host that is not loopback is refused before any request, unless the extra "
        "allow_insecure_http says otherwise.",
        f"{_BAD}::test_bad_input[connection-plain-http]",
    ),
    Guarantee(
        "Student addresses (and e-mail-like SIS login ids) never appear in log events at INFO or above, "
        "for create, delete by id and by address, list, sync (add_only and mirror), the sensor (poke) and "
        "the trigger, with retries and failures.",
        f"{_SAFETY}::test_student_addresses_never_logged_at_info",
    ),
    Guarantee(
        "Airflow's triggerer logs every trigger event at INFO; the deferred sensor's events carry no "
        "student address.",
        f"{_SAFETY}::test_triggerer_logs_no_student_address",
    ),
    Guarantee(
        "The sync operator's failure message names users and counts but never an address, whatever failed "
        "(Canvas errors, unreachable users, TLS, bad rows in the input).",
        f"{_SAFETY}::test_sync_failure_message_carries_no_address",
    ),
    Guarantee(
        "Built request paths keep every value in its own segment and URLs shown in errors and logs hide "
        "addresses, as the transport (requests/urllib3) sees them (property-based).",
        f"{_BAD}::test_built_urls_stay_in_their_segments_as_the_transport_sends_them",
    ),
    Guarantee(
        "A server that echoes the access token or a push token back (in any case, percent-encoded, in a "
        "JSON or plain-text error body) gets none of it into the error (message, repr, pickle, chain, "
        "traceback) or any log event at DEBUG, for list, create, the push-token delete and the async hook.",
        f"{_HOSTILE}/test_secrets.py::test_echoed_secrets_never_reach_the_error_or_the_logs",
    ),
    Guarantee(
        "The token as the host of a redirect's Location or of a next link (lower-cased by URL parsing, "
        "which Airflow's masker misses) is replaced in the error and the trigger event.",
        f"{_HOSTILE}/test_secrets.py::test_a_next_link_to_the_token_as_host_name_is_refused_and_clean",
    ),
    Guarantee(
        "A raised error holds no reference to the request it failed on (__context__ and __cause__ "
        "cleared), so no Authorization header is reachable from it, after one attempt or several.",
        f"{_HOSTILE}/test_secrets.py::test_a_refused_connection_leaves_no_request_behind",
    ),
    Guarantee(
        "The Test button's message carries no echoed token, neither in Canvas's rejection nor in a user "
        "name or id the server made up.",
        f"{_HOSTILE}/test_secrets.py::test_a_user_name_that_echoes_the_token_is_clean_in_the_test_button",
    ),
    Guarantee(
        "The sync operator's failure message, XCom report and plan file carry no echoed token, and each "
        "hostile answer (a nesting bomb, an echoing 400) is reported as its own items.",
        f"{_HOSTILE}/test_sync_operator.py::test_hostile_answers_are_reported_per_item_without_secrets",
    ),
]
