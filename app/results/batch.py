"""A body's results file as an import batch: the import pipeline's parse (header recognition, mapping, sandbox)
feeds `ResultMatcher` instead of the ledger planner; preview, all-or-nothing apply and undo stay the pipeline's.

`ResultsPlanner` has the ledger Planner's interface (`plan_part`, `finish`), so app/imports plans and re-plans a
results batch the same way; its plan writes through `ResultMatcher.write`.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.bodies.models import VerificationBody
from app.results.services import (MAX_ROWS, OUTCOME_LABELS, QUEUED, RECORDED, REFUSED, UNCHANGED, ResultMatcher,
                                  ResultRow, _Decision, describe, tally)
from importers.parsed import ParsedSheet, RowError
from importers.plan import CREATE, ERROR, SKIP, RowPlan

# outcome -> (merchant, instrument, verification) actions, as the preview rows keep them
_ACTIONS = {RECORDED: (SKIP, "unchanged", CREATE), UNCHANGED: (SKIP, "unchanged", "unchanged"),
            QUEUED: (SKIP, SKIP, SKIP), REFUSED: (ERROR, ERROR, ERROR)}


@dataclass
class ResultsPlan:
    """A results batch's plan: a RowPlan per row for the preview, and the decisions to write."""

    sheet: str
    rows: list[RowPlan]
    decisions: list[_Decision]
    matcher: ResultMatcher

    def counts(self) -> dict:
        """Rows, refused rows (the batch's errors), warnings and each outcome's count."""
        return {"rows": len(self.rows), "errors": sum(1 for r in self.rows if r.errors),
                "warnings": sum(1 for r in self.rows if r.warnings),
                "results": tally([d.outcome for d in self.decisions])}

    def apply(self, session: Session, *, actor_id: int | None, now: dt.datetime) -> dict:
        """Record the rows that are not refused (refused rows are the batch's errors); the outcome counts."""
        self.matcher.write([d for d in self.decisions if d.outcome.outcome != REFUSED], actor_id=actor_id, now=now)
        return self.counts()["results"]


def describe_applied(counts: dict) -> str:
    """The audit note of an applied results batch."""
    return "导入检定结果：" + describe(counts)


class ResultsPlanner:
    """Plans a results file a part at a time, as importers.plan.Planner plans a ledger."""

    def __init__(self, session: Session, *, station_id: int, today: dt.date, body: VerificationBody | None,
                 batch_id: int, file_name: str) -> None:
        self.matcher = ResultMatcher(session, body=body, station_id=station_id, today=today,
                                     received_from=f"导入批次 #{batch_id} {file_name}", batch_id=batch_id)
        self.sheet = ""
        self._rows: list[RowPlan] = []
        self._decisions: list[_Decision] = []

    def plan_part(self, parsed: ParsedSheet, *, consume: bool = False) -> list[RowPlan]:
        """Decide the next rows of the file; their RowPlans (final once returned)."""
        self.sheet = parsed.sheet
        start = len(self._rows)
        for i in range(0, len(parsed.rows), MAX_ROWS):
            part = parsed.rows[i:i + MAX_ROWS]
            results = [_result(r) for r in part]
            if consume:
                for r in part:
                    r.values = {}
            for r, d in zip(part, self.matcher.match(results), strict=True):
                self._rows.append(_row_plan(parsed.sheet, r, d))
                self._decisions.append(d)
        return self._rows[start:]

    def finish(self) -> ResultsPlan:
        """The plan of every row planned so far."""
        return ResultsPlan(self.sheet, self._rows, self._decisions, self.matcher)


def _result(r) -> ResultRow:
    v = r.values
    notes = v.get("fail_reason") or v.get("notes") or ""
    return ResultRow(kind=v.get("kind", ""), serial_no=v.get("serial_no", ""), verified_on=v.get("verified_on"),
                     result=v.get("result", "pass"), maker=v.get("maker", ""), model=v.get("model", ""),
                     certificate_no=v.get("certificate_no", ""), valid_until=v.get("valid_until"),
                     submitter=v.get("merchant_name", ""), fail_reason=notes, institution=v.get("institution", ""),
                     row=r.row, errors=tuple(e.message for e in r.errors))


def _row_plan(sheet: str, r, d: _Decision) -> RowPlan:
    o = d.outcome
    merchant, instrument, verification = _ACTIONS[o.outcome]
    errors = list(r.errors) or ([RowError(sheet, r.row, "", None, o.reason)] if o.outcome == REFUSED else [])
    warnings = list(r.warnings) + [RowError(sheet, r.row, "", None, w) for w in o.warnings]
    summary = OUTCOME_LABELS[o.outcome] + (f"：{o.reason}" if o.reason and o.outcome != REFUSED else "")
    return RowPlan(row=r.row, cells=r.cells, merchant_action=merchant, instrument_action=instrument,
                   verification_action=verification, errors=errors, warnings=warnings, summary=summary[:300])
