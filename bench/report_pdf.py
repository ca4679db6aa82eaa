"""Render a monthly report as the printer would: .xlsx -> PDF with LibreOffice (headless), optionally the first
pages as PNG images, so the page set-up, borders, widths and charts can be checked by eye.

    .venv/bin/python bench/report_pdf.py 月报.xlsx                        # an archived or downloaded workbook
    .venv/bin/python bench/report_pdf.py --month 2026-11 [--station CODE] [--url URL]   # build it first
    .venv/bin/python bench/report_pdf.py 月报.xlsx --png 3 --dpi 60       # also page-1.png ... page-3.png

LibreOffice and poppler's pdftoppm are tools for checking, not dependencies of the application:
`apt-get install -y libreoffice-calc-nogui poppler-utils` (plus fonts-noto-cjk for the Chinese glyphs).
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def build(url: str, month_text: str, station_code: str | None, out: Path) -> Path:
    """Build one month's report workbook (all stations, or one) into `out`."""
    from sqlalchemy import select

    from app.accounts.models import Station
    from app.db import Database
    from app.monthly.services import report_sections
    from reports.monthly import Month, build_monthly_report

    month = Month.parse(month_text)
    with Database(url).session_scope() as session:
        station_id = None
        if station_code:
            station_id = session.scalar(select(Station.id).where(Station.code == station_code.upper()))
            if station_id is None:
                raise SystemExit(f"监管所编码 {station_code} 不存在")
        path = out / f"计量监管月报_{month}_{station_code or '全部监管所'}.xlsx"
        build_monthly_report(session, month, str(path), station_id, sections=report_sections())
    return path


def to_pdf(workbook: Path, out: Path) -> Path:
    """Convert with LibreOffice headless (its own throw-away profile, so a running LibreOffice does not interfere)."""
    office = shutil.which("libreoffice") or shutil.which("soffice")
    if office is None:
        raise SystemExit("找不到 LibreOffice：apt-get install -y libreoffice-calc-nogui")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([office, f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", "pdf",
                        "--outdir", str(out), str(workbook)], check=True, capture_output=True, timeout=600)
    pdf = out / (workbook.stem + ".pdf")
    if not pdf.exists():
        raise SystemExit(f"LibreOffice 没有生成 {pdf}")
    return pdf


def to_png(pdf: Path, pages: int, dpi: int, out: Path) -> list[Path]:
    """The first pages as PNG images (pdftoppm), named page-1.png, page-2.png ..."""
    if shutil.which("pdftoppm") is None:
        raise SystemExit("找不到 pdftoppm：apt-get install -y poppler-utils")
    prefix = out / "page"
    subprocess.run(["pdftoppm", "-png", "-r", str(dpi), "-f", "1", "-l", str(pages), str(pdf), str(prefix)],
                   check=True)
    images = []
    for made in sorted(out.glob("page-*.png")):
        number = int(made.stem.split("-")[-1])   # pdftoppm pads the number to the page count's width
        target = out / f"page-{number}.png"
        made.rename(target)
        images.append(target)
    return images


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("workbook", nargs="?", type=Path, help="an existing report .xlsx (else --month builds one)")
    p.add_argument("--month", help="年-月, e.g. 2026-11: build that month's report first")
    p.add_argument("--station", default=None, help="监管所编码 (default: all stations)")
    p.add_argument("--url", default=os.environ.get("DATABASE_URL", f"sqlite:///{ROOT / 'instance' / 'demo.db'}"))
    p.add_argument("-o", "--outdir", type=Path, default=Path("report-pdf"))
    p.add_argument("--png", type=int, default=0, help="also render the first N pages as PNG")
    p.add_argument("--dpi", type=int, default=60)
    args = p.parse_args()
    args.outdir.mkdir(parents=True, exist_ok=True)
    if args.workbook is None and not args.month:
        p.error("give a workbook or --month")
    workbook = args.workbook or build(args.url, args.month, args.station, args.outdir)
    pdf = to_pdf(workbook, args.outdir)
    pages = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout if shutil.which("pdfinfo") else ""
    count = next((line.split()[-1] for line in pages.splitlines() if line.startswith("Pages:")), "?")
    print(f"{pdf} ({count} 页)")
    for image in to_png(pdf, args.png, args.dpi, args.outdir) if args.png else []:
        print(image)


if __name__ == "__main__":
    main()
