"""Legacy-ledger import batches (台账导入), their rows and what they wrote."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import Station, User
from app.bodies.models import VerificationBody
from app.db import Base, LabeledEnum, UTCDateTime, VersionedMixin, enum_column, one_of, utcnow
from app.merchants.models import Merchant


class ImportStatus(LabeledEnum):
    """Where a batch stands."""

    PLANNING = "planning"
    PREVIEW = "preview"
    # A spreadsheet whose table was not recognised or lacks a required column: the user maps it.
    NEEDS_MAPPING = "needs_mapping"
    REJECTED = "rejected"
    APPLYING = "applying"
    APPLIED = "applied"
    FAILED = "failed"
    UNDONE = "undone"

    @classmethod
    def _labels(cls) -> dict[str, str]:
        return {"planning": "正在分析", "preview": "待确认", "needs_mapping": "待指定列对应", "rejected": "文件无法导入", "applying": "正在导入",
                "applied": "已导入", "failed": "导入失败", "undone": "已撤销"}


class BatchKind(LabeledEnum):
    """What a batch imports: a station's ledger, or a verification body's results file."""

    LEDGER = "ledger"
    RESULTS = "results"

    @classmethod
    def _labels(cls) -> dict[str, str]:
        return {"ledger": "台账", "results": "检定结果"}


class RowAction(LabeledEnum):
    """What applying a row does to one kind of record."""

    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    ERROR = "error"
    SKIP = "skip"

    @classmethod
    def _labels(cls) -> dict[str, str]:
        return {"create": "新增", "update": "更新", "unchanged": "无变化", "error": "错误", "skip": "—"}


class ImportBatch(VersionedMixin, Base):
    """One upload of a legacy ledger: the file, who, when, the mapping, the counts and the outcome."""

    __tablename__ = "import_batches"
    __table_args__ = (Index("ix_import_batches_station_id", "station_id", "id"),
                      one_of("status", ImportStatus), one_of("kind", BatchKind))
    __labels__ = {"status": "状态", "file_name": "文件名"}

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    # The supplying company of a utility-meter ledger that has no merchant column.
    merchant_id: Mapped[int | None] = mapped_column(ForeignKey("merchants.id"))
    kind: Mapped[BatchKind] = mapped_column(enum_column(BatchKind), default=BatchKind.LEDGER,
                                            server_default=BatchKind.LEDGER.value)
    # A results batch: the body that sent the file (None: each row's 检定机构 text names it, where it can).
    body_id: Mapped[int | None] = mapped_column(ForeignKey("verification_bodies.id"))
    file_name: Mapped[str] = mapped_column(String(255))
    file_hash: Mapped[str] = mapped_column(String(64), index=True)
    file_size: Mapped[int] = mapped_column(Integer)
    # Where the upload is kept (under the instance folder), so apply reads exactly what was previewed.
    stored_path: Mapped[str] = mapped_column(String(500))
    sheet_name: Mapped[str] = mapped_column(String(100), default="")
    sheet_names: Mapped[list] = mapped_column(JSON, default=list)
    # field -> column index, as used for the plan (and shown in the preview).
    mapping: Mapped[dict] = mapped_column(JSON, default=dict)
    headers: Mapped[list] = mapped_column(JSON, default=list)
    # The header's Excel row numbers as the user chose them ([group row,] header row); [] = found by the import.
    header_rows: Mapped[list] = mapped_column(JSON, default=list)
    # A catalogue code for rows without a kind: the whole file's kind, as the user chose it.
    kind_code: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[ImportStatus] = mapped_column(enum_column(ImportStatus), default=ImportStatus.PLANNING)
    message: Mapped[str] = mapped_column(Text, default="")
    progress_done: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int] = mapped_column(Integer, default=0)
    # {"rows": n, "errors": n, "merchants": {"create": n, ...}, "instruments": {...}, "verifications": {...}}
    counts: Mapped[dict] = mapped_column(JSON, default=dict)
    # Rows skipped while reading, by reason (blank, subtotal, note...); of a workbook batch: sheet -> why it is left out.
    skipped: Mapped[dict] = mapped_column(JSON, default=dict)
    # How the file was read where it left things open (the order of short dates, merged cells filled down).
    reading_notes: Mapped[list] = mapped_column(JSON, default=list)
    only_valid: Mapped[bool] = mapped_column(default=False)
    # The user's choice for kind values of this file: {value as typed: catalogue code, or "" to skip its rows}.
    kind_values: Mapped[dict] = mapped_column(JSON, default=dict)
    # Kind values the last dry run could not place with certainty: [{"value", "rows", "unknown"}].
    kind_findings: Mapped[list] = mapped_column(JSON, default=list)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    applied_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    applied_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    undone_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    undone_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # A workbook batch (one sheet per station) has no rows of its own: its children are single-sheet
    # batches, each with its station, sheet, mapping and preview, applied and undone together.
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id", ondelete="CASCADE"), index=True)
    is_workbook: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    station: Mapped[Station] = relationship(lazy="joined")
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    merchant: Mapped[Merchant | None] = relationship()
    body: Mapped[VerificationBody | None] = relationship()
    parent: Mapped[ImportBatch | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[ImportBatch]] = relationship(back_populates="parent", order_by="ImportBatch.id")

    def __str__(self) -> str:
        return f"导入批次 #{self.id} {self.file_name}"

    @property
    def is_results(self) -> bool:
        """A verification body's results file rather than a ledger."""
        return self.kind == BatchKind.RESULTS


class ImportRow(Base):
    """One data row of a batch: where it is in the file, what the plan does with it, its errors."""

    __tablename__ = "import_rows"
    __table_args__ = (UniqueConstraint("batch_id", "row_no", name="uq_import_rows_batch_row"),
                      one_of("merchant_action", RowAction), one_of("instrument_action", RowAction),
                      one_of("verification_action", RowAction))

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("import_batches.id", ondelete="CASCADE"))
    row_no: Mapped[int] = mapped_column(Integer)
    merchant_action: Mapped[RowAction] = mapped_column(enum_column(RowAction))
    instrument_action: Mapped[RowAction] = mapped_column(enum_column(RowAction))
    verification_action: Mapped[RowAction] = mapped_column(enum_column(RowAction))
    # [{"column": header, "message": text}]
    errors: Mapped[list] = mapped_column(JSON, default=list)
    # Problems that keep the row, as errors are: [{"column": header, "message": text}]
    warnings: Mapped[list] = mapped_column(JSON, default=list)
    # The cells as read, for the errors workbook.
    cells: Mapped[list] = mapped_column(JSON, default=list)
    summary: Mapped[str] = mapped_column(String(300), default="")


class ImportedRecord(Base):
    """A record a batch created or updated, with the values it replaced, so the batch can be undone."""

    __tablename__ = "imported_records"
    __table_args__ = (Index("ix_imported_records_entity", "entity_type", "entity_id"),
                      Index("ix_imported_records_batch", "batch_id", "id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("import_batches.id", ondelete="CASCADE"))
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(10))
    # For updates: the columns' values before the import; the version the import left.
    before: Mapped[dict] = mapped_column(JSON, default=dict)
    version_after: Mapped[int | None] = mapped_column(Integer)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SavedMapping(VersionedMixin, Base):
    """A header mapping saved for reuse with the next file of the same shape."""

    __tablename__ = "import_mappings"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    signature: Mapped[str] = mapped_column(String(64), unique=True)
    mapping: Mapped[dict] = mapped_column(JSON, default=dict)
    # The file's kind values mapped by the user ({value: code, or "" to skip}), reused with the mapping.
    kind_values: Mapped[dict] = mapped_column(JSON, default=dict)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
