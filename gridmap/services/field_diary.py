"""Worker logs (民情日志, D-12): one entry per worker per day; leaders read, review and comment (A-5).

Rules, each with its own clear error:

* a worker writes only their own log (403 ``not_your_diary``) and only today's, in the tracking time
  zone (400 ``wrong_day``: a log written days later is not a day's log); rewriting today's entry
  replaces it (version + 1) until a leader has reviewed it (409 ``diary_reviewed``);
* linked visits must be the worker's own and linked incidents must exist in their grids;
* a worker reads only their own logs; a leader (command role) reads, reviews and comments on the logs
  of the workers in their area; out of area answers the same 404 as a missing log.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import pandas as pd

from gridmap import audit, schema
from gridmap.auth.principal import Principal
from gridmap.config import Settings
from gridmap.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from gridmap.field.coverage import in_month
from gridmap.field.inputs import NOTE_MAX_CHARS, DiaryInput, day_text, diary_input, text
from gridmap.model import Role
from gridmap.services.field import FieldWorker, require_leader, utc_now, worker_of
from gridmap.store.base import Store, StoreTransaction
from gridmap.tracking.batch import local_day, tracking_zone


def diary_id(worker_id: str, day: str) -> str:
    """The key of a worker's log of a day (readable in the audit log)."""
    return f"{worker_id}/{day}"


def _record(row: Mapping[Any, Any]) -> dict[str, Any]:
    return {str(k): v for k, v in row.items()}


class DiaryService:
    def __init__(self, store: Store, settings: Settings, *, clock: Callable[[], datetime] = utc_now) -> None:
        self.store = store
        self.settings = settings
        self._clock = clock

    def today(self) -> str:
        return local_day(self._clock(), tracking_zone(self.settings))

    def write(self, principal: Principal, worker_id: str, day: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Write (or rewrite) the caller's own log of today; returns the stored row."""
        me = worker_of(self.store, principal)
        if worker_id != me.worker_id:
            raise PermissionDeniedError(f"you ({me.worker_id}) may write only your own log, not {worker_id}'s",
                                        code="not_your_diary")
        today = self.today()
        if day_text(day, name="day") != today:
            raise ValidationError(f"a log is written on its own day: today is {today}, not {day}", code="wrong_day")
        data = diary_input(fields)
        key = diary_id(me.worker_id, today)
        now = pd.Timestamp(self._clock())
        with self.store.transaction() as tx:
            self._check_links(tx, me, data)
            old = tx.read(schema.DIARIES, where={"diary_id": key})
            values = {"text": data.text, "tags": data.tags, "visit_ids": data.visit_ids,
                      "incident_ids": data.incident_ids, "updated_at": now}
            if old.empty:
                tx.insert(schema.DIARIES, pd.DataFrame([{**values, "diary_id": key, "worker_id": me.worker_id,
                                                         "day": today, "grid_code": me.grid_code,
                                                         "created_at": now, "version": 1}]))
            else:
                if isinstance(old["reviewed_by"].iloc[0], str):
                    raise ConflictError(f"log {key} was reviewed by {old['reviewed_by'].iloc[0]}; it can no longer "
                                        "be changed", code="diary_reviewed")
                version = int(old["version"].iloc[0])
                if tx.update(schema.DIARIES, {"diary_id": key, "version": version},
                             {**values, "version": version + 1}) != 1:
                    raise ConflictError(f"log {key} was changed meanwhile; reload it", code="stale_version")
            audit.record(tx, "field.diary.write", actor=principal.name, target=key,
                         detail={"chars": len(data.text), "tags": data.tags})
        return self.get(principal, me.worker_id, today)

    @staticmethod
    def _check_links(tx: StoreTransaction, me: FieldWorker, data: DiaryInput) -> None:
        if data.visit_ids:
            rows = tx.read(schema.HOME_VISITS, where={"visit_id": data.visit_ids}, columns=["visit_id", "worker_id"])
            mine = set(rows.loc[rows["worker_id"] == me.worker_id, "visit_id"])
            bad = [v for v in data.visit_ids if v not in mine]
            if bad:
                raise ValidationError(f"visit(s) {', '.join(bad[:5])} are not your visits", code="bad_link")
        if data.incident_ids:
            rows = tx.read(schema.INCIDENTS, where={"incident_id": data.incident_ids},
                           columns=["incident_id", "grid_code"])
            mine = set(rows.loc[rows["grid_code"].isin(me.grids), "incident_id"])
            bad = [i for i in data.incident_ids if i not in mine]
            if bad:
                raise ValidationError(f"incident(s) {', '.join(bad[:5])} are not in your grid", code="bad_link")

    def _row(self, principal: Principal, worker_id: str, day: str) -> dict[str, Any]:
        """The log if the caller may read it (own, or a leader's area), else 403 (worker) / 404."""
        key = diary_id(worker_id, day_text(day, name="day"))
        if principal.role is Role.WORKER:
            me = worker_of(self.store, principal)
            if worker_id != me.worker_id:
                raise PermissionDeniedError(f"you ({me.worker_id}) may read only your own log", code="not_your_diary")
        rows = self.store.read(schema.DIARIES, where={"diary_id": key})
        if principal.role is not Role.WORKER:
            require_leader(principal, None if rows.empty else str(rows["grid_code"].iloc[0]), what=f"log {key}")
        if rows.empty:
            raise NotFoundError(f"log {key} not found")
        return _record(rows.iloc[0].to_dict())

    def get(self, principal: Principal, worker_id: str, day: str) -> dict[str, Any]:
        """One log with its comments (oldest first)."""
        row = self._row(principal, worker_id, day)
        comments = self.store.read(schema.DIARY_COMMENTS, where={"diary_id": row["diary_id"]})
        row["comments"] = [_record(c) for c in comments.sort_values("at").to_dict("records")]
        return row

    def list(self, principal: Principal, *, worker_id: str | None = None, month: str | None = None
             ) -> list[dict[str, Any]]:
        """Logs the caller may read (a worker: own; a leader: the area's), newest first, with comment counts."""
        if principal.role is Role.WORKER:
            me = worker_of(self.store, principal)
            if worker_id not in (None, me.worker_id):
                raise PermissionDeniedError(f"you ({me.worker_id}) may read only your own log", code="not_your_diary")
            rows = self.store.read(schema.DIARIES, where={"worker_id": me.worker_id})
        else:
            require_leader(principal, principal.area_code, what="logs")
            rows = self.store.read(schema.DIARIES, where={"worker_id": worker_id} if worker_id else None)
            rows = rows.loc[rows["grid_code"].astype(str).str.startswith(principal.area_code).to_numpy(dtype=bool)]
        if month:
            rows = in_month(rows, month)
        counts = self.store.read(schema.DIARY_COMMENTS, columns=["diary_id"])["diary_id"].value_counts()
        out = [_record(r) for r in rows.sort_values(["day", "worker_id"], ascending=[False, True]).to_dict("records")]
        for r in out:
            r["comment_count"] = int(counts.get(r["diary_id"], 0))
        return out

    def review(self, principal: Principal, worker_id: str, day: str) -> dict[str, Any]:
        """A leader marks the log reviewed (审阅); reviewing twice keeps the first reviewer."""
        row = self._leader_row(principal, worker_id, day)
        if not isinstance(row.get("reviewed_by"), str):
            with self.store.transaction() as tx:
                tx.update(schema.DIARIES, {"diary_id": row["diary_id"], "version": row["version"]},
                          {"reviewed_by": principal.name, "reviewed_at": pd.Timestamp(self._clock()),
                           "version": int(row["version"]) + 1})
                audit.record(tx, "field.diary.review", actor=principal.name, target=row["diary_id"])
        return self.get(principal, worker_id, day)

    def comment(self, principal: Principal, worker_id: str, day: str, body: Any) -> dict[str, Any]:
        """A leader's comment (点评) on a log; returns the log with its comments."""
        row = self._leader_row(principal, worker_id, day)
        note = text(body, name="comment", max_chars=NOTE_MAX_CHARS, required=True)
        with self.store.transaction() as tx:
            tx.insert(schema.DIARY_COMMENTS, pd.DataFrame([{
                "comment_id": str(uuid.uuid4()), "diary_id": row["diary_id"], "author": principal.name,
                "at": pd.Timestamp(self._clock()), "text": note}]))
            audit.record(tx, "field.diary.comment", actor=principal.name, target=row["diary_id"])
        return self.get(principal, worker_id, day)

    def _leader_row(self, principal: Principal, worker_id: str, day: str) -> dict[str, Any]:
        if principal.role is Role.WORKER:
            raise PermissionDeniedError("workers do not review logs; community and street leaders do",
                                        code="not_a_leader")
        return self._row(principal, worker_id, day)
