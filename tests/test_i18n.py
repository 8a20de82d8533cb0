"""helpers.i18n: one catalogue per language, complete and without dead entries; notebooks localized block by block."""
import re
import subprocess
import sys

import nbformat
import pytest

from helpers import i18n, remedies
from helpers import i18n_catalogue as catalogue

HANGUL = re.compile(r"[\uac00-\ud7a3]")


@pytest.fixture(autouse=True)
def english_afterwards():
    yield
    i18n.set_language(None)


def test_every_message_in_use_has_its_korean_entry():
    # A string the user sees without Korean fails the build: `python -m helpers i18n update`, then translate it.
    missing = catalogue.check("ko")["missing"]
    assert not missing, f"{len(missing)} messages have no Korean entry, e.g. {missing[:3]}"


def test_no_korean_entry_is_unused_and_none_loses_a_placeholder():
    problems = catalogue.check("ko")
    assert not problems["unused"], f"Korean entries nothing uses any more: {problems['unused'][:5]}"
    assert not problems["placeholders"], f"placeholders differ: {problems['placeholders'][:5]}"


def test_the_catalogue_file_lists_every_message_in_use():
    # `python -m helpers i18n update` keeps it so: a new string appears in the .po (to translate) at once.
    from babel.messages.pofile import read_po
    with i18n.catalogue_path("ko").open("rb") as handle:
        listed = {m.id for m in read_po(handle, locale="ko") if m.id}
    missing = sorted(set(catalogue.all_messages()) - listed)
    assert not missing, f"run `python -m helpers i18n update`: not in the .po: {missing[:5]}"


def test_the_sources_are_found_where_they_are_written():
    messages = catalogue.all_messages()
    # a notebook heading, a remedy, an own remedy, and a string marked in Python
    assert any(m.startswith("# 05 · ") for m in messages)
    assert remedies.catalogue()[0].remedy in messages
    assert remedies.own_catalogue()[0].shell in messages
    assert "What to do: {remedy}" in messages  # helpers/explain.py
    assert all(where for where in messages.values())


def test_english_is_the_default_and_an_unknown_message_falls_back_to_english(monkeypatch):
    monkeypatch.delenv(i18n.LANGUAGE_ENV, raising=False)
    assert i18n.current_language() == "en"
    title = remedies.lookup(133005).title
    assert i18n._(title) == title
    i18n.set_language("ko")
    assert i18n._("a sentence no catalogue holds") == "a sentence no catalogue holds"
    assert HANGUL.search(remedies.lookup(133005).remedy)      # the PIN remedy in Korean
    assert remedies.lookup(133005).code == 133005           # codes stay


def test_the_language_comes_from_the_environment_and_a_wrong_one_says_what_to_use(monkeypatch):
    monkeypatch.setenv(i18n.LANGUAGE_ENV, "ko_KR")
    assert i18n.current_language() == "ko"
    monkeypatch.setenv(i18n.LANGUAGE_ENV, "klingon")
    with pytest.raises(i18n.LanguageError, match=r"PLAYBOOK_LANGUAGE: 'klingon' is not a language.*ko \(한국어\)"):
        i18n.current_language()


def test_a_notebook_is_localized_in_its_prose_only():
    path = catalogue.NOTEBOOKS_DIR / "08_register.ipynb"
    english = nbformat.read(path, as_version=4)
    korean = i18n.localize_notebook(english, "ko")
    assert korean.metadata["playbook"]["language"] == "ko"
    assert korean.cells[0].source.startswith("# 08 · 전화번호 등록")      # a translated block
    for before, after in zip(english.cells, korean.cells):
        if before.cell_type == "code":
            assert after.source == before.source and after.metadata == before.metadata
        else:   # every block is its translation, or the English one: never a key, never lost
            blocks = i18n.markdown_blocks(before.source)
            assert i18n.markdown_blocks(after.source) == [i18n.gettext(b, "ko") for b in blocks]
    assert not any(HANGUL.search(c.source) for c in english.cells)  # the file itself stays English
    assert i18n.localize_notebook(english, "en").cells[0].source == english.cells[0].source


def test_markdown_blocks_keep_code_fences_whole():
    text = "Intro line\n\n```\nfirst\n\nsecond\n```\n\nLast"
    assert i18n.markdown_blocks(text) == ["Intro line", "```\nfirst\n\nsecond\n```", "Last"]


def _explain(*args, env=None):
    return subprocess.run([sys.executable, "-m", "helpers", "explain", *args], capture_output=True, text=True,
                          timeout=60, env=env)


def test_explain_a_code_in_korean_and_in_english():
    korean = _explain("133005", "--language", "ko")
    assert korean.returncode == 0 and korean.stdout.startswith("133005: ") and HANGUL.search(korean.stdout)
    english = _explain("100/2388024")
    assert english.returncode == 0 and "Template already exists in this language" in english.stdout
    assert "no advice of its own" in _explain("100/99").stdout  # a subcode without its own remedy says so


def test_explain_refuses_what_is_not_a_code_and_says_what_to_type():
    result = _explain("hello world")
    assert result.returncode == 2 and "neither an error code nor an error kind" in result.stderr
    result = _explain("99999999")
    assert result.returncode == 2 and "not in the playbook's catalogue" in result.stderr
    assert _explain("--all").stdout.count("\n") > 2 * len(remedies.catalogue()) - 1


def test_a_wrong_language_in_the_environment_stops_the_command_line_plainly(tmp_path):
    import os
    result = subprocess.run([sys.executable, "-m", "helpers", "explain", "133005"], capture_output=True, text=True,
                            env={**os.environ, "PLAYBOOK_LANGUAGE": "klingon"}, timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "PLAYBOOK_LANGUAGE: 'klingon' is not a language of the playbook; use one of en (English), ko" in result.stderr


def test_in_language_holds_in_its_own_thread_only():
    """A batch runs customers of both languages at once in threads of one process."""
    import threading

    from helpers.i18n import current_language, in_language

    seen, inside = {}, threading.Barrier(2)

    def customer(language):
        with in_language(language):
            inside.wait(timeout=10)  # both threads are inside their blocks at once
            seen[language] = current_language()
            inside.wait(timeout=10)

    threads = [threading.Thread(target=customer, args=(code,)) for code in ("ko", "en")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert seen == {"ko": "ko", "en": "en"}
