"""Every route, asked about ids that cannot exist (past PostgreSQL's integer range, or words where a
number goes), answers 4xx, never 5xx. The routes are read from the app, so a new one is covered."""
import re

import pytest

ODD_IDS = (0, 2**31, 2**63, 10**30)
ODD_WORDS = ("0", "2147483648", "99999999999999999999", "not-a-uuid", "٣", "%00", "..%2F..%2Fetc%2Fpasswd")


def odd_urls(app):
    """Each rule with parameters, filled with every odd value (ints where the rule wants an int)."""
    adapter = app.url_map.bind("fieldkit.test")
    for rule in app.url_map.iter_rules():
        if not rule.arguments or rule.endpoint == "static":
            continue
        numbers = set(re.findall(r"<int:(\w+)>", rule.rule))
        for n, word in enumerate(ODD_WORDS):
            values = {name: ODD_IDS[n % len(ODD_IDS)] if name in numbers else word for name in rule.arguments}
            url = adapter.build(rule.endpoint, values)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield method, url


@pytest.mark.parametrize("who", ["pm", "tech", "client"])
def test_every_route_answers_odd_ids_with_a_4xx(app, api, site, who):
    asked = 0
    for method, url in odd_urls(app):
        answer = api[who].client.open(url, method=method, headers=api[who].headers, json={})
        assert answer.status_code < 500, (method, url, answer.get_data(as_text=True)[:300])
        asked += 1
    assert asked > 50
