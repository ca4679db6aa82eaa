"""The audit log page: one table with its header once, every entry a row, kinds and actions in Chinese."""
from __future__ import annotations

from tests import factories
from tests.conftest import login


def test_the_audit_log_shows_its_header_once(client, session, world):
    for n in range(3):
        factories.merchant(session, world.station_a, f"甲市场摊位{n + 10}")
    session.commit()
    login(client, "admin1")
    html = client.get("/admin/audit/").get_data(as_text=True)
    assert html.count("<thead>") == 1 and html.count("<th>操作人</th>") == 1
    table = html.split('id="audit-log"', 1)[1].split("</table>", 1)[0]
    assert table.count("<tr>") >= 1 + 3 + 4  # the header, the three merchants, the world's records
    assert "甲市场摊位12" in table and ">使用单位<" in table and ">新建<" in table


def test_dates_in_the_audit_log_do_not_wrap(client, world):
    login(client, "admin1")
    html = client.get("/admin/audit/").get_data(as_text=True)
    row = html.split('id="audit-log"', 1)[1].split("<tbody>", 1)[1].split("</tr>", 1)[0]
    assert row.lstrip().startswith('<tr><td class="text-nowrap">')
