"""Label sheet layouts for printing QR labels on A4 (no Flask)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LabelSize:
    """One label stock: label size in mm, grid on the A4 sheet and the sheet's margins."""

    key: str
    name: str
    width: float
    height: float
    cols: int
    rows: int
    top: float
    left: float

    @property
    def per_sheet(self) -> int:
        return self.cols * self.rows

    @property
    def qr(self) -> float:
        """The QR code's side in mm: the label's height less a little padding."""
        return round(min(self.height - 4, self.width * 0.45), 1)


# Common self-adhesive A4 label stocks (210 x 297 mm).
LABEL_SIZES = {s.key: s for s in (
    LabelSize("70x37", "70 × 37 mm（3 列 × 8 行，每页 24 张）", 70, 37, 3, 8, 0.5, 0),
    LabelSize("52x30", "52.5 × 29.7 mm（4 列 × 10 行，每页 40 张）", 52.5, 29.7, 4, 10, 0, 0),
    LabelSize("38x21", "38 × 21 mm（5 列 × 13 行，每页 65 张）", 38, 21, 5, 13, 12, 10),
)}
DEFAULT_SIZE = "70x37"


def sheets(items: list, size: LabelSize) -> list[list]:
    """The items split into A4 sheets of the size's grid."""
    return [items[i:i + size.per_sheet] for i in range(0, len(items), size.per_sheet)] or [[]]
