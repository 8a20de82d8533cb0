"""The language a batch speaks in: its summary, its preflight and CLI messages (helpers.i18n)."""
from __future__ import annotations

from typing import Any, Iterable, Mapping

from .. import i18n


def batch_language(profiles: Iterable[Mapping[str, Any]], given: str | None = None) -> str | None:
    """The batch's language: `given` (--language), else the one every customer speaks (a profile without
    `language` speaks the current one), else None (customers differ: the summary stays in the current one)."""
    if given:
        return i18n.check_language(given, "--language")
    spoken = {str(p.get("language") or "") or i18n.current_language() for p in profiles}
    return spoken.pop() if len(spoken) == 1 else None
