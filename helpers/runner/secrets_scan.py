"""Find secret values in run outputs. A hit removes the file: a leaked token must not stay on disk.

A 6-digit PIN also turns up by chance inside longer numbers and in the microseconds of
timestamps (papermill stamps every cell), so an all-digit secret only counts when it stands
alone: not inside a longer run of digits and not right after a decimal point.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

MIN_SECRET_LENGTH = 4  # shorter values would match by accident; PINs are 6 digits


def secret_values(env: dict[str, str], names: set[str]) -> dict[str, str]:
    """{env var name: value} for the named secrets that are set."""
    return {n: env[n] for n in sorted(names) if len(env.get(n, "").strip()) >= MIN_SECRET_LENGTH}


def _needles(value: str) -> list[bytes]:
    # The raw value, and the form it takes inside JSON strings (escaped quotes, backslashes, non-ASCII).
    forms = {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}
    return [f.encode("utf-8") for f in forms]


def contains(data: bytes, value: str) -> bool:
    """Whether `data` holds the secret `value` (see the module note on all-digit secrets)."""
    if value.isdigit():
        return re.search(rb"(?<![0-9.])" + value.encode() + rb"(?![0-9])", data) is not None
    return any(n in data for n in _needles(value))


def find_leaks(path: Path, secrets: dict[str, str]) -> list[str]:
    """Names of the env vars whose values appear in the file."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return []
    return [name for name, value in secrets.items() if contains(data, value)]


def scan_tree(root: Path, secrets: dict[str, str], *, remove: bool = True) -> dict[str, list[str]]:
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
