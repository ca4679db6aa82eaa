from tests.conftest import login


def test_dashboard_and_lists_render(client, world):
    login(client, "insp_a")
    for path in ["/", "/merchants/", "/instruments/", "/worklists/overdue", f"/instruments/{world.instrument_a.id}",
                 f"/merchants/{world.merchant_a.id}", "/catalog/types", "/catalog/findings"]:
        resp = client.get(path)
        assert resp.status_code == 200, (path, resp.get_data(as_text=True)[:2000])
