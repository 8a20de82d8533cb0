"""Parameter checks shared by the resource modules: JSON-or-form objects, lists, messaging_product, PIN.

Each raises the GraphError Meta answers a malformed parameter with.
"""
from __future__ import annotations

import json
import re
from typing import Any

from . import graph_errors as err


def require_whatsapp_product(params: dict) -> None:
    product = params.get("messaging_product")
    if not product:
        raise err.parameter_required("messaging_product")
    if str(product).lower() != "whatsapp":
        raise err.param_enum("messaging_product", ["whatsapp"], str(product))


def require_pin(value: Any) -> str:
    pin = "" if value is None else str(value)
    if not re.fullmatch(r"[0-9]{6}", pin):
        raise err.invalid_parameter("The PIN must be a 6-digit number.")
    return pin


def object_param(params: dict, name: str) -> dict | None:
    """A nested object parameter, sent as JSON or as a form/query field holding JSON."""
    value = params.get(name)
    if value is None or isinstance(value, dict):
        return value
    try:
        parsed = json.loads(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        raise err.invalid_parameter(f"Param {name} must be a JSON object.")
    return parsed


def list_param(value: Any) -> list[str]:
    """A list parameter: a JSON array, a list, or a comma-separated string."""
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    text = str(value).strip()
    if text.startswith("["):
        try:
            return list_param(json.loads(text))
        except ValueError:
            raise err.invalid_parameter("A list must be comma-separated or a JSON array.") from None
    return [v.strip() for v in text.split(",") if v.strip()]
