"""What each role may do, said once (app/accounts/models.py), and the view idiom of app/web.py: load in the
user's scope or 404, commit once, roll back and show a refused change."""
from __future__ import annotations

import pytest
from flask import get_flashed_messages
from flask import session as http_session
from flask_login import current_user, login_user
from sqlalchemy import select

from app.accounts.forms import StationForm
from app.accounts.models import ROLE_CAPABILITIES, Capabilities, Capability, Role, Station
from app.errors import Invalid, NotFound
from app.extensions import login_manager
from app.merchants.services import get_merchant
from app.security import AnonymousUser
from app.web import in_scope, unit_of_work

# DESIGN.md, "Who uses it, and for what": (role, capabilities it holds).
EXPECTED = {
    Role.ADMIN: {"can_view_records", "sees_every_station", "can_edit_ledger", "can_run_campaigns", "can_administer",
                 "can_administer_installation"},
    Role.SUPERVISOR: {"can_view_records", "sees_every_station", "can_run_campaigns"},
    Role.INSPECTOR: {"can_view_records", "can_edit_ledger"},
}
PROPERTIES = ("can_view_records", "sees_every_station", "can_edit_ledger", "can_run_campaigns", "can_administer",
              "can_administer_installation")


def test_every_role_has_its_capabilities_written_down():
    """A new role without an entry in ROLE_CAPABILITIES fails here, not silently in a guard or a template."""
    assert set(ROLE_CAPABILITIES) == set(Role)


def test_every_capability_has_a_property():
    assert {f"can_{c.value}" for c in Capability} - {"can_see_every_station"} | {"sees_every_station"} \
        == set(PROPERTIES)


def test_a_region_withholds_what_the_whole_installation_shares(world):
    """An admin of a county administers its users, stations and settings, not the shared regions and catalogue."""
    held = {name for name in PROPERTIES if getattr(world.county_admin_a, name)}
    assert held == EXPECTED[Role.ADMIN] - {"can_administer_installation"}
    assert {name for name in PROPERTIES if getattr(world.city_supervisor, name)} == EXPECTED[Role.SUPERVISOR]


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_each_role_holds_what_the_design_says(world, role):
    user = {Role.ADMIN: world.admin, Role.SUPERVISOR: world.supervisor, Role.INSPECTOR: world.inspector_a}[role]
    held = {name for name in PROPERTIES if getattr(user, name)}
    assert held == EXPECTED[role]


def test_may_edit_station_follows_capability_and_scope(world):
    a, b = world.station_a.id, world.station_b.id
    assert world.inspector_a.may_edit_station(a) and not world.inspector_a.may_edit_station(b)
    assert world.inspector_b.may_edit_station(b) and not world.inspector_b.may_edit_station(a)
    assert world.admin.may_edit_station(a) and world.admin.may_edit_station(b)
    # Supervisors see every station but change no ledger.
    assert not world.supervisor.may_edit_station(a) and not world.supervisor.may_edit_station(b)


def test_the_anonymous_visitor_may_nothing(app):
    assert login_manager.anonymous_user is AnonymousUser
    with app.test_request_context("/"):
        assert current_user.is_anonymous
        assert not any(getattr(current_user, name) for name in PROPERTIES)
        assert not any(current_user.can(c) for c in Capability)
        assert not current_user.may_edit_station(1)


def test_users_and_the_anonymous_visitor_answer_the_same_questions():
    """Both take their capability questions from one class, so a template never meets a missing one."""
    from app.accounts.models import User

    assert issubclass(User, Capabilities) and issubclass(AnonymousUser, Capabilities)


# --- the view idiom ------------------------------------------------------------------------------------

def _stations(app) -> set[str]:
    with app.extensions["database"].session_factory() as fresh:
        return set(fresh.scalars(select(Station.code)))


def test_in_scope_gives_the_record_inside_the_users_stations_and_404_outside(app, world):
    with app.test_request_context("/"):
        login_user(world.inspector_a)
        assert in_scope(get_merchant, world.merchant_a.id).id == world.merchant_a.id
        with pytest.raises(NotFound) as refused:
            in_scope(get_merchant, world.merchant_b.id)
        assert refused.value.status_code == 404


# Another session must not see the change before the block ends: only real transactions show that.
@pytest.mark.commits
def test_unit_of_work_commits_once_the_block_ends(app, world):
    with app.test_request_context("/"):
        with unit_of_work() as uow:
            uow.session.add(Station(name="新站", code="NEW"))
            uow.session.flush()
            assert "NEW" not in _stations(app)  # nothing committed inside the block
        assert uow.ok and uow.error is None
    assert "NEW" in _stations(app)


def test_a_refused_change_is_rolled_back_and_shown_on_its_field(app, world):
    with app.test_request_context("/", method="POST", data={"name": "新站", "code": "NEW"}):
        form = StationForm(meta={"csrf": False})
        with unit_of_work(form) as uow:
            uow.session.add(Station(name="新站", code="NEW"))
            uow.session.flush()
            raise Invalid("编码已被使用", field="code")
        assert not uow.ok and uow.error.message == "编码已被使用"
        assert "编码已被使用" in form.code.errors
        assert get_flashed_messages() == []
    assert "NEW" not in _stations(app)


def test_a_refused_change_without_a_form_is_flashed(app, world):
    with app.test_request_context("/", method="POST"):
        with unit_of_work() as uow:
            raise Invalid("抽查结果已公示")
        assert not uow.ok
        assert get_flashed_messages(with_categories=True) == [("danger", "抽查结果已公示")]
        response = uow.redirect(None, "/draws/1")
        # No second message: reading the flashes took them out of the cookie session, and None adds none.
        assert response.status_code == 302 and "_flashes" not in http_session


def test_other_errors_are_not_swallowed(app, world):
    with app.test_request_context("/"):
        with pytest.raises(ZeroDivisionError):
            with unit_of_work() as uow:
                uow.session.add(Station(name="新站", code="NEW"))
                uow.session.flush()
                1 / 0
        uow.session.rollback()
    assert "NEW" not in _stations(app)


def test_redirect_flashes_what_was_done(app):
    with app.test_request_context("/", method="POST"):
        with unit_of_work() as uow:
            pass
        response = uow.redirect("已保存。", "/merchants/1")
        assert response.status_code == 302 and response.headers["Location"] == "/merchants/1"
        assert get_flashed_messages(with_categories=True) == [("success", "已保存。")]
