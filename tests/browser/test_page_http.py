"""The consumer page over HTTP, without a browser: what it states, its assets, and every error path.

The page is HTML for people, so its errors are pages too (never a 5xx for bad input): a malformed product id or
``at`` is a 422 page, an unknown product a 404 page, a library error its problem's status. These run whether or
not Chromium is installed.
"""

from __future__ import annotations

import re
import time

import pytest
from eth_utils.crypto import keccak

from api.routes import pages
from ledger.storage.db import DatabaseUnavailable

from .conftest import PRODUCT, Scene, Site, hx

pytestmark = pytest.mark.chain

DAY = 24 * 3600


def html_of(site: Site, path: str, status: int = 200, **params: str | int) -> str:
    r = site.http.get(path, params=params)
    assert r.status_code == status, (path, params, r.status_code, r.text[:500])
    assert r.headers["content-type"].startswith("text/html"), r.headers["content-type"]
    assert "Content-Security-Policy" in r.headers and r.headers["Referrer-Policy"] == "no-referrer"
    return r.text


def test_the_page_states_the_record(site: Site, scene: Scene) -> None:
    page = html_of(site, f"/p/{hx(PRODUCT)}")
    assert page.startswith("<!doctype html>") and '<html lang="en">' in page and 'name="viewport"' in page
    assert page.count("<h1>") == 1 and "<h2" in page and 'for="rpc-url"' in page
    # certificates: one valid, one revoked, each with its issuer's accreditation at issue and its bundle
    assert f'data-certificate="{hx(scene.certificates["valid"])}" data-status="valid"' in page
    assert f'data-certificate="{hx(scene.certificates["revoked"])}" data-status="revoked"' in page
    assert page.count("accredited <time") == 2
    for cid in scene.certificates.values():
        assert f"/v1/bundles/certificates/{hx(cid)}" in page
    # reviews: the summary, each review with the service's inclusion status; text escaped, never markup
    for i in scene.anchored:
        assert f'data-leaf="{i}" data-inclusion="anchored"' in page and f"/v1/bundles/reviews/{i}" in page
    assert f'data-leaf="{scene.pending}" data-inclusion="pending"' in page
    assert f"/v1/bundles/reviews/{scene.pending}" not in page
    assert "&lt;b&gt;not bold&lt;/b&gt; &amp; fine" in page and "<b>not bold</b>" not in page
    assert "4 reviews, each proved against the anchored log" in page and "4.00 <span class=\"exact\">(4/1)" in page
    # the dispute and its ruling; the merchant's score beside its terms
    assert f'data-dispute="{hx(scene.dispute)}"' in page and "refund" in page
    assert f'data-merchant="{site.api.world.actors.merchant.address}"' in page and "How the score is computed" in page
    # verify it yourself: the chain, every contract, the checkpoint, the RPC (the service's own: loopback, no key)
    m = site.ledger.manifest
    assert f"Chain id <strong>{m.chain_id}</strong>" in page
    assert all(address in page for address in m.addresses.values())
    assert f'id="rpc-url" name="rpc" type="url" value="{site.rpc_url}"' in page
    assert f"/v1/products/{hx(PRODUCT)}" in page
    # the QR code: inline SVG of the page's own address, also as a file
    url = site.url(f"/p/{hx(PRODUCT)}")
    assert pages.qr_svg(url) in page
    qr = site.http.get(f"/p/{hx(PRODUCT).upper().replace('0X', '0x')}/qr.svg")
    assert qr.status_code == 200 and qr.headers["content-type"] == "image/svg+xml"
    assert qr.text == pages.qr_svg(url)  # any spelling of the id: the code names the canonical page


def test_the_links_on_the_page_answer(site: Site, scene: Scene) -> None:
    page = html_of(site, f"/p/{hx(PRODUCT)}")
    links = set(re.findall(r'(?:href|src)="(/[^"]*)"', page))
    assert any(link.startswith("/static/verify.js?v=") for link in links)
    for link in sorted(links):
        r = site.http.get(link)
        assert r.status_code == 200, (link, r.text[:300])
    for name, media in pages.STATIC_TYPES.items():
        r = site.http.get(f"/static/{name}")
        assert r.status_code == 200 and r.headers["content-type"] == media
    bundle = site.http.get(f"/v1/bundles/reviews/{scene.anchored[0]}")
    assert "attachment" in bundle.headers["content-disposition"]


def test_only_the_newest_reviews_are_listed(site: Site, scene: Scene, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pages, "MAX_REVIEWS_SHOWN", 2)
    page = html_of(site, f"/p/{hx(PRODUCT)}")
    assert "The newest 2 of 5 reviews." in page
    newest = sorted([*scene.anchored, scene.pending])[-2:]
    assert re.findall(r'class="card review" data-leaf="(\d+)"', page) == [str(i) for i in reversed(newest)]
    assert f'"leaves":[{newest[1]},{newest[0]}]' in page  # the script checks the listed ones


def test_a_later_moment_shows_the_certificate_expired(site: Site, scene: Scene) -> None:
    later = max(int(time.time()), site.api.world.chain.now()) + 40 * DAY
    page = html_of(site, f"/p/{hx(PRODUCT)}", at=later)
    assert f'data-certificate="{hx(scene.certificates["valid"])}" data-status="expired"' in page
    assert f'data-certificate="{hx(scene.certificates["revoked"])}" data-status="revoked"' in page
    assert "a past or future moment you asked for" in page


@pytest.mark.parametrize("bad", ["0x1234", "0x" + "zz" * 32, "0x" + "ab" * 33, "ab" * 32, "gtin:06901234567892",
                                 "0x" + "ab" * 31 + "a\u00e9", "%00", "x" * 5000])
def test_a_malformed_id_is_a_422_page(site: Site, scene: Scene, bad: str) -> None:
    page = html_of(site, f"/p/{bad}", 422)
    assert "That is not a product id" in page and "<script" not in page
    assert site.http.get(f"/p/{bad}/qr.svg").status_code in (404, 422)


@pytest.mark.parametrize("at", ["-1", "1e3", " 1", str(2**40), "9" * 30, "yesterday", "１２"])
def test_a_malformed_time_is_a_422_page(site: Site, scene: Scene, at: str) -> None:
    page = html_of(site, f"/p/{hx(PRODUCT)}", 422, at=at)
    assert "That is not a time" in page


def test_other_paths_under_p_are_the_apis_404(site: Site, scene: Scene) -> None:
    for path in ("/p/", "/p/..%2F..%2Fetc%2Fpasswd", f"/p/{hx(PRODUCT)}/more"):
        r = site.http.get(path)
        assert r.status_code == 404 and r.json()["type"] == "urn:trustledger:problem:not-found", path


def test_an_unknown_product_is_a_404_page(site: Site, scene: Scene) -> None:
    unknown = keccak(text="gtin:nothing-recorded")
    page = html_of(site, f"/p/{hx(unknown)}", 404)
    assert "No record of this product" in page and hx(unknown) in page
    # before anything was recorded, the product was unknown too, and the page says as of when
    page = html_of(site, f"/p/{hx(PRODUCT)}", 404, at=0)
    assert "as of <time" in page


def test_a_library_error_is_a_page_with_its_status(site: Site, scene: Scene, monkeypatch: pytest.MonkeyPatch) -> None:
    def down(*args: object, **kwargs: object) -> None:
        raise DatabaseUnavailable("the database did not answer")

    monkeypatch.setattr(pages, "product_record", down)
    page = html_of(site, f"/p/{hx(PRODUCT)}", 503)
    assert "Database unavailable" in page and "Try again in a moment" in page


def test_unknown_assets_and_the_openapi_document(site: Site, scene: Scene) -> None:
    for name in ("nope.js", "..%2Fpages.py", "verify.js.map"):
        r = site.http.get(f"/static/{name}")
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    paths = site.http.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if p.startswith(("/p/", "/static/"))]


def test_only_a_safe_rpc_url_is_shown() -> None:
    assert pages.public_rpc("http://127.0.0.1:8545") == "http://127.0.0.1:8545"
    assert pages.public_rpc("https://rpc.example.org/") == "https://rpc.example.org/"
    for secret in ("https://mainnet.infura.io/v3/KEY", "https://user:pw@rpc.example.org", "wss://node.example.org",
                   "https://rpc.example.org/?apikey=KEY", "http:///nohost"):
        assert pages.public_rpc(secret) == pages.DEFAULT_RPC
