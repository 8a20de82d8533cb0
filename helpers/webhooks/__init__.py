"""Webhooks: a receiver that stores every delivery before answering, its store, and a checker acting as Meta.

>>> from helpers.webhooks import WebhookReceiver, WebhookStore, check_endpoint
"""
from .checker import check_endpoint, format_report
from .receiver import WebhookReceiver, make_app
from .signature import is_valid, sign
from .store import WebhookStore

__all__ = ["WebhookReceiver", "WebhookStore", "check_endpoint", "format_report", "make_app", "is_valid", "sign"]
