"""The operator pages' HTTP answers to what a browser test need not drive: signed out, a
bad period, an unknown report or catalog version (a clear page, never a 500)."""

from __future__ import annotations

import html
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.web.test_http import Service, csrf_of, service


@pytest.fixture
def admin(tmp_path: Path) -> Iterator[Service]:
    for svc in service(tmp_path):
        assert svc.client.get("/staff/reports").status_code == 401  # signed out: sign-in form
        token = csrf_of(svc)
        signed = svc.client.post(
            "/staff/signin", data={"api_key": svc.keys["admin"], "csrf": token}
        )
        assert signed.status_code == 200
        yield svc


def test_an_unknown_period_is_the_default_and_an_unknown_report_a_404(admin: Service) -> None:
    page = admin.client.get("/staff/reports", params={"days": "bogus"})
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert '<option value="30" selected>' in page.text
    assert 'href="/staff/reports/usage.csv?days=30"' in page.text
    missing = admin.client.get("/staff/reports/ledger.csv")
    assert missing.status_code == 404
    assert "There is no report 'ledger'" in html.unescape(missing.text)
    empty = admin.client.get("/staff/reports/usage.csv", params={"days": "all"})
    assert empty.status_code == 200 and empty.headers["content-type"].startswith("text/csv")
    assert empty.text.startswith("jobs,succeeded,")  # the header line, no rows yet


def test_an_unknown_catalog_version_is_named_on_the_page(admin: Service) -> None:
    page = admin.client.get(
        "/staff/catalogs", params={"catalog": "creative-suite", "old": "1999.1"}
    )
    assert page.status_code == 404
    text = html.unescape(page.text)
    assert "version: '1999.1' is not a version of catalog 'creative-suite'" in text
    assert 'data-catalog="creative-suite"' in text  # the catalogs are still listed
    same = admin.client.get("/staff/catalogs", params={"catalog": "no-such-catalog"})
    assert same.status_code == 200  # an unknown name shows the first catalog
