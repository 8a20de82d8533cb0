"""`helpers run --language ko`: the playbook's words in Korean, the records as in English."""
import json
import os
import re
import subprocess
import sys

import nbformat
import pandas as pd

from helpers.runner import run_batch, summary

HANGUL = re.compile(r"[\uac00-\ud7a3]")
DEMO = ["customers/example.yaml"]


def _batch(tmp_path, name, **extra):
    result = run_batch(DEMO, out=str(tmp_path / name), sandbox=True, steps="00-01,08", progress=False, **extra)
    (customer,) = [p for p in result["batch_dir"].iterdir() if p.is_dir() and (p / "00_plan.json").exists()]
    return result, customer


def test_a_korean_batch_writes_korean_prose_and_the_same_records(tmp_path):
    korean, ko_dir = _batch(tmp_path, "ko", language="ko")
    english, en_dir = _batch(tmp_path, "en")
    assert korean["passed"] and english["passed"]
    ko_nb = nbformat.read(ko_dir / "08_register.ipynb", as_version=4)
    en_nb = nbformat.read(en_dir / "08_register.ipynb", as_version=4)
    assert ko_nb.cells[0].source.startswith("# 08 · 전화번호 등록") and ko_nb.metadata["playbook"]["language"] == "ko"
    assert not HANGUL.search(en_nb.cells[0].source) and "playbook" not in en_nb.metadata
    def code(nb):  # the notebook's own code cells (papermill's injected parameters differ by `language`)
        return [c.source for c in nb.cells if c.cell_type == "code" and "injected-parameters" not in c.metadata.get("tags", [])]
    assert code(ko_nb) == code(en_nb) and len(code(en_nb)) > 2
    for stem in ("00_plan", "01_assets", "08_register"):  # the same keys and statuses: either resumes the other
        ko_record, en_record = (json.loads((d / f"{stem}.json").read_text()) for d in (ko_dir, en_dir))
        assert set(ko_record) == set(en_record) and ko_record["status"] == en_record["status"] == "passed"
    assert json.loads((korean["batch_dir"] / "batch.json").read_text())["language"] == "ko"


def test_a_wrong_language_is_refused_before_anything_runs(tmp_path):
    result = subprocess.run([sys.executable, "-m", "helpers", "run", *DEMO, "--sandbox", "--language", "kr",
                             "--out", str(tmp_path / "runs")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "--language: 'kr' is not a language of the playbook; use one of en (English), ko (한국어)" in result.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_a_korean_batch_writes_its_summary_in_korean_and_the_csv_in_english(tmp_path):
    korean, _ko_dir = _batch(tmp_path, "ko", language="ko")
    english, _en_dir = _batch(tmp_path, "en")
    page = (korean["batch_dir"] / "summary.html").read_text(encoding="utf-8")
    assert page.startswith('<!doctype html><html lang="ko">') and "<h1>온보딩 배치 요약</h1>" in page
    assert "고객 1명 중 1명이 모든 단계를 통과했습니다" in page and ">통과<" in page
    text = summary.terminal(korean["table"])
    header = text.splitlines()[0]
    assert "고객" in header and "상태" in header and "통과" in text and HANGUL.search(header)
    # summary.csv keeps its English keys and status values: the same file in every language.
    ko_csv, en_csv = (pd.read_csv(r["batch_dir"] / "summary.csv", dtype=str, keep_default_na=False)
                      for r in (korean, english))
    assert list(ko_csv.columns) == list(en_csv.columns) and ko_csv["status"].tolist() == ["passed"]
    en_page = (english["batch_dir"] / "summary.html").read_text(encoding="utf-8")
    assert en_page.startswith("<!doctype html><meta charset='utf-8'>") and "<h1>Onboarding batch summary</h1>" in en_page
    assert not HANGUL.search(summary.terminal(english["table"]))


def test_a_korean_preflight_error_still_names_the_variable_and_the_export_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WHATSAPP_", "PLAYBOOK_"))}
    env |= {"PLAYBOOK_LOCK_DIR": str(tmp_path / "locks"), "WHATSAPP_APP_SECRET": "fake-app-secret-0001"}  # only the token is missing
    result = subprocess.run([sys.executable, "-m", "helpers", "run", *DEMO, "--steps", "01", "--language", "ko",
                             "--out", str(tmp_path / "runs")], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    (token,) = [line for line in lines if "WHATSAPP_TOKEN" in line]
    assert token.startswith("오류: example: ") and "실행 전에 export WHATSAPP_TOKEN=... 로" in token
    assert lines[-1] == "사전 점검: 문제 1개. 아무것도 시작하거나 쓰지 않았습니다."
    assert not (tmp_path / "runs").exists()
