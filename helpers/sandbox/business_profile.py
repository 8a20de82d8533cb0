"""A phone number's business profile: reading it (with field selection) and updating it under Meta's checks.

Every rule raises the GraphError Meta would answer with.
"""
from __future__ import annotations

import hashlib
import re
from typing import Any

from . import graph_errors as err
from . import spec_model
from .graph_errors import GraphError
from .models import BUSINESS_PROFILE_LIMITS, PhoneNumber
from .params import list_param, require_whatsapp_product
from .store import Store


class BusinessProfileMixin(Store):
    """A phone number's business profile."""

    # ---- business profile -------------------------------------------------------------------

    def business_profile(self, phone: PhoneNumber, fields: Any) -> dict:
        profile = {"messaging_product": "whatsapp", **phone.business_profile}
        profile.setdefault("vertical", "UNDEFINED")
        if fields:
            wanted = set(list_param(fields)) | {"messaging_product"}
            known = set(spec_model.business_profile_fields())
            for name in wanted - known:
                raise err.nonexisting_field(name, "WhatsAppBusinessProfile")
            profile = {k: v for k, v in profile.items() if k in wanted}
        return {"data": [profile]}

    def update_business_profile(self, phone: PhoneNumber, params: dict) -> dict:
        """Meta's checks on each field (lengths, email, websites, vertical), then all-or-nothing."""
        require_whatsapp_product(params)
        rules = spec_model.business_profile_fields()
        update: dict[str, Any] = {}
        for name in ("about", "address", "description", "email"):
            if name in params:
                value = str(params[name])
                limit = BUSINESS_PROFILE_LIMITS.get(name, rules[name].get("maxLength"))
                if name == "about" and not value:
                    raise err.invalid_parameter("about must not be empty.")
                if limit and len(value) > limit:
                    raise GraphError(100, f"(#100) Param {name} must be at most {limit} characters long.")
                if name == "email" and value and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
                    raise err.invalid_parameter("email must be a valid email address")
                update[name] = value
        if "websites" in params:
            websites = list_param(params["websites"])
            if len(websites) > rules["websites"]["maxItems"]:
                raise GraphError(100, f"(#100) Param websites must have at most {rules['websites']['maxItems']} items.")
            for site in websites:
                if not re.match(r"https?://[^\s/]+", site) or len(site) > rules["websites"]["items"]["maxLength"]:
                    raise err.invalid_parameter(f"websites: {site!r} must be an http:// or https:// URL of at most "
                                                f"{rules['websites']['items']['maxLength']} characters.")
            update["websites"] = websites
        if "vertical" in params:
            verticals = rules["vertical"]["enum"]
            if str(params["vertical"]) not in verticals:
                raise err.param_enum("vertical", verticals, str(params["vertical"]))
            update["vertical"] = str(params["vertical"])
        if "profile_picture_handle" in params:
            handle = str(params["profile_picture_handle"])
            if not handle:
                raise err.invalid_parameter("profile_picture_handle must be the handle of an uploaded picture.")
            digest = hashlib.sha256(handle.encode()).hexdigest()[:16]
            update["profile_picture_url"] = f"https://pps.whatsapp.net/v/t61.24694-24/{digest}_n.jpg"
        phone.business_profile.update(update)
        return {"success": True}
