"""Find secret values in run outputs, and redact them from records, with one matcher.

A hit in a file removes the file: a leaked token must not stay on disk.

A 6-digit PIN also turns up by chance inside longer numbers (IDs) and in the microseconds of
timestamps (papermill stamps every cell), so an all-digit secret only counts when it stands
alone: not inside a longer run of digits and not right after a decimal point. Redaction uses the
same rule, so a PIN's digits inside a phone number ID never turn the ID into `400000000***`.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Iterable, Mapping

MIN_SECRET_LENGTH = 4  # shorter values would match by accident; PINs are 6 digits
REDACTED = "***"


def secret_values(env: Mapping[str, str], names: Iterable[str]) -> dict[str, str]:
    """{env var name: value} for the named secrets that are set."""
    return {n: env[n].strip() for n in sorted(set(names)) if len(env.get(n, "").strip()) >= MIN_SECRET_LENGTH}


def _forms(value: str) -> set[str]:
    # The raw value, and the form it takes inside JSON strings (escaped quotes, backslashes, non-ASCII).
    return {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}


def _source(value: str) -> str:
    """Regex source matching `value` where it counts as the secret (see the module note)."""
    if value.isdigit():
        return r"(?<![0-9.])" + value + r"(?![0-9])"
    # Longest first, so a longer form wins over a prefix of it.
    return "|".join(re.escape(f) for f in sorted(_forms(value), key=len, reverse=True))


def _combined(values: Iterable[str]) -> str:
    ordered = sorted({v for v in values if v}, key=len, reverse=True)
    return "|".join(f"(?:{_source(v)})" for v in ordered)


def contains(data: bytes, value: str) -> bool:
    """Whether `data` holds the secret `value` (see the module note on all-digit secrets)."""
    return re.search(_source(value).encode("utf-8"), data) is not None


def redact(text: str, values: Iterable[str]) -> str:
    """`text` with every occurrence of the secrets replaced by ***, by the same rule `contains` uses."""
    source = _combined(v.strip() for v in values if len(v.strip()) >= MIN_SECRET_LENGTH)
    return re.sub(source, REDACTED, text) if source else text


def find_leaks(path: Path, secrets: Mapping[str, str]) -> list[str]:
    """Names of the env vars whose values appear in the file."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return []
    source = _combined(secrets.values())
    # One pass over the file for all secrets; only on a hit say which ones (a batch has hundreds).
    if not source or re.search(source.encode("utf-8"), data) is None:
        return []
    return [name for name, value in secrets.items() if contains(data, value)]


def scan_tree(root: Path, secrets: Mapping[str, str], *, remove: bool = True) -> dict[str, list[str]]:
    """{relative path: [env var names]} for every file under root holding a secret; removes them."""
    hits: dict[str, list[str]] = {}
    for path in sorted(Path(root).rglob("*")):
        if path.is_file():
            names = find_leaks(path, secrets)
            if names:
                hits[str(path.relative_to(root))] = names
                if remove:
                    path.unlink()
    return hits
