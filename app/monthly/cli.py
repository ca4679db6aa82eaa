"""`flask report monthly --month 2026-10 [--station CODE] -o FILE`."""
from __future__ import annotations

import os
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from app.accounts.models import Station
from app.monthly.services import report_sections
from reports.monthly import Month, build_monthly_report

report_cli = AppGroup("report", help="Build reports.")


@report_cli.command("monthly")
@click.option("--month", "month_text", required=True, help="年-月，例如 2026-10")
@click.option("--station", "station_code", default=None, help="监管所编码（默认全部监管所）")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
def monthly(month_text: str, station_code: str | None, output: Path) -> None:
    """Write one month's report workbook to a file (the archive is not changed)."""
    try:
        month = Month.parse(month_text)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--month") from None
    with current_app.extensions["database"].session_scope() as session:
        station_id = None
        if station_code:
            station_id = session.scalar(select(Station.id).where(Station.code == station_code.upper()))
            if station_id is None:
                raise click.ClickException(f"监管所编码 {station_code} 不存在")
        # Written beside the output and renamed when whole: a failed write leaves no partial workbook.
        part = output.with_name(f".{output.name}.part")
        try:
            figures = build_monthly_report(session, month, str(part), station_id, sections=report_sections())
            os.replace(part, output)
        except OSError as err:
            part.unlink(missing_ok=True)
            raise click.ClickException(f"写入 {output} 失败（{err.strerror or err}），未保留任何部分文件；"
                                       "请检查目录和磁盘空间。") from None
        except BaseException:
            part.unlink(missing_ok=True)
            raise
    total = figures.total()
    click.echo(f"已生成 {month.label}月报（{figures.scope_name}）：{output}；在册 {total.registered}，"
               f"本月检定 {total.verified} 台，月末超期 {total.overdue}。")
