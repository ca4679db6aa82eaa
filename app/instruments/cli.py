"""`flask instruments duplicates`: the instruments that are one instrument, listed for a person to resolve."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from app.instruments import services

instruments_cli = AppGroup("instruments", help="Instrument ledger checks.")


@instruments_cli.command("duplicates")
def duplicates() -> None:
    """List instruments registered more than once (same kind, serial and maker); merges nothing."""
    database = current_app.extensions["database"]
    with database.session_scope() as session:
        groups = services.duplicate_groups(session)
        for group in groups:
            first = group[0]
            click.echo(f"{first.type.name_zh} 出厂编号 {first.serial_no}（{len(group)} 条记录）")
            for inst in group:
                mark = "  ← 迁移时发现的重复记录" if inst.is_held_copy else ""
                click.echo(f"  #{inst.id} 出厂编号 {inst.serial_no}　制造单位 {inst.maker or '（未填写）'}"
                           f"　使用单位 {inst.merchant.name}　{inst.station.name if inst.station else ''}"
                           f"　{inst.status.label}　/instruments/{inst.id}{mark}")
        copies = sum(len(g) - 1 for g in groups)
        if groups:
            click.echo(f"共 {len(groups)} 组、{copies} 条多余记录，请人工核对后合并；本命令不修改任何数据。")
        else:
            click.echo("没有重复登记的计量器具。")
