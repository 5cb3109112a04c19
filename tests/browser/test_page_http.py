"""The consumer page over HTTP, without a browser: what it states, its assets, and every error path.

The page is HTML for people, so its errors are pages too (never a 5xx for bad input): a malformed product id or
``at`` is a 422 page, an unknown product a 404 page, a library error its problem's status. These run whether or
not Chromium is installed.
"""

from __future__ import annotations

import re
import time

import pytest
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from api.routes import pages
from ledger import signals as ls
from ledger.storage.db import DatabaseUnavailable

from .conftest import BURST_PRODUCT, BURST_SIZE, PRODUCT, Scene, Site, hx

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


# ----------------------------------------------------------------------------------------------- unusual activity

def warnings_of(page: str) -> str:
    """The page's "Unusual activity" section."""
    found = re.search(r'<section aria-labelledby="h-warnings".*?</section>', page, re.DOTALL)
    assert found is not None, page[:2000]
    return found.group(0)


def test_a_review_burst_is_a_warning_with_its_numbers_and_links(site: Site, scene: Scene) -> None:
    at = max(int(time.time()), site.api.world.chain.now()) + 60  # after the checkpoint whatever the clocks say
    page = html_of(site, f"/p/{hx(BURST_PRODUCT)}", at=at)
    section = warnings_of(page)
    assert page.index('id="h-warnings"') < page.index('id="h-certs"') and 'href="#h-warnings"' in page
    assert "fraud" not in page.lower() and "No unusual activity" not in section
    assert "2 warnings of unusual activity." in section
    # one for the product and one for its merchant, the same leaves raising both
    items = re.findall(r'<li class="card signal" data-signal="([^"]+)" data-subject-type="([^"]+)" '
                       r'data-subject="([^"]+)">(.*?)</li>(?=<li class="card signal"|</ul>)', section, re.DOTALL)
    assert [(k, t, s) for k, t, s, _ in items] == [("review-burst", "merchant", scene.burst_merchant),
                                                 ("review-burst", "product", hx(BURST_PRODUCT))]
    for _, subject_type, subject, item in items:
        assert '<span class="status status-warn">Review burst</span>' in item
        assert ("this product" if subject_type == "product" else f"merchant <code>{subject}</code>") in item
        # the window (one day, as <time>s), observed against expected, the surprise and the threshold that fired
        assert re.search(r"<dt>Window</dt><dd><time [^>]+>[^<]+</time> to <time [^>]+>[^<]+</time> \(one day\)",
                         item), item
        assert f"<dt>Observed</dt><dd>{BURST_SIZE} reviews</dd>" in item
        assert "<dt>Expected</dt><dd>about 0.04, from 0 reviews in the previous 28 days (plus a prior of 1)" in item
        surprise = re.search(r"<dt>Surprise</dt><dd>([0-9.]+): a chance of about 1 in 10<sup>(\d+)</sup>", item)
        assert surprise is not None and float(surprise.group(1)) >= 6 and int(surprise.group(2)) >= 6
        assert ("<dt>Threshold</dt><dd>surprise at least 6 (a chance of 1 in 10<sup>6</sup> or less under the "
                "usual rate), at least 10 reviews in one day, and at least 5 times the expected count") in item
        assert "A review burst is raised for far more reviews in one day than the subject&#x27;s own previous " \
               "28 days predict" in item
        # the evidence: every leaf, and the signal's JSON at the page's moment
        assert f"{BURST_SIZE} reviews: " in item
        assert re.findall(r'href="/v1/reviews/(\d+)"', item) == [str(i) for i in scene.burst]
        query = f"{subject_type}={subject}&amp;kind=review-burst&amp;at={at}"
        assert f'href="/v1/audit/signals?{query}"' in item
        signal = site.http.get(f"/v1/audit/signals?{query.replace('&amp;', '&')}").json()["signals"]
        assert len(signal) == 1 and signal[0]["statistic"]["observed"] == BURST_SIZE
        assert signal[0]["data"]["leaves"] == scene.burst and f"<dd>{signal[0]['statistic']['value']:.1f}: " in item
    # every link of the section answers
    for link in sorted(set(re.findall(r'href="(/[^"]*)"', section))):
        r = site.http.get(link.replace("&amp;", "&"))
        assert r.status_code == 200, (link, r.text[:300])
    both = f'href="/v1/audit/signals?product={hx(BURST_PRODUCT)}&amp;merchant={scene.burst_merchant}&amp;at={at}"'
    assert both in section


def test_an_honest_product_says_no_unusual_activity(site: Site, scene: Scene) -> None:
    page = html_of(site, f"/p/{hx(PRODUCT)}")
    section = warnings_of(page)
    assert "No unusual activity detected (rules: review burst, rating shift, dispute surge, revocation spike, " \
           "failed spot checks, unpaid remedy)." in section
    assert 'class="card signal"' not in section and "fraud" not in page.lower()
    cp = site.api.services.indexer.checkpoints()[-1]
    assert f"against {cp.size} anchored reviews of the whole log (checkpoint {cp.index}, size {cp.size})" in section
    merchant = site.api.world.actors.merchant.address
    assert f"/v1/audit/signals?product={hx(PRODUCT)}&amp;merchant={merchant}&amp;at=" in section


def test_the_warnings_follow_the_pages_moment(site: Site, scene: Scene) -> None:
    # forty days on, the burst's day has left the 30-day horizon: no warning any more
    later = max(int(time.time()), site.api.world.chain.now()) + 40 * DAY
    section = warnings_of(html_of(site, f"/p/{hx(BURST_PRODUCT)}", at=later))
    assert "No unusual activity detected" in section and f"&amp;at={later}" in section


def test_a_failing_signal_source_leaves_the_record(site: Site, scene: Scene, monkeypatch: pytest.MonkeyPatch) -> None:
    def down(*args: object, **kwargs: object) -> None:
        raise DatabaseUnavailable("the database did not answer")

    monkeypatch.setattr(pages, "product_signals", down)
    section = warnings_of(html_of(site, f"/p/{hx(PRODUCT)}"))
    assert "could not be computed just now (Database unavailable)" in section


def test_every_kind_of_warning_reads_in_words() -> None:
    """The other kinds, rendered from the detectors' own output on synthetic inputs (no chain): a rating shift,
    a dispute surge with its transactions, and an unpaid remedy with its dispute."""
    merchant, now = "0x" + "ab" * 20, 200 * DAY
    product = keccak(text="gtin:kinds")
    reviews = [ls.ReviewPoint(i, now - 60 * DAY + i * 3600, to_checksum_address(merchant), product, bytes(32), 3)
               for i in range(40)]
    reviews += [ls.ReviewPoint(40 + i, now - 3600 + i, to_checksum_address(merchant), product, bytes([i]) * 32, 5)
                for i in range(25)]
    tx = keccak(text="tx")
    chain = [ls.ChainPoint("dispute-opened", to_checksum_address(merchant), None,
                        ls.EventRef("PurchaseDisputeOpened", tx, 100 + i, 0, now - 600 + i, keccak(text=f"d{i}")))
             for i in range(6)]
    found = {s.kind: s for s in ls.compute_signals(ls.SignalInputs(tuple(reviews), tuple(chain)), as_of=now,
                                                kinds=["rating-shift", "dispute-surge"])
             if s.subject_type == "merchant"}
    shift = pages.signal_item(found["rating-shift"], "", now)
    assert '<span class="status status-warn">Rating shift</span>' in shift and "(7 days)" in shift
    assert "<dt>Observed</dt><dd>25 of 25 reviews gave 5 stars</dd>" in shift
    assert "at the share seen before (0 of 40 reviews in the previous 84 days, smoothed)" in shift
    assert "and a 5-star share at least 25 points above the usual one" in shift
    assert shift.count('href="/v1/reviews/') == pages.SIGNAL_EVIDENCE_SHOWN and "and 5 more (in the JSON)" in shift
    surge = pages.signal_item(found["dispute-surge"], "", now)
    assert "<dt>Observed</dt><dd>6 purchase disputes opened</dd>" in surge
    assert "at least 5 purchase disputes opened in 7 days, and at least 3 times the expected count" in surge
    assert surge.count("<li>PurchaseDisputeOpened, block ") == 6 and f'title="0x{tx.hex()}"' in surge

    rule = next(r for r in ls.RULES if r.kind == "remedy-unpaid")
    final = ls.EventRef("DisputeFinal", tx, 7, 1, now - 20 * DAY, keccak(text="d"))
    unpaid = ls.UnpaidRemedy(keccak(text="d"), 1, "1999", now - 20 * DAY, now - 6 * DAY, (final,))
    remedy = ls.Signal("remedy-unpaid", "merchant", to_checksum_address(merchant), now, unpaid.deadline, now, "overdue",
                    1.0, 1, 0.0, 0, rule, ls.SignalData(0, (1,), 1, events=(final,), remedies=(unpaid,)))
    html = pages.signal_item(remedy, "", now)
    assert '<span class="status status-warn">Unpaid remedy</span>' in html and "overdue since <time" in html
    assert "<dt>Observed</dt><dd>1 remedy unpaid, each past its deadline</dd>" in html
    assert "at least 1 remedy unpaid past 14 days after the ruling" in html and "DisputeFinal in tx" in html
    for text in (shift, surge, html):
        assert "fraud" not in text.lower() and "kind=" in text
