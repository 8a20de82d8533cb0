"""What a GraphClient sent, as entries a person can read and paste: no secret value ever kept.

Each entry (one HTTP attempt) holds method, path (with the IDs), query (secrets replaced), HTTP
status, milliseconds, fbtrace_id, the Graph error code when there was one, and `curl`: the same
request as a command line where every secret is a `$VARIABLE` reference. Values are matched to
the environment variables the client was told hold secrets (`GraphClient.secret_envs`); a
sensitive field whose value matches none of them still shows as a reference (`$PIN`), never as
its value. The entry is built when the call returns, so the raw request is never stored.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import urllib.parse
from typing import Any, Iterable, Mapping

# Fields whose values are secrets (or single-use codes) wherever they appear: body, form or query.
SENSITIVE_KEYS = frozenset({"access_token", "appsecret_proof", "input_token", "client_secret", "pin", "password",
                            "verify_token", "code"})
# How an unmatched sensitive field is referenced (a variable the reader sets themselves).
_FALLBACK_NAMES = {"access_token": "ACCESS_TOKEN", "appsecret_proof": "APPSECRET_PROOF", "input_token": "INPUT_TOKEN",
                   "client_secret": "APP_SECRET", "pin": "PIN", "password": "BACKUP_PASSWORD",
                   "verify_token": "VERIFY_TOKEN", "code": "CODE"}
_MIN_SECRET = 4
# A reference inside text while the command is built (private-use characters, which JSON keeps as
# they are); turned into $NAME when quoted for the shell.
_OPEN, _CLOSE = "\ue000", "\ue001"
_REF = _OPEN + "{}" + _CLOSE
_REF_PATTERN = re.compile(_OPEN + "([A-Za-z_][A-Za-z0-9_]*)" + _CLOSE)
_REF_SPLIT = re.compile("(" + _OPEN + "[A-Za-z_][A-Za-z0-9_]*" + _CLOSE + ")")  # keeps each reference whole

# The fields of an entry: helpers.records.GRAPH_CALL_FIELDS (the record schema), plus "seq".


def known_secrets(env_names: Iterable[str], environ: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """(value, name) for the named variables that are set, longest value first (a longer secret wins)."""
    environ = os.environ if environ is None else environ
    pairs = {(environ.get(n, "").strip(), n) for n in env_names if len(environ.get(n, "").strip()) >= _MIN_SECRET}
    return sorted(pairs, key=lambda pair: -len(pair[0]))


def _refer(text: str, secrets: list[tuple[str, str]]) -> str:
    """`text` with every known secret value replaced by a reference to its variable."""
    for value, name in secrets:
        if value not in text:
            continue
        if value.isdigit():  # a PIN's digits inside a longer number (an ID) are not the PIN
            text = re.sub(r"(?<![0-9.])" + value + r"(?![0-9])", _REF.format(name), text)
        else:
            text = text.replace(value, _REF.format(name))
    return text


def _field(key: str, value: Any, secrets: list[tuple[str, str]]) -> Any:
    """A body/query value made safe: known secrets referenced; a sensitive field never kept as is."""
    if isinstance(value, Mapping):
        return {k: _field(str(k), v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_field(key, v, secrets) for v in value]
    if not isinstance(value, str):
        if key.lower() in SENSITIVE_KEYS and value is not None:
            return _REF.format(_FALLBACK_NAMES[key.lower()])
        return value
    text = _refer(value, secrets)
    if key.lower() in SENSITIVE_KEYS and text and not _REF_PATTERN.search(text):
        return _REF.format(_FALLBACK_NAMES[key.lower()])
    return text


def _shown(text: str) -> str:
    """A reference as the reader sees it in the table: $NAME."""
    return _REF_PATTERN.sub(lambda m: "$" + m.group(1), text)


def _quote(text: str) -> str:
    """Shell-quote `text`; with references, double quotes so that $NAME expands (and nothing else does)."""
    if not _REF_PATTERN.search(text):
        return shlex.quote(text)
    out = []
    for piece in _REF_SPLIT.split(text):
        match = _REF_PATTERN.fullmatch(piece)
        if match:
            out.append("${" + match.group(1) + "}")
        else:
            out.append(re.sub(r'([\\"$`])', r"\\\1", piece))
    text = '"' + "".join(out) + '"'
    # ${NAME} only where a letter follows; $NAME reads better (and is what the docs show).
    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}(?![A-Za-z0-9_])", r"$\1", text)


def _encode(text: str) -> str:
    """URL-encode text, leaving references whole (the shell fills them in)."""
    return "".join(piece if _REF_PATTERN.fullmatch(piece) else urllib.parse.quote_plus(piece, safe=",")
                   for piece in _REF_SPLIT.split(text) if piece)


def _query_string(query: Mapping[str, Any]) -> str:
    pairs = []
    for key, value in query.items():
        for item in value if isinstance(value, list) else [value]:
            pairs.append(f"{_encode(str(key))}={_encode(str(item))}")
    return "&".join(pairs)


def entry(*, method: str, wire_method: str, url: str, path: str, params: Mapping[str, Any] | None,
          json_body: Any, data: Mapping[str, Any] | None, bearer: str | None, token_env: str,
          secret_envs: Iterable[str], status: int | None, ms: float, fbtrace_id: str | None,
          error_code: Any = None, error: str | None = None) -> dict[str, Any]:
    """One call as a log entry (see the module note); the arguments' secrets are not kept."""
    secrets = known_secrets({token_env, *secret_envs})
    query = {k: _field(k, v, secrets) for k, v in (params or {}).items()}
    parts = ["curl", "-sS", "-X", wire_method]
    if bearer is not None:
        header = _refer(bearer, secrets)
        if not _REF_PATTERN.search(header):  # a token from no known variable: still never its value
            header = _REF.format("ACCESS_TOKEN")
        parts += ["-H", _quote(f"Authorization: Bearer {header}")]
    target = url + ("?" + _query_string(query) if query else "")
    if json_body is not None:
        body = json.dumps(_field("", json_body, secrets), ensure_ascii=False)
        parts += ["-H", _quote("Content-Type: application/json"), "-d", _quote(body)]
    for key, value in (data or {}).items():
        parts += ["--data-urlencode", _quote(f"{key}={_field(key, '' if value is None else str(value), secrets)}")]
    parts.append(_quote(target))
    record: dict[str, Any] = {
        "method": method, "path": path,
        "query": {k: _shown(v) if isinstance(v, str) else v for k, v in query.items()},
        "status": status, "ms": int(round(ms)), "fbtrace_id": fbtrace_id, "error_code": error_code,
        "curl": " ".join(parts),
    }
    if error:
        record["error"] = error
    return record
