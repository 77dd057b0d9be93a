"""``/docs`` and ``/redoc`` work on a machine without internet: every script, stylesheet and
icon they load is served by the service itself, and nothing points off-host (issue #12)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from tests.api.conftest import LiveService

#: What each kind of asset must be served as.
CONTENT_TYPES = {
    "script": ("text/javascript", "application/javascript"),
    "stylesheet": ("text/css",),
    "icon": ("image/png", "image/x-icon", "image/vnd.microsoft.icon", "image/svg+xml"),
}


class Assets(HTMLParser):
    """The URLs a page loads (``<script src>``, ``<link href>``, ``<img src>``) by kind."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str]] = []
        self.scripts: list[str] = []  # inline script text, searched for URLs too
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = {k: v or "" for k, v in attrs}
        if tag == "script":
            self._in_script = True
            if named.get("src"):
                self.found.append(("script", named["src"]))
        elif tag == "link" and named.get("href"):
            rel = named.get("rel", "")
            self.found.append(("stylesheet" if "stylesheet" in rel else "icon", named["href"]))
        elif tag in ("img", "iframe") and named.get("src"):
            self.found.append(("icon", named["src"]))

    def handle_endtag(self, tag: str) -> None:
        self._in_script = self._in_script and tag != "script"

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)


@pytest.mark.parametrize("live", ["sqlite"], indirect=True)
@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_documentation_pages_load_nothing_from_another_host(
    live: LiveService, page: str
) -> None:
    answer = httpx.get(live.url + page)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    parser = Assets()
    parser.feed(answer.text)
    kinds = {kind for kind, _ in parser.found}
    assert {"script"} <= kinds, f"{page} loads no script: {parser.found}"
    if page == "/docs":
        assert "stylesheet" in kinds
    # No absolute URL anywhere in the page (markup or inline script) names another host.
    for url in re.findall(r"(?:https?:)?//[\w.-]+[^\s\"'<>)]*", answer.text):
        assert urlsplit(url).hostname in (None, "127.0.0.1"), f"{page} points off-host: {url}"
    for kind, ref in parser.found:
        url = urljoin(answer.url.__str__(), ref)
        assert urlsplit(url).netloc == urlsplit(live.url).netloc, f"{page}: {ref} is off-host"
        asset = httpx.get(url)
        assert asset.status_code == 200, f"{page}: {ref} answered {asset.status_code}"
        assert asset.headers["content-type"].startswith(CONTENT_TYPES[kind]), (ref, kind)
        assert len(asset.content) > 100, ref
    # The page's inline script reads the document from this service.
    assert "'/openapi.json'" in "".join(parser.scripts) or '"/openapi.json"' in answer.text
    assert httpx.get(live.url + "/openapi.json").status_code == 200
