"""Find secret values in run outputs, and redact them from records, with one matcher.

A hit in a file removes the file: a leaked token must not stay on disk.

A 6-digit PIN also turns up by chance inside longer numbers (IDs) and in the microseconds of
timestamps (papermill stamps every cell), so an all-digit secret only counts when it stands
alone: not inside a longer run of digits and not right after a decimal point. Redaction uses the
same rule, so a PIN's digits inside a phone number ID never turn the ID into `400000000***`.

Finding is one pass per file for all secrets, however many: a batch of a hundred customers holds
hundreds of secrets and tens of MB of notebooks, where a regular expression of hundreds of
alternatives took a minute. `SecretMatcher` puts every form of every secret in one Aho-Corasick
automaton (pyahocorasick), which walks the bytes once.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Iterable, Mapping

import ahocorasick

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


_DIGITS = frozenset("0123456789")
_NOT_BEFORE_DIGITS = _DIGITS | {"."}  # a longer number, or the decimals of a timestamp


class SecretMatcher:
    """Which of `secrets` ({env var name: value}) a file's bytes hold, by the rule of `contains`."""

    def __init__(self, secrets: Mapping[str, str]) -> None:
        self.names = [name for name, value in secrets.items() if value]
        self._automaton = ahocorasick.Automaton()
        # Bytes are matched as latin-1 text: one character per byte, so a UTF-8 form matches byte for byte.
        for name, value in secrets.items():
            if not value:
                continue
            for form in ({value} if value.isdigit() else _forms(value)):
                key = form.encode("utf-8").decode("latin-1")
                named = self._automaton.get(key, (len(key), value.isdigit(), []))
                named[2].append(name)
                self._automaton.add_word(key, named)
        if len(self._automaton):
            self._automaton.make_automaton()

    def names_in(self, data: bytes) -> list[str]:
        """The names whose values `data` holds, in the order the secrets were given."""
        if not len(self._automaton):
            return []
        text = data.decode("latin-1")
        found: set[str] = set()
        for end, (length, digits, names) in self._automaton.iter(text):
            if digits:  # an all-digit secret counts only standing alone (see the module note)
                start = end - length + 1
                if (start > 0 and text[start - 1] in _NOT_BEFORE_DIGITS) or (
                        end + 1 < len(text) and text[end + 1] in _DIGITS):
                    continue
            found.update(names)
        return [name for name in self.names if name in found]

    def names_in_file(self, path: Path) -> list[str]:
        try:
            return self.names_in(Path(path).read_bytes())
        except OSError:
            return []


def find_leaks(path: Path, secrets: Mapping[str, str] | SecretMatcher) -> list[str]:
    """Names of the env vars whose values appear in the file."""
    return _matcher(secrets).names_in_file(path)


def _matcher(secrets: Mapping[str, str] | SecretMatcher) -> SecretMatcher:
    # Callers that scan many files build their matcher once and pass it.
    return secrets if isinstance(secrets, SecretMatcher) else SecretMatcher(secrets)


def scan_tree(root: Path, secrets: Mapping[str, str] | SecretMatcher, *, remove: bool = True) -> dict[str, list[str]]:
    """{relative path: [env var names]} for every file under root holding a secret; removes them."""
    hits: dict[str, list[str]] = {}
    matcher = _matcher(secrets)
    for path in sorted(Path(root).rglob("*")):
        if path.is_file():
            names = matcher.names_in_file(path)
            if names:
                hits[str(path.relative_to(root))] = names
                if remove:
                    path.unlink()
    return hits
