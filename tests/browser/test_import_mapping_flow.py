"""A household water-meter ledger the import does not recognise, mapped by hand in a real browser
(CSRF on): upload with the water company, the mapping page with the file's first rows, header row,
fields and kind chosen, the preview, the apply; no script errors or CSP violations on the way. At desktop width
and on a phone (390x844), where the mapping page must not be wider than the screen."""
from __future__ import annotations

import io
import re

import openpyxl
import pytest
from playwright.sync_api import expect

from app.accounts.models import Role
from tests import factories
from tests.browser.conftest import sqlite_only
from tests.browser.test_csp import VIEWPORTS

runs_on_postgresql = sqlite_only

STATION = "城东市场监管所"
COMPANY = "城东水务公司"


def household_xlsx() -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "户表"
    ws.append(["城东水务公司户表台账"])
    ws.append(["户号", "用户地址", "表身号", "口径", "首次检定日期", "到期轮换日期", "供水单位"])
    ws.append(["0100231", "和平路3号", "SB-1", "DN15", "2024-03-15", "2030-03-14", COMPANY])
    ws.append(["0100232", "和平路5号", "SB-2", "DN15", "2024-03-15", "2030-03-14", COMPANY])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=list(VIEWPORTS))
def test_a_household_ledger_is_mapped_by_hand_and_imported(live_app, page, problems, viewport):
    page.set_viewport_size(VIEWPORTS[viewport])
    with live_app.extensions["database"].session_scope() as session:
        st = factories.station(session, "CD", STATION)
        factories.user(session, "insp_cd", Role.INSPECTOR, [st])
        factories.merchant(session, st, COMPANY, industry="utility")

    page.goto("/login")
    page.get_by_label("用户名").fill("insp_cd")
    page.get_by_label("密码").fill(factories.PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.locator(".navbar-text")).to_contain_text("insp_cd")

    page.goto("/imports/new")
    page.get_by_label("供水/供电/供气企业").select_option(label=f"{COMPANY}（{STATION}）")
    page.locator("input[type=file]").set_input_files(
        files=[{"name": "户表台账.xlsx", "mimeType": "application/octet-stream", "buffer": household_xlsx()}])
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(re.compile(r"/imports/\d+$"))

    expect(page.locator("#batch-message")).to_contain_text("需要指定列对应")
    grid = page.locator("#sheet-grid")
    expect(grid).to_contain_text("表身号")
    expect(grid.locator("thead")).to_contain_text("G")
    expect(page.get_by_label("表头所在行")).to_have_value("2")  # the likeliest header row is offered
    # The first rows scroll inside their own box; the page itself is no wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORTS[viewport]["width"] + 1

    form = page.locator("#choices-form")
    for field, column in (("出厂编号", "C列 表身号"), ("安装位置", "A列 户号"), ("安装地址", "B列 用户地址"),
                          ("检定日期", "E列 首次检定日期"), ("有效期至", "F列 到期轮换日期")):
        form.get_by_label(field, exact=True).select_option(label=column)
    page.get_by_label("器具种类（整个文件）").select_option(label="水表（DN≤25）")
    page.locator("#choices-submit").click()
    page.wait_for_url(re.compile(r"/imports/\d+$"))

    expect(page.locator("#batch-kind")).to_contain_text("水表（DN≤25）")
    expect(page.locator("#counts-instruments")).to_contain_text("2")
    expect(page.locator("#error-count")).to_have_text("0")
    page.locator("#apply-submit").click()
    page.wait_for_url(re.compile(r"/imports/\d+$"))
    expect(page.locator("#batch-status")).to_contain_text("已导入")
    problems.assert_clean()
