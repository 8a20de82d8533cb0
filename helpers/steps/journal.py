"""The per-step write journal and the one guarded write every write step goes through.

Journal: ``{run_dir}/journal/{step}.json`` (atomic, secrets redacted like the records). For each write
key (the sandbox's ledger keys: "template_create:WABA/NAME/LANG", "message_send:PHONE>TO",
"user_assign:WABA/USER", "credit_share:WABA", "register:PHONE", ...) it holds what was attempted
(the intent, written *before* the call), its outcome ("done" with the IDs it produced, "unknown" when
the answer was lost, "failed") and a short history; and counts (e.g. register calls, with their
times, for the number's 10-per-72-hours budget). Never a secret: only IDs, kinds and error summaries.
A resumed batch copies the journals of the run it resumes (helpers.runner.customer), so a step
retried, resumed or run again reads what its earlier attempts did.

`guarded_write` is the pattern: a journal intent without an outcome (a killed run) or a lost answer
(NetworkError, MessageMayHaveBeenSentError) makes it read the state back: what exists is adopted,
else the write is made once more (or, for a message, the step stops and says so). An error that says
"it exists already" (a template's 100/2388024) is read back and adopted too. Also here: 10's read-back
(a message's statuses in the webhook store since the intent) and 08's register budget.
"""
from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

import pandas as pd

from ..errors import GraphAPIError, MessageMayHaveBeenSentError, NetworkError, PlaybookError
from ..i18n import _
from .. import records

if TYPE_CHECKING:  # the step module imports nothing from here
    from .step import Step

JOURNAL_DIR = records.JOURNAL_DIR
DONE, UNKNOWN, FAILED = "done", "unknown", "failed"
HISTORY_KEPT = 20  # events kept per key: enough to read what happened, bounded for a step run many times
REGISTER_CALLS = "register_calls"
REGISTER_BUDGET = 10             # register (and deregister) calls Meta allows per number ...
REGISTER_WINDOW_S = 72 * 3600.0  # ... in 72 hours (docs/meta-facts.md)


def _now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _reason(exc: BaseException) -> str:
    """A short, secret-free summary of a failure: the kind and Graph's code, or the first line."""
    if isinstance(exc, GraphAPIError):
        return f"GraphAPIError code {exc.code}" + (f"/{exc.subcode}" if exc.subcode else "")
    return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}".rstrip(": ")


class WriteJournal:
    """What a step's writes did, kept in `path` (None: in memory only, for a step without run_dir)."""

    def __init__(self, path: Path | None, step: str, secrets: Callable[[], Iterable[str]] = tuple) -> None:
        self.path = path
        self._secrets = secrets
        self.data: dict[str, Any] = {"step": step, "writes": {}, "counts": {}, "call_times": {}}

    @classmethod
    def load(cls, path: Path | None, step: str, secrets: Callable[[], Iterable[str]] = tuple) -> "WriteJournal":
        journal = cls(path, step, secrets)
        if path is not None and path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                data = None  # unreadable: start afresh rather than fail the step (the state read decides)
            if isinstance(data, dict):
                for key in ("writes", "counts", "call_times"):
                    if isinstance(data.get(key), dict):
                        journal.data[key] = data[key]
        return journal

    def entry(self, key: str) -> dict[str, Any] | None:
        return self.data["writes"].get(key)

    def _event(self, key: str, event: str, **detail: Any) -> dict[str, Any]:
        entry = self.data["writes"].setdefault(key, {"attempts": 0, "outcome": None, "ids": {}, "history": []})
        entry["history"] = (entry.get("history") or [])[-(HISTORY_KEPT - 1):] + [
            {"at": _now_iso(), "event": event, **detail}]
        return entry

    def intent(self, key: str, what: str, **details: Any) -> None:
        """Before the call: what is about to be written (saved at once, so a killed run leaves it)."""
        entry = self._event(key, "intent")
        entry.update(what=what, outcome=None, intent_at=_now_iso(), intent_epoch=time.time(),
                     attempts=int(entry.get("attempts") or 0) + 1, details=dict(details))
        self.save()

    def done(self, key: str, ids: Mapping[str, Any], *, adopted: bool = False) -> None:
        entry = self._event(key, "adopted" if adopted else "done", **({"ids": dict(ids)} if ids else {}))
        entry.update(outcome=DONE, ids=dict(ids), adopted=adopted, error=None)
        self.save()

    def unknown(self, key: str, exc: BaseException) -> None:
        entry = self._event(key, "unknown", reason=_reason(exc))
        entry.update(outcome=UNKNOWN, error=_reason(exc))
        self.save()

    def failed(self, key: str, reason: str | BaseException) -> None:
        text = reason if isinstance(reason, str) else _reason(reason)
        entry = self._event(key, "failed", reason=text)
        entry.update(outcome=FAILED, error=text)
        self.save()

    def count(self, name: str) -> int:
        """Count one more call of `name` (its time kept for budgets); returns the total."""
        counts = self.data["counts"]
        counts[name] = int(counts.get(name) or 0) + 1
        self.data["call_times"].setdefault(name, []).append(time.time())
        self.save()
        return counts[name]

    def calls_within(self, name: str, seconds: float) -> int:
        since = time.time() - seconds
        return sum(1 for t in self.data["call_times"].get(name) or [] if isinstance(t, (int, float)) and t >= since)

    def save(self) -> None:
        if self.path is not None:
            records.write(self.path, self.data, list(self._secrets()))


def journal_path(step: "Step") -> Path | None:
    run_dir = step.params.get("run_dir")
    return Path(run_dir) / JOURNAL_DIR / f"{step.name}.json" if run_dir else None


def journal_for(step: "Step") -> WriteJournal:
    """The step's journal, read afresh from run_dir (what an earlier run or attempt wrote), else kept on the step."""
    path = journal_path(step)
    if path is None:
        if getattr(step, "_journal", None) is None:
            step._journal = WriteJournal(None, step.name)  # type: ignore[attr-defined]
        return step._journal  # type: ignore[attr-defined]
    return WriteJournal.load(path, step.name, step.secret_values)


@dataclass
class WriteOutcome:
    """What a guarded write ended with: the value (the write's answer, or what was read back) and how."""
    key: str
    value: Any
    adopted: bool = False        # found in place: no answer of ours produced it in this call
    from_journal: bool = False   # taken from the journal's "done" entry without a call
    attempts: int = 0            # write calls made here
    notes: list[str] = field(default_factory=list)


class WriteOutcomeUnknown(MessageMayHaveBeenSentError):
    """A write whose outcome stays unknown after reading the state back; not repeated. Says what to check."""

    kind = "MessageMayHaveBeenSentError"

    def __init__(self, message: str, remedy: str) -> None:
        PlaybookError.__init__(self, message)
        self.path = None
        self._remedy = remedy

    def remedy_for(self, where: str = "shell") -> str:
        return self._remedy


class RegisterBudgetSpent(PlaybookError):
    """The number's register calls in the last 72 hours reached Meta's limit: the step does not spend more."""

    def __init__(self, message: str, remedy: str) -> None:
        super().__init__(message)
        self._remedy = remedy

    def remedy_for(self, where: str = "shell") -> str:
        return self._remedy


def fail(step: "Step", exc: PlaybookError, label: str, title: str) -> PlaybookError:
    """Record `exc` as the step's failure with its own title and remedy; returns it for `raise`."""
    step.record_failure(exc, label, error={"type": exc.kind, "title": title, "message": str(exc),
                                  "remedy": exc.remedy_for(step.where)})
    return exc


def _kept(value: Any, keep: Iterable[str]) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        return {}
    return {k: value[k] for k in keep if value.get(k) is not None}


def guarded_write(step: "Step", key: str, what: str, *, write: Callable[[], Any],
                  read_back: Callable[[], Any | None], keep: Iterable[str] = ("id",),
                  adopt_error: Callable[[GraphAPIError], bool] | None = None, rewrite: bool = True,
                  trust_done: bool = False, unknown: Callable[[dict[str, Any]], BaseException] | None = None,
                  before_write: Callable[[WriteJournal], None] | None = None,
                  details: Mapping[str, Any] | None = None, resend_after_silence: bool = False,
                  retry_throttled: bool = False) -> WriteOutcome:
    """Make one write at most once in effect, whatever was lost before.

    `write()` makes the call and returns its answer; `read_back()` returns what the write would have
    produced when it is in place (a template, the assigned user, ...), else None. `keep` names the keys
    of the value the journal records. `adopt_error(exc)`: a Graph error that means "it exists" (read it
    back). `rewrite=False` (a message): after an unknown outcome with nothing read back, never write
    again: raise `unknown(entry)`. `trust_done`: a "done" journal entry is the outcome (its IDs), no call.
    `before_write(journal)` runs before each call (a budget check, a count).
    `resend_after_silence` (a message): when `read_back()` found nothing after its grace, the unknown write
    is taken as not made and made once more, at most WRITE_ATTEMPTS in all, across runs.
    Then a transient Graph error (answered before the write; nothing read back) is written once more too.
    A budgeted write (register) never is: its retry is the resume's, so the budget is spent by people;
    only with `retry_throttled`, a call refused as rate-limited (never processed) is made once more.
    """
    journal = journal_for(step)
    keep = tuple(keep)
    entry = journal.entry(key)
    outcome = WriteOutcome(key, None)
    if entry is not None and entry.get("outcome") == DONE and trust_done and entry.get("ids"):
        outcome.value, outcome.adopted, outcome.from_journal = dict(entry["ids"]), True, True
        return _noted(step, outcome, "journal")
    if entry is not None and entry.get("outcome") in (None, UNKNOWN):
        # An earlier attempt's answer was lost (or its run was killed mid-call): what exists decides.
        found = read_back()
        if found is not None:
            journal.done(key, _kept(found, keep), adopted=True)
            outcome.value, outcome.adopted = found, True
            return _noted(step, outcome, "adopted after an earlier unknown outcome")
        if not rewrite and not (resend_after_silence and int(entry.get("attempts") or 0) < WRITE_ATTEMPTS):
            raise (unknown(entry) if unknown else NetworkError(
                _("{what}: an earlier attempt's outcome is unknown").format(what=_(what))))
        if not rewrite:
            outcome.notes.append("an earlier attempt's outcome was unknown and nothing of it arrived: written once more")
    while True:
        if before_write is not None:
            before_write(journal)
        journal.intent(key, what, **dict(details or {}))
        outcome.attempts += 1
        try:
            answer = write()
        except (NetworkError, MessageMayHaveBeenSentError) as exc:
            journal.unknown(key, exc)
            found = read_back()
            if found is not None:
                journal.done(key, _kept(found, keep), adopted=True)
                outcome.value, outcome.adopted = found, True
                return _noted(step, outcome, "adopted after an unknown outcome")
            if rewrite and outcome.attempts < 2:
                outcome.notes.append(f"not in place after {_reason(exc)}: written once more")
                continue
            if not rewrite and resend_after_silence and _attempts(journal, key) < WRITE_ATTEMPTS:
                outcome.notes.append(f"nothing arrived after {_reason(exc)}: written once more")
                continue
            if not rewrite and unknown is not None:
                raise unknown(journal.entry(key) or {}) from None
            raise
        except GraphAPIError as exc:
            # "Exists already" is adopted; a transient error may have been applied before it was answered.
            if (adopt_error is not None and adopt_error(exc)) or exc.retryable:
                found = read_back()
                if found is not None:
                    journal.done(key, _kept(found, keep), adopted=True)
                    outcome.value, outcome.adopted = found, True
                    return _noted(step, outcome, f"adopted after {_reason(exc)}")
                if retry_throttled and exc.code in THROTTLE_CODES and outcome.attempts < WRITE_ATTEMPTS:
                    # Refused as rate-limited before Meta processed it; the journal still counts both calls.
                    journal.failed(key, exc)
                    outcome.notes.append(f"{_reason(exc)}: refused unprocessed, made once more")
                    time.sleep(TRANSIENT_PAUSE_S)
                    continue
                if exc.retryable and resend_after_silence and _attempts(journal, key) < WRITE_ATTEMPTS:
                    # Answered before the write (Meta's transient errors are): once more, counted like any call.
                    journal.failed(key, exc)
                    outcome.notes.append(f"{_reason(exc)}, nothing in place: written once more")
                    time.sleep(TRANSIENT_PAUSE_S)
                    continue
            journal.failed(key, exc)
            raise
        journal.done(key, _kept(answer, keep))
        outcome.value = answer
        return _noted(step, outcome, "written")


WRITE_ATTEMPTS = 2         # calls one guarded write may make in all, retries and resumes included
TRANSIENT_PAUSE_S = 1.0    # before writing again after a transient error (Meta's Retry-After is about a second)
THROTTLE_CODES = frozenset({4, 17, 80007, 130429})  # rate limits: the call was refused, not processed


def _attempts(journal: WriteJournal, key: str) -> int:
    return int((journal.entry(key) or {}).get("attempts") or 0)


def _noted(step: "Step", outcome: WriteOutcome, how: str) -> WriteOutcome:
    """The write's outcome in the step's facts (the batch summary and the bench read them)."""
    step.record["facts"].setdefault("writes", {})[outcome.key] = {
        "how": how, "adopted": outcome.adopted, "attempts": outcome.attempts, **({"notes": outcome.notes}
                                                                                if outcome.notes else {})}
    return outcome


def register_budget(phone_id: str, *, budget: int = REGISTER_BUDGET) -> Callable[[WriteJournal], None]:
    """A `before_write` for register: refuse past the number's budget, else count the call."""
    def check(journal: WriteJournal) -> None:
        spent = journal.calls_within(register_count_name(phone_id), REGISTER_WINDOW_S)
        if spent >= budget:
            raise RegisterBudgetSpent(
                _("number {phone_number_id}: {spent} register calls in the last 72 hours are in this step's journal; "
                  "Meta allows {budget} per number in 72 hours, so no more are spent.").format(
                    phone_number_id=phone_id, spent=spent, budget=budget),
                _("Wait until the oldest register call in the journal is 72 hours old (the register_calls times in "
                  "journal/08_register.json), check the number's status and PIN first, then run again."))
        journal.count(register_count_name(phone_id))
    return check


def register_count_name(phone_id: str) -> str:
    return f"{REGISTER_CALLS}:{phone_id}"  # per number: the budget is the number's


# ---- 10's read-back: the webhook store ------------------------------------------------------------------
SEND_LOOKUP_SLACK_S = 2.0  # statuses stamped just before the intent (clock skew) still count
# How long a send whose answer was lost waits for a status of its own before it is taken as not sent: Meta
# posts `sent` within seconds of accepting a message, so silence this long means it was not accepted.
SEND_STATUS_GRACE_S = 20.0


def message_sent_since(step: "Step", store, key: str, phone_id: str, consumer: str) -> dict[str, Any] | None:
    """The message to `consumer` from `phone_id` whose statuses reached the store since the journal's intent
    (waiting up to SEND_STATUS_GRACE_S, or wait_seconds if shorter, for one), as {"wamid", "kind"}; None when none came."""
    entry = journal_for(step).entry(key) or {}
    since = float(entry.get("intent_epoch") or time.time()) - SEND_LOOKUP_SLACK_S
    recipient = _digits(consumer)
    deadline = time.monotonic() + min(float(step.params["wait_seconds"]), SEND_STATUS_GRACE_S)
    while True:
        frame = store.statuses()
        if not frame.empty:
            received = pd.to_datetime(frame["received_at"], utc=True)
            mine = frame[(frame["phone_number_id"].astype(str) == str(phone_id))
                         & (frame["recipient_id"].map(_digits) == recipient)
                         & (received >= pd.Timestamp(since, unit="s", tz="UTC"))]
            if not mine.empty:
                return {"wamid": str(mine["message_id"].iloc[0]), "kind": (entry.get("details") or {}).get("kind")}
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.2)


def send_outcome_unknown(step: "Step", store, phone_id: str, consumer: str) -> WriteOutcomeUnknown:
    wait = min(float(step.params["wait_seconds"]), SEND_STATUS_GRACE_S)
    exc = WriteOutcomeUnknown(
        _("the test message from {phone_number_id} to {consumer} may have been sent: its answer was lost, and no "
          "status of a message to {consumer} reached the webhook store ({store}) within {seconds} s, {attempts} "
          "times. It was not sent again, so the consumer never gets more than two.").format(
            phone_number_id=phone_id, consumer=consumer, store=store.path, seconds=f"{wait:g}",
            attempts=WRITE_ATTEMPTS),
        _("Look at the consumer's phone ({consumer}): if the test message arrived, run again (the step then "
          "follows it once its statuses reach the store); if not, check 04_webhooks and 05_subscribe_waba, delete "
          "journal/{step}.json in the run folder (the journal that says a send may have happened) and run "
          "again.").format(consumer=consumer, step=step.name))
    return fail(step, exc, "send the test message", _("Send outcome unknown"))  # type: ignore[return-value]


def _digits(value: Any) -> str:
    return "".join(ch for ch in str(value or "") if ch.isdigit())
