"""SandboxState: the sandbox's whole model (businesses, apps, tokens, WABAs, phone numbers) with Meta's rules over it.

The state itself and its snapshot are store.py's; the resource models and constants are models.py's; Meta's
rules come one resource to a module, composed here as mixins:

    tokens.py            tokens and apps: access, debug_token, Embedded Signup, app subscriptions, usage header
    wabas.py             WABA fields, health status, subscribed apps, webhook targets
    phone_numbers.py     phone number fields, PIN, request/verify code, register/deregister
    messages.py          sending, the 24-hour window, throughput, pricing, consumers' messages, mark read
    business_profile.py  a number's business profile
    templates.py, partner.py  message templates; a Solution Partner's credit lines and system users (functions
                         over the state)

Every rule raises the GraphError Meta would answer with.
"""
from __future__ import annotations

from .business_profile import BusinessProfileMixin
from .messages import MessagesMixin
# Re-exported: tests read these from helpers.sandbox.state.
from .models import CONSUMER_MESSAGE_TYPES, PAYMENT_METHOD_ERROR, PRICING_CATEGORIES, PRICING_TYPES
from .phone_numbers import PhoneNumbersMixin
from .tokens import TokensMixin
from .wabas import WabasMixin

__all__ = ["SandboxState", "CONSUMER_MESSAGE_TYPES", "PAYMENT_METHOD_ERROR", "PRICING_CATEGORIES", "PRICING_TYPES"]


class SandboxState(TokensMixin, WabasMixin, PhoneNumbersMixin, MessagesMixin, BusinessProfileMixin):
    """Every Meta resource the sandbox holds, and Meta's rules over them (see the modules above)."""
