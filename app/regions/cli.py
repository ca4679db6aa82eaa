"""`flask regions load FILE` and `flask regions list`: the region tree from a table, and printed."""
from __future__ import annotations

import re
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from app.errors import DomainError
from importers.errors import ImportFileError
from importers.reader import open_book

regions_cli = AppGroup("regions", help="Region tree (行政区划).")

_CODE = re.compile(r"[0-9]{6}(\.0)?")


def _columns(header: list) -> tuple[int, int, int | None] | None:
    """Column positions of code, name and parent code named by a header row, or None when it is not one."""
    names = [str(h or "").strip().lower() for h in header]
    parent = next((i for i, h in enumerate(names) if "上级" in h or "parent" in h), None)
    code = next((i for i, h in enumerate(names) if i != parent and ("代码" in h or h in ("code", "编码"))), None)
    name = next((i for i, h in enumerate(names) if i not in (parent, code) and ("名称" in h or h == "name")), None)
    return (code, name, parent) if code is not None and name is not None else None


def read_rows(path: Path) -> tuple[list[tuple[object, object, object]], int]:
    """(code, name, parent code) rows of the first sheet of a CSV or spreadsheet (a header row is optional),
    with the line number of the first of them."""
    with open_book(path) as book:
        sheets = book.visible_sheet_names
        if not sheets:
            raise ImportFileError("文件中没有可读的工作表")
        rows = [list(r) for r in book.sheet(sheets[0]).rows()]
    if not rows:
        return [], 1
    columns, first_line = (0, 1, 2), 1
    if not _CODE.fullmatch(str(rows[0][0] if rows[0] else "").strip()):
        found = _columns(rows[0])
        if found is None:
            raise ImportFileError("第1行既不是区划数据也不是表头：请用“行政区划代码、名称、上级代码”三列")
        columns, rows, first_line = found, rows[1:], 2

    def cell(row: list, i: int | None) -> object:
        return row[i] if i is not None and i < len(row) else ""

    return [tuple(cell(r, i) for i in columns) for r in rows], first_line


@regions_cli.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def load(file: Path) -> None:
    """Add or rename regions from a CSV or xlsx file: code, name, optional parent code."""
    from app.regions.services import load_regions

    try:
        rows, first_line = read_rows(file)
        with current_app.extensions["database"].session_scope() as session:
            counts = load_regions(session, "命令行导入", rows, first_line)
    except (DomainError, ImportFileError) as error:
        raise click.ClickException(f"{error}；未做任何修改。") from None
    click.echo(f"行政区划已导入：新增 {counts['created']} 个，改名 {counts['renamed']} 个，"
               f"调整上级 {counts['moved']} 个。")


@regions_cli.command("list")
def list_regions() -> None:
    """Print the tree with each county's station count."""
    from app.regions.queries import station_count_by_county, tree_rows

    with current_app.extensions["database"].session_scope() as session:
        counts = station_count_by_county(session)
        rows = tree_rows(session)
        if not rows:
            click.echo("还没有行政区划。")
        for region, depth in rows:
            stations = f"  监管所 {counts.get(region.id, 0)} 个" if region.level.value == "county" else ""
            click.echo(f"{'  ' * depth}{region.code} {region.name}  [{region.level.label}]{stations}")
