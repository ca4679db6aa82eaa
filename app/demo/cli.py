"""The `flask demo` commands: fill a database with the demo county."""
from __future__ import annotations

import time

import click
from flask.cli import AppGroup
from sqlalchemy import func, select

demo_cli = AppGroup("demo", help="Demo dataset.")

DEMO_PASSWORDS = {"admin": "admin-demo-1", "supervisor": "supervisor-demo-1", "inspector": "inspector-demo-1"}
COUNTY_ADMIN_PASSWORD = "county-admin-demo-1"
# The demo's region tree: two counties of one city, all fictional ("3312" is not a prefecture code in use).
DEMO_CITY = ("331200", "丽州市")
DEMO_COUNTIES = (("331221", "青溪县"), ("331222", "云岭县"))


@demo_cli.command("load")
@click.option("--merchants", default=300, show_default=True, type=click.IntRange(min=1), help="How many merchants.")
@click.option("--instruments", default=3000, show_default=True, type=click.IntRange(min=1),
              help="How many instruments.")
@click.option("--stations", default=4, show_default=True, type=click.IntRange(1, 20), help="How many stations.")
@click.option("--seed", default=None, type=int, help="Random seed (same seed, same data).")
@click.option("--reset", is_flag=True, help="Wipe every data table first (all users, merchants, instruments, log).")
def load(merchants: int, instruments: int, stations: int, seed: int | None, reset: bool) -> None:
    """Migrate the database and fill it with a demo county: stations, users, merchants, instruments."""
    from flask import current_app

    from app import migrate as migrations
    from app.catalog.services import seed_catalogue
    from app.clock import today
    from app.demo.generator import DEFAULT_SEED, Generator, wipe_data
    from app.merchants.models import Merchant

    url = current_app.config["DATABASE_URL"]
    database = current_app.extensions["database"]
    started = time.perf_counter()
    migrations.upgrade(url)
    with database.session_scope() as session:
        has_data = session.execute(select(func.count()).select_from(Merchant)).scalar_one() > 0
        if has_data and not reset:
            raise click.ClickException("数据库中已有使用单位数据，未生成演示数据。"
                                       "如确需重建演示数据，请加 --reset（将清空全部业务数据）。")
        if reset:
            wipe_data(session)
        seed_catalogue(session)
        gen = Generator(session, seed=DEFAULT_SEED if seed is None else seed, today=today())
        city, counties = _add_regions(session)
        station_infos = gen.add_stations(stations, [(c.id, c.code) for c in counties])
        logins = _create_users(session, gen, station_infos, city, counties[0])
        merchant_infos = gen.add_merchants(merchants, station_infos)
        gen.add_instruments(instruments, merchant_infos)
        counts = gen.finish()
        counts["pledges"] = _add_pledges(session, DEFAULT_SEED if seed is None else seed, today(),
                                         current_app.config["INTEGRITY_STORAGE"])

        from app.demo.inspections import add_demo_inspections

        counts.update(add_demo_inspections(session, today(), DEFAULT_SEED if seed is None else seed))

        from app.demo.complaints import add_demo_complaints

        counts.update(add_demo_complaints(session, today()))

        from app.demo.cases import add_demo_cases

        counts.update(add_demo_cases(session, today()))

        from app.demo.markets import add_demo_markets
        from app.demo.outreach import add_demo_outreach

        counts.update(add_demo_markets(session, today()))

        counts.update(add_demo_outreach(session, today(), DEFAULT_SEED if seed is None else seed,
                                        current_app.config["EVIDENCE_STORAGE"]))

        # Fill the alert centre at once rather than at the scheduler's next sweep.
        from app.alerts.jobs import due_date_sweep
        from app.db import utcnow

        alerts = due_date_sweep(session=session, now=utcnow(), config=current_app.config)
        # The per-station counts of the navigation and dashboard, rather than live counts until 00:05.
        from app.counts.jobs import recount_stations

        recount_stations(session=session, now=utcnow(), config=current_app.config)
    elapsed = time.perf_counter() - started
    click.echo("=" * 64)
    click.echo(f"演示数据已生成（用时 {elapsed:.1f} 秒）：监管所 {counts['stations']} 个，"
               f"使用单位 {counts['merchants']} 家，计量器具 {counts['instruments']} 台，"
               f"检定记录 {counts['verifications']} 条，专项检查记录 {counts['inspections']} 条，"
               f"诚信计量承诺 {counts['pledges']} 份，投诉举报 {counts['complaints']} 件，计量惠民活动 {counts['activities']} 次，"
               f"科普宣传服务微站 {counts['micro_stations']} 个，预警 {alerts['created']} 条。")
    click.echo(f"数据库：{database.engine.url.render_as_string(hide_password=True)}")
    click.echo("演示账号（仅供演示，切勿用于正式环境）：")
    for role, username, password, where in logins:
        # Labels are 3 or 4 full-width characters: pad with a full-width space to line up.
        click.echo(f"  {role:\u3000<4}  用户名 {username:<12} 密码 {password:<20} {where}")
    click.echo("=" * 64)


def _add_pledges(session, seed: int, today, storage_dir: str) -> int:
    """About a third of the merchants pledged, some demonstration units, a few revoked, and targets (no documents)."""
    import datetime as dt
    import random

    from app.integrity import services as integrity
    from app.merchants.models import Merchant
    from app.scope import Scope

    rng = random.Random(seed + 6)
    merchants = session.scalars(select(Merchant).order_by(Merchant.id)).all()
    chosen = [m for m in merchants if rng.random() < 0.35]
    for m in chosen:
        signed = today - dt.timedelta(days=rng.randint(10, 900))
        review = signed + dt.timedelta(days=rng.choice([365, 730, 1095]))
        p = integrity.create_pledge(session, "演示数据", Scope.everything(), m,
                                    {"signed_on": signed, "review_on": review, "scope_text": "本单位全部在用计量器具"},
                                    None, storage_dir=storage_dir, max_bytes=0, today=today)
        roll = rng.random()
        if roll < 0.06:
            integrity.revoke_pledge(session, "演示数据", p, expected_version=p.version, reason="监督检查发现计量器具未按期检定",
                                    finding_id=None, on=min(today, signed + dt.timedelta(days=200)))
        elif roll < 0.2 and p.effective_status(today).value == "active":
            integrity.set_model_unit(session, "演示数据", p, expected_version=p.version, mark=True,
                                     on=min(today, signed + dt.timedelta(days=90)), decision="县局诚信计量示范单位认定",
                                     today=today)
    integrity.set_targets(session, "演示数据", {("pledges", None): max(1, len(merchants) // 2),
                                                ("model_units", None): max(1, len(merchants) // 15)})
    return len(chosen)


def _add_regions(session):
    """The city and its two counties (kept when they exist: a reload does not rename what an admin renamed)."""
    from app.regions.models import RegionLevel
    from app.regions.queries import region_by_code
    from app.regions.services import create_region

    def region(code: str, name: str, level: RegionLevel, parent=None):
        found = region_by_code(session, code)
        return found or create_region(session, "演示数据", code=code, name=name, level=level,
                                      parent_id=parent.id if parent is not None else None)

    city = region(*DEMO_CITY, RegionLevel.CITY)
    return city, [region(code, name, RegionLevel.COUNTY, city) for code, name in DEMO_COUNTIES]


def _create_users(session, gen, stations, city, county) -> list[tuple[str, str, str, str]]:
    """Admin of the installation, a supervisor of the city, an admin of the first county, and one or two
    inspectors per station (the first works in two stations)."""
    from app.accounts.models import Role, User
    from app.accounts.services import create_user

    wanted = [("admin", "演示管理员", Role.ADMIN, []),
              ("supervisor", "市局计量处处长（演示）", Role.SUPERVISOR, []),
              ("county_admin", f"{county.name}局管理员（演示）", Role.ADMIN, [])]
    regions = {"supervisor": city, "county_admin": county}
    for i, station in enumerate(stations):
        own = [station]
        if i == 0 and len(stations) > 1:
            own.append(stations[1])  # one inspector covers a neighbouring station too
        wanted.append((f"inspector{i + 1}", gen.person(), Role.INSPECTOR, own))
    # The busiest station (the town centre) gets a second inspector.
    wanted.append((f"inspector{len(stations) + 1}", gen.person(), Role.INSPECTOR, [stations[0]]))

    logins = []
    for username, display_name, role, own in wanted:
        password = COUNTY_ADMIN_PASSWORD if username == "county_admin" else DEMO_PASSWORDS[role.value]
        existing = session.execute(select(User).where(func.lower(User.username) == username)).scalar_one_or_none()
        if existing is not None:
            # Never overwrite a real account's password from a demo command.
            logins.append((role.label, username, "（账号已存在，密码未改）", ""))
            continue
        # Demo logins are printed for everyone to try, so no change is forced at login.
        region = regions.get(username)
        user = create_user(session, "演示数据", username=username, display_name=display_name, role=role,
                           password=password, station_ids=[s.id for s in own], must_change_password=False,
                           region_id=region.id if region is not None else None)
        for station in own:
            gen.users_by_station.setdefault(station.id, []).append(user.id)
        where = "、".join(s.name for s in own) if own else (f"{region.name}全部监管所" if region else "整个系统")
        logins.append((role.label, username, password, where))
    return logins
