"""Command-line groups registered on app.cli (thin wrappers over services)."""
from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from app import migrate as migrations


def _db():
    return current_app.extensions["database"]


def register_cli(app: Flask) -> None:
    """Attach the command groups to the app."""

    @app.cli.command("migrate")
    def migrate_cmd():
        """Apply every migration (alembic upgrade head)."""
        migrations.upgrade(current_app.config["DATABASE_URL"])
        click.echo("数据库已迁移到最新版本。")

    @app.cli.command("seed")
    def seed_cmd():
        """Load the catalogue seed data (idempotent)."""
        from app.catalog.services import seed_catalogue

        from app.workdays.services import seed_china_2026

        with _db().session_scope() as session:
            added = seed_catalogue(session)
            days = seed_china_2026(session)
        click.echo(f"器具种类新增 {added['instrument_types']} 项，问题代码新增 {added['finding_codes']} 项，"
                   f"器具种类别名新增 {added['aliases']} 项，工作日历新增 {days} 天。")

    @app.cli.command("setup")
    def setup_cmd():
        """Migrate, seed the catalogue and create the first admin when there is none."""
        from app.accounts.services import ensure_admin
        from app.catalog.services import seed_catalogue

        from app.workdays.services import seed_china_2026

        migrations.upgrade(current_app.config["DATABASE_URL"])
        with _db().session_scope() as session:
            seed_catalogue(session)
            seed_china_2026(session)
            user, password = ensure_admin(session)
        if user is not None:
            click.echo("=" * 60)
            click.echo("已创建首个管理员账号：")
            click.echo(f"  用户名：{user.username}")
            click.echo(f"  密码：  {password}")
            click.echo("首次登录后须先修改此密码。")
            click.echo("=" * 60)
        else:
            click.echo("数据库已就绪（已有管理员账号）。")

    users = AppGroup("users", help="Manage user accounts.")

    @users.command("create-admin")
    @click.option("--username", required=True)
    @click.option("--password", default=None, help="Omit to be prompted.")
    @click.option("--name", "display_name", default="系统管理员")
    def create_admin(username: str, password: str | None, display_name: str):
        """Create an admin account (scripted set-up); the password must be changed at first login."""
        from app.accounts.models import Role
        from app.accounts.services import create_user
        from app.errors import DomainError

        if password is None:
            password = click.prompt("密码", hide_input=True, confirmation_prompt=True)
        try:
            with _db().session_scope() as session:
                create_user(session, "命令行", username=username, display_name=display_name, role=Role.ADMIN,
                            password=password)
        except DomainError as err:
            raise click.ClickException(err.message) from err
        click.echo(f"已创建管理员 {username}，首次登录后须先修改密码。")

    app.cli.add_command(users)

    from app.demo.cli import demo_cli
    from app.imports.cli import import_cli
    from app.instruments.cli import instruments_cli
    from app.jobs.cli import jobs_cli, scheduler_cli
    from app.monthly.cli import report_cli
    from app.regions.cli import regions_cli
    from app.tasks.runtime import tasks_cli
    from app.webhooks.cli import webhooks_cli

    for group in (demo_cli, import_cli, instruments_cli, jobs_cli, regions_cli, report_cli, scheduler_cli, tasks_cli,
                  webhooks_cli):
        app.cli.add_command(group)
