"""The consumer page in headless Chromium: it loads, shows the right statuses, reads on a phone and by keyboard,
and its own check turns green for a true proof and red for a tampered one.

The page's script fetches each review's leaf and proof from the service over HTTP and asks the chain over
JSON-RPC (conftest.py: uvicorn in a thread, and for py-evm a read-only JSON-RPC proxy). Tampering is done the
way a dishonest or broken service would: the store in the running process is monkeypatched to answer another
leaf, another proof, or another checkpoint root; the chain is left alone, and it is what the page believes.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from api.routes import reviews as reviews_route
from api.routes.log import _latest as indexed_latest
from ledger.merkle import leaf_hash, root_from_inclusion_proof

from .conftest import BURST_PRODUCT, PRODUCT, Scene, Site, hx
from .vectors import RUN_CASES_JS, all_cases, mismatches

pytestmark = pytest.mark.chain

DONE = ("ok", "bad", "unchecked", "pending")


@pytest.fixture
def page(browser: Any, site: Site, scene: Scene) -> Iterator[Any]:
    """The product's page freshly loaded, its in-browser check finished."""
    yield load(browser, site)


def load(browser: Any, site: Site) -> Any:
    browser.get(site.url(f"/p/{hx(PRODUCT)}"))
    wait_done(browser)
    return browser


def wait_done(browser: Any) -> None:
    WebDriverWait(browser, 20, poll_frequency=0.05).until(
        lambda d: d.find_element(By.ID, "verify-summary").get_attribute("data-state") in DONE)


def check(browser: Any, index: int) -> tuple[str, str]:
    node = browser.find_element(By.ID, f"check-{index}")
    return node.get_attribute("data-state"), node.text


def rerun(browser: Any) -> None:
    browser.find_element(By.ID, "verify-run").click()
    WebDriverWait(browser, 5, poll_frequency=0.02).until(
        lambda d: d.find_element(By.ID, "verify-summary").get_attribute("data-state") == "checking"
        or d.find_element(By.ID, "verify-summary").get_attribute("data-state") in DONE)
    wait_done(browser)


def severe_console_errors(browser: Any) -> list[str]:
    return [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


def test_the_page_loads_with_the_right_statuses_and_the_check_turns_green(page: Any, site: Site, scene: Scene) -> None:
    statuses = {el.get_attribute("data-certificate"): el.get_attribute("data-status")
                for el in page.find_elements(By.CSS_SELECTOR, "[data-certificate]")}
    assert statuses == {hx(scene.certificates["valid"]): "valid", hx(scene.certificates["revoked"]): "revoked"}
    revoked = page.find_element(By.CSS_SELECTOR, f'[data-certificate="{hx(scene.certificates["revoked"])}"] .status')
    assert revoked.text == "revoked" and revoked.is_displayed()
    dispute = page.find_element(By.CSS_SELECTOR, f'[data-dispute="{hx(scene.dispute)}"]').text
    assert "refund" in dispute and "not final yet" in dispute

    checkpoint = site.api.services.indexer.checkpoints()[-1]
    address, chain_id = site.ledger.manifest.address("ReviewLog"), site.ledger.manifest.chain_id
    for i in scene.anchored:
        state, text = check(page, i)
        assert state == "ok", (text, page.find_element(By.ID, "verify-chain").text)
        assert text.startswith(f"verified: leaf {i}: proof reproduces root 0x{checkpoint.root.hex()[:8]}") or \
            f"leaf {i}: proof reproduces root 0x{checkpoint.root.hex()[:8]}" in text
        assert f"of checkpoint {checkpoint.index} (size {checkpoint.size}), which the ReviewLog contract at " \
               f"{address} on chain {chain_id} confirms" in text
        node = page.find_element(By.ID, f"check-{i}")
        assert node.get_attribute("data-root") == "0x" + checkpoint.root.hex()
    state, text = check(page, scene.pending)
    assert state == "pending" and "not in an anchored checkpoint yet" in text
    summary = page.find_element(By.ID, "verify-summary")
    assert summary.get_attribute("data-state") == "ok"
    assert summary.text.endswith("4 verified against the chain, 0 failed, 1 pending, 0 not checked.")
    chain = page.find_element(By.ID, "verify-chain").text
    assert f"holds 1 checkpoint; the latest covers {checkpoint.size} reviews" in chain
    green = page.find_element(By.ID, f"check-{scene.anchored[0]}").value_of_css_property("background-color")
    assert green in ("rgba(227, 244, 232, 1)", "rgb(227, 244, 232)")
    assert severe_console_errors(page) == []  # no CSP violation, no failed fetch


def _tamper_leaf(site: Site, index: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The service answers a leaf whose rating was changed (4 stars made 5) from GET /v1/log/leaves."""
    store = site.ledger.reviews
    real: Callable[[int, int], list[bytes]] = store.leaves

    def leaves(start: int, end: int) -> list[bytes]:
        out = real(start, end)
        return [leaf.replace(b'"rating":4', b'"rating":5') if start + k == index else leaf
                for k, leaf in enumerate(out)]

    monkeypatch.setattr(store, "leaves", leaves)


def _tamper_proof(site: Site, index: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The service answers an inclusion proof with one bit flipped for the leaf."""
    store = site.ledger.reviews
    real: Callable[..., list[bytes]] = store.inclusion_proof

    def inclusion_proof(i: int, size: int | None = None) -> list[bytes]:
        proof = real(i, size)
        if i == index:
            proof = [bytes([proof[0][0] ^ 0x08]) + proof[0][1:], *proof[1:]]
        return proof

    monkeypatch.setattr(store, "inclusion_proof", inclusion_proof)


def _tamper_leaf_and_root(site: Site, index: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """A consistent lie: the tampered leaf, and a checkpoint root recomputed to match it. Only the chain can
    tell."""
    _tamper_leaf(site, index, monkeypatch)
    store = site.ledger.reviews

    def latest(s: Any) -> Any:
        cp = indexed_latest(s)
        assert cp is not None
        leaf = store.leaves(index, index + 1)[0]
        fake = root_from_inclusion_proof(index, cp.size, leaf_hash(leaf), store.inclusion_proof(index, cp.size))
        return dataclasses.replace(cp, root=fake)

    monkeypatch.setattr(reviews_route, "_latest", latest)


@pytest.mark.parametrize("tamper", [_tamper_leaf, _tamper_proof, _tamper_leaf_and_root],
                         ids=["leaf", "proof", "leaf-and-root"])
def test_a_tampered_proof_turns_red(browser: Any, site: Site, scene: Scene, monkeypatch: pytest.MonkeyPatch,
                                    tamper: Callable[[Site, int, pytest.MonkeyPatch], None]) -> None:
    victim = scene.anchored[1]  # the 4-star review
    tamper(site, victim, monkeypatch)
    load(browser, site)
    state, text = check(browser, victim)
    assert state == "bad", text
    checkpoint = site.api.services.indexer.checkpoints()[-1]
    address = site.ledger.manifest.address("ReviewLog")
    assert f"does not confirm as checkpoint {checkpoint.index} (size {checkpoint.size})" in text, text
    assert f"the ReviewLog contract at {address}" in text and "not what the log committed to" in text
    if tamper is _tamper_leaf_and_root:
        assert "this service says" not in text  # the service's own root agrees with its lie; the chain does not
    else:
        assert f"this service says that checkpoint's root is 0x{checkpoint.root.hex()[:8]}" in text
    for i in scene.anchored:
        if i != victim:
            assert check(browser, i)[0] == "ok"
    summary = browser.find_element(By.ID, "verify-summary")
    assert summary.get_attribute("data-state") == "bad" and "3 verified against the chain, 1 failed" in summary.text
    red = browser.find_element(By.ID, f"check-{victim}").value_of_css_property("background-color")
    assert red in ("rgba(253, 232, 232, 1)", "rgb(253, 232, 232)")


def test_an_unreachable_rpc_is_never_green(page: Any, site: Site, scene: Scene) -> None:
    field = page.find_element(By.ID, "rpc-url")
    field.clear()
    field.send_keys("http://127.0.0.1:9")
    rerun(page)
    summary = page.find_element(By.ID, "verify-summary")
    assert summary.get_attribute("data-state") == "unchecked", summary.text
    assert "Nothing verified: the RPC at http://127.0.0.1:9 did not answer" in summary.text
    assert {check(page, i)[0] for i in scene.anchored} == {"unchecked"}
    # a chain id that is not the RPC's: refused before any proof is believed
    field.clear()
    field.send_keys(site.rpc_url)
    chain_id = page.find_element(By.ID, "chain-id")
    chain_id.clear()
    chain_id.send_keys("1")
    rerun(page)
    assert summary.get_attribute("data-state") == "unchecked"
    assert f"serves chain {site.ledger.manifest.chain_id}, not chain 1" in summary.text


def test_the_js_vectors_pass_in_chromium(page: Any) -> None:
    cases = all_cases()
    results: Sequence[dict[str, Any]] = page.execute_script(
        RUN_CASES_JS.read_text() + "\nreturn runCases(window.TrustLedgerVerify, arguments[0]);", [c.case for c in cases])
    assert mismatches(cases, list(results)) == []
    assert page.execute_script("return window.isSecureContext === false || !!window.isSecureContext") is True


def test_it_reads_on_a_phone_and_by_keyboard(page: Any) -> None:
    assert page.execute_script("return document.documentElement.lang") == "en"
    # no sideways scrolling at a phone's width (long hashes wrap; wide tables scroll inside their region)
    wide = page.execute_script(
        "return [...document.querySelectorAll('body *')].filter(n => n.getBoundingClientRect().right > "
        "window.innerWidth + 1 && !n.closest('.scroll')).slice(0, 5).map(n => n.tagName + '.' + n.className + ' ' + "
        "Math.round(n.getBoundingClientRect().right) + ' ' + (n.textContent || '').slice(0, 40))")
    assert wide == [] and page.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1")
    # every form field has a label; every scroll region is focusable and named
    unlabeled = page.execute_script(
        "return [...document.querySelectorAll('input')].filter(i => !document.querySelector("
        "'label[for=\"' + i.id + '\"]')).map(i => i.id)")
    assert unlabeled == []
    regions = page.find_elements(By.CSS_SELECTOR, ".scroll")
    assert regions and all(r.get_attribute("tabindex") == "0" and r.get_attribute("aria-label") for r in regions)
    assert page.find_element(By.CSS_SELECTOR, "svg.qr title").get_attribute("textContent").startswith("QR code of ")
    # the first Tab reaches the skip link, visibly; the check can be run from the keyboard
    body = page.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.TAB)
    focused = page.switch_to.active_element
    assert focused.get_attribute("class") == "skip" and focused.is_displayed()
    assert focused.value_of_css_property("outline-style") == "solid"
    page.find_element(By.ID, "chain-id").send_keys(Keys.ENTER)  # submits the form: the check runs again
    wait_done(page)
    assert page.find_element(By.ID, "verify-summary").get_attribute("data-state") == "ok"


def test_unusual_activity_is_near_the_top_and_reachable_by_keyboard(browser: Any, site: Site, scene: Scene) -> None:
    at = max(int(time.time()), site.api.world.chain.now()) + 60  # after the checkpoint whatever the clocks say
    browser.get_log("browser")  # what earlier tests left (an unreachable RPC's refusal)
    browser.get(site.url(f"/p/{hx(BURST_PRODUCT)}?at={at}"))
    wait_done(browser)
    section = browser.find_element(By.CSS_SELECTOR, "section.warnings")
    assert section.find_element(By.TAG_NAME, "h2").text == "Unusual activity"
    badges = section.find_elements(By.CSS_SELECTOR, "li.signal h3 .status")
    assert [b.text for b in badges] == ["Review burst", "Review burst"] and all(b.is_displayed() for b in badges)
    assert browser.execute_script(  # above the certificates, and within a phone's width
        "const s = document.querySelector('section.warnings');"
        "return s.getBoundingClientRect().top < document.getElementById('h-certs').getBoundingClientRect().top"
        " && document.documentElement.scrollWidth <= window.innerWidth + 1")
    # Tab from the top: the table of contents names the section, then its own links take the focus in turn
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    reached: list[str] = []
    for _ in range(12):
        where = browser.execute_script(
            "const a = document.activeElement; return a.closest('section.warnings') ? 'section' : "
            "(a.getAttribute('href') || a.tagName)")
        reached.append(where)
        if where == "section":
            break
        browser.switch_to.active_element.send_keys(Keys.TAB)
    assert "#h-warnings" in reached and reached[-1] == "section", reached
    focused = browser.switch_to.active_element
    assert focused.tag_name == "a" and focused.value_of_css_property("outline-style") == "solid"
    assert severe_console_errors(browser) == []
