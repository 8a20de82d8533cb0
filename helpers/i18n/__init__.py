"""The playbook's words in the reader's language: English by default, Korean from one catalogue.

English is written in the code and the notebooks as they are (a notebook reads naturally as a
file); each other language has one gettext catalogue, `helpers/locale/<lang>/LC_MESSAGES/playbook.po`,
read with Babel (the standard format translators' tools open, with plural and fuzzy handling we
do not have to write). A string without a translation is shown in English, never as a key.

What is not translated, on purpose: error codes, Meta's own error texts, API field names and enum
values, IDs, and the records' keys (an English and a Korean batch write the same records).

`_()` translates at the moment it is called, in the current language; `N_()` marks a string
defined at import time (a table of labels) so extraction finds it, and it is translated where
it is shown. The language comes from `set_language()`, else PLAYBOOK_LANGUAGE, else English.
"""
from __future__ import annotations

import copy
import contextvars
import os
import re
import unicodedata
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Iterator

LANGUAGE_ENV = "PLAYBOOK_LANGUAGE"
DEFAULT_LANGUAGE = "en"
LANGUAGES = {"en": "English", "ko": "한국어"}
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "playbook"

_chosen: str | None = None
# in_language's choice, per thread (and per asyncio task): a batch runs customers of different
# languages at once in threads of one process. Unset, the process-wide choice above holds.
_block_language: contextvars.ContextVar[str | None] = contextvars.ContextVar("playbook_language", default=None)


class LanguageError(ValueError):
    """A language the playbook has no catalogue for; says which ones it has."""


def check_language(value: Any, where: str = LANGUAGE_ENV) -> str:
    """The language code `value` names (en, ko), or LanguageError saying what to use instead."""
    code = str(value or "").strip().lower().replace("_", "-")
    code = {"ko-kr": "ko", "en-us": "en", "en-gb": "en"}.get(code, code)
    if code not in LANGUAGES:
        choices = ", ".join(f"{c} ({name})" for c, name in LANGUAGES.items())
        raise LanguageError(f"{where}: {value!r} is not a language of the playbook; use one of {choices}.")
    return code


def set_language(language: str | None) -> None:
    """Use `language` in this process from now on (None: back to PLAYBOOK_LANGUAGE)."""
    global _chosen
    _chosen = None if language is None else check_language(language, "language")
    _block_language.set(None)  # the choice made now wins over an enclosing in_language of this thread


@contextmanager
def in_language(language: str | None) -> Iterator[None]:
    """`language` as the current language inside the block (in this thread only), the one chosen before
    restored afterwards; None (or empty) leaves the current one as it is."""
    if not language:
        yield
        return
    token = _block_language.set(check_language(language, "language"))
    try:
        yield
    finally:
        _block_language.reset(token)


def current_language() -> str:
    block = _block_language.get()
    if block is not None:
        return block
    if _chosen is not None:
        return _chosen
    value = os.environ.get(LANGUAGE_ENV, "")
    return check_language(value) if value.strip() else DEFAULT_LANGUAGE


def catalogue_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@lru_cache(maxsize=None)
def translations(language: str) -> dict[str, str]:
    """msgid -> translation for `language` (empty for English); untranslated and fuzzy entries left out."""
    if language == DEFAULT_LANGUAGE:
        return {}
    from babel.messages.pofile import read_po

    if not catalogue_path(language).exists():
        return {}
    with catalogue_path(language).open("rb") as handle:
        catalog = read_po(handle, locale=language, domain=DOMAIN)
    return {m.id: m.string for m in catalog if m.id and isinstance(m.id, str) and m.string and not m.fuzzy}


def gettext(message: str, language: str | None = None) -> str:
    """`message` in `language` (default: the current one); English when there is no translation."""
    if not message:
        return message
    language = current_language() if language is None else language
    return translations(language).get(message, message) if language != DEFAULT_LANGUAGE else message


_ = gettext


def N_(message: str) -> str:
    """Marks `message` for the catalogue; it is translated where it is shown, with `_()`."""
    return message


OR = N_("{first} or {second}")
AND = N_("{first} and {second}")


def joined(items: Iterable[str], pattern: str = OR) -> str:
    """Items joined two by two with `pattern` (OR, AND), in the current language: 'a' or 'b' or 'c'."""
    result: str | None = None
    for item in items:
        result = item if result is None else _(pattern).format(first=result, second=item)
    return result or ""


def display_width(text: str) -> int:
    """Columns `text` takes in a terminal: Hangul and other wide characters take two."""
    return sum(2 if unicodedata.east_asian_width(char) in ("W", "F") else 1 for char in text)


# --- notebooks: their prose block by block ---------------------------------------------------------

_FENCE = re.compile(r"^(```|~~~)")


def markdown_blocks(text: str) -> list[str]:
    """A markdown cell's blocks (paragraphs, lists, headings, tables), split at blank lines outside code
    fences: each is one catalogue entry, so a changed paragraph leaves the others translated."""
    blocks, current, fenced = [], [], False
    for line in text.split("\n"):
        if _FENCE.match(line.strip()):
            fenced = not fenced
        if not line.strip() and not fenced:
            if current:
                blocks.append("\n".join(current))
                current = []
            continue
        current.append(line)
    if current:
        blocks.append("\n".join(current))
    return blocks


def translate_markdown(text: str, language: str | None = None) -> str:
    return "\n\n".join(gettext(block, language) for block in markdown_blocks(text))


def notebook_messages(notebook: Any) -> Iterable[str]:
    """The catalogue entries a notebook's prose makes (its markdown cells' blocks)."""
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            yield from markdown_blocks(_source(cell))


def localize_notebook(notebook: Any, language: str | None = None) -> Any:
    """A copy of `notebook` with its markdown cells in `language`; code cells and metadata unchanged,
    but for `metadata.playbook.language`, which says what the copy was written in."""
    language = current_language() if language is None else language
    localized = copy.deepcopy(notebook)
    for cell in localized.cells:
        if cell.cell_type == "markdown":
            cell.source = translate_markdown(_source(cell), language)
    localized.metadata.setdefault("playbook", {})["language"] = language
    return localized


def _source(cell: Any) -> str:
    return "".join(cell.source) if isinstance(cell.source, list) else cell.source
