"""The connection form's extra fields for Airflow 3.0 and 3.1, from the one declaration in the provider info.

Airflow 3.2+ reads ``conn-fields`` from ``get_provider_info()``. 3.0 and 3.1 only know the hook method
``get_connection_form_widgets()``, which returns WTForms fields; their API server turns those into the form's
JSON schema through stand-ins for WTForms (3.1 always; 3.0 only when ``wtforms`` is installed there). Those
stand-ins carry a label, a description, a default and a choice list, but no bounds and no float type, so:
numbers with decimals become text boxes, and the ranges are checked by the hook, which names the field.
"""

from __future__ import annotations

from typing import Any

__all__ = ["form_widgets"]


def _field_class(schema: dict[str, Any]) -> tuple[str, bool]:
    """The WTForms field class name for a JSON schema, and whether its default must be text."""
    types = schema.get("type", "string")
    kind = next(t for t in ([types] if isinstance(types, str) else types) if t != "null")
    if schema.get("format") == "password":
        return "PasswordField", True
    if kind == "integer":
        return "IntegerField", False
    if kind == "boolean":
        return "BooleanField", False
    return "StringField", True  # string, and number (the legacy forms have no float field)


def form_widgets(conn_fields: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``{name: unbound WTForms field}`` for each ``conn-fields`` entry, in the declaration's order.

    Imports WTForms by name when called, as Airflow's API server expects (it swaps in its stand-ins first).
    """
    import wtforms
    from wtforms.validators import Optional, any_of

    widgets: dict[str, Any] = {}
    for name, declared in conn_fields.items():
        schema = declared["schema"]
        class_name, text_default = _field_class(schema)
        validators = [Optional()]
        if "enum" in schema:
            validators.append(any_of(schema["enum"]))
        default = schema.get("default")
        if text_default and default is not None:
            default = str(default)
        widgets[name] = getattr(wtforms, class_name)(
            declared["label"], validators=validators, description=declared["description"], default=default
        )
    return widgets
