"""The consumer page, ``GET /p/{productId}``: a product's record for people, and a check they can run themselves.

What a shopper sees (docs/consumer-page.md): first, the early-warning signals raised for the product and its
merchants ("unusual activity", each with the data that raised it and its threshold); every certificate of the
product with its status and its issuer's accreditation when it was issued, the review summary and each review
with its inclusion status, the disputes and their outcomes, each merchant's trust profile beside its inputs, and
"verify it yourself": the chain, the contract addresses, the checkpoint the reviews were proved against, proof
bundles to download, and a QR code of the page's own address.

Why server-rendered: the page must read without JavaScript and on any phone, so everything the service states is
HTML built here from the same library calls the JSON routes make (``product_record`` in index mode, as
``GET /v1/products/{id}``; the review log for the product's leaves, as ``GET /v1/reviews/{i}``; the app's one
:class:`~ledger.signals.SignalSource`, as ``GET /v1/audit/signals``). The small
script (api/static/page.js, verify.js) only adds what the service cannot vouch for itself: it fetches each
review's leaf and inclusion proof from the JSON API, hashes them with its own SHA-256 (WebCrypto is absent on
plain HTTP), recomputes the RFC 6962 root and asks the ReviewLog contract over JSON-RPC, at a URL the visitor can
change, whether that root is the checkpoint's.

Errors are pages too, for people: a malformed id is a 422 page, a product the ledger knows nothing about a 404
page, a library error its problem's status with its title. The routes return HTML (or static files), so they are
left out of the OpenAPI document; their inputs are tested in tests/browser/test_page_http.py.

The static assets are served here (``/static/{name}``, a fixed list) rather than by a mount in ``api/app.py``, so
this module is the whole page.
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import re
import time
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import segno
from eth_utils.address import to_checksum_address
from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, HTMLResponse

from ledger.errors import LedgerError
from ledger.indexer import CheckpointRecord
from ledger.product import product_record
from ledger.signals import RULES, Rule, Signal, SignalReport, Subjects

from ..deps import ServicesDep
from ..problems import Problem, problem_for
from ..state import Services
from .signals import source as signal_source

ORDER = 90
router = APIRouter(tags=["pages"])

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
STATIC_TYPES = {"verify.js": "text/javascript; charset=utf-8", "page.js": "text/javascript; charset=utf-8",
                "page.css": "text/css; charset=utf-8"}
MAX_REVIEWS_SHOWN = 50
"""Reviews listed (the newest) and checked in the browser; the summary counts all of them."""
UINT40_MAX = 2**40 - 1
DAY_SECONDS = 24 * 3600
DEFAULT_RPC = "http://127.0.0.1:8545"
PRODUCT_ID = re.compile(r"0x[0-9a-fA-F]{64}")
CERTIFICATE_KINDS = {0: "certificate", 1: "spot check (passed)", 2: "spot check (failed)"}
STATUS_TONE = {"valid": "ok", "revoked": "bad", "failed": "bad", "compromised": "bad", "expired": "warn",
               "superseded": "warn"}
TERM_NAMES = {"certificates": "Certificates", "reviews": "Reviews", "disputeResponse": "Dispute response",
              "disputeOutcome": "Dispute outcome", "remedies": "Remedies"}
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' http: "
       "https:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
PAGE_HEADERS = {"Content-Security-Policy": CSP, "Referrer-Policy": "no-referrer",
                "X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}


def _asset_version(name: str) -> str:
    """A short hash of the asset, appended to its URL so a browser never runs a stale script with a new page."""
    return hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:12]


ASSET_VERSIONS = {name: _asset_version(name) for name in STATIC_TYPES}


def e(value: object) -> str:
    """HTML-escaped text of ``value`` (every value from the ledger goes through here)."""
    return html.escape(str(value), quote=True)


# ------------------------------------------------------------------------------------------------ formatting

def when(ts: float | None) -> str:
    """A unix time as a ``<time>`` element in UTC (the ledger's times are block times: one zone for everyone)."""
    if ts is None:
        return "—"
    dt = datetime.fromtimestamp(float(ts), UTC)
    return f'<time datetime="{dt.isoformat()}">{dt.strftime("%Y-%m-%d %H:%M UTC")}</time>'


def code(value: object, *, short: bool = False) -> str:
    """A hex value in ``<code>``; ``short`` shows its start and keeps the whole value in the title."""
    text = str(value)
    if short and len(text) > 14:
        return f'<code title="{e(text)}">{e(text[:10])}…{e(text[-4:])}</code>'
    return f"<code>{e(text)}</code>"


def fraction(text: str | None) -> str:
    """``"numerator/denominator"`` (the ledger's exact numbers) as a decimal, with the exact value beside it."""
    if text is None:
        return "—"
    value = Fraction(text)
    return f'{float(value):.2f} <span class="exact">({e(text)})</span>'


def status_badge(status: str) -> str:
    """A status in words with a tone class: the colour repeats the word, never replaces it."""
    return f'<span class="status status-{STATUS_TONE.get(status, "info")}">{e(status)}</span>'


def dl(rows: Iterable[tuple[str, str]]) -> str:
    """A definition list of (term, already-escaped HTML) pairs."""
    return "<dl>" + "".join(f"<dt>{e(k)}</dt><dd>{v}</dd>" for k, v in rows) + "</dl>"


def table(caption: str, head: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A captioned table in a focusable scroll region (wide tables scroll sideways on a phone, by keyboard too)."""
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    heads = "".join(f'<th scope="col">{e(h)}</th>' for h in head)
    return (f'<div class="scroll" role="region" aria-label="{e(caption)}" tabindex="0"><table>'
            f"<caption>{e(caption)}</caption><thead><tr>{heads}</tr></thead><tbody>{body}</tbody></table></div>")


def public_rpc(url: str) -> str:
    """The service's RPC URL when it is safe to show a visitor (http(s), no credentials, no path or query, where
    providers put API keys), else the local default: the visitor can always type another."""
    parts = urllib.parse.urlsplit(url)
    if (parts.scheme in ("http", "https") and parts.hostname and not parts.username and not parts.password
            and parts.path in ("", "/") and not parts.query and not parts.fragment):
        return url
    return DEFAULT_RPC


# ------------------------------------------------------------------------------------------------ layout

def layout(request: Request, title: str, body: str, *, config: Mapping[str, Any] | None = None) -> str:
    """The whole document: lang, viewport, the stylesheet, and (with ``config``) the verification script."""
    base = request.scope.get("root_path", "")
    scripts = ""
    if config is not None:
        blob = json.dumps(config, separators=(",", ":")).replace("<", "\\u003c").replace(">", "\\u003e")
        scripts = (f'<script type="application/json" id="tl-config">{blob}</script>'
                   f'<script src="{base}/static/verify.js?v={ASSET_VERSIONS["verify.js"]}" defer></script>'
                   f'<script src="{base}/static/page.js?v={ASSET_VERSIONS["page.js"]}" defer></script>')
    return ("<!doctype html>\n"
            '<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{e(title)}</title>"
            '<link rel="icon" href="data:,">'
            f'<link rel="stylesheet" href="{base}/static/page.css?v={ASSET_VERSIONS["page.css"]}">'
            f"{scripts}</head><body>"
            '<a class="skip" href="#main">Skip to the record</a>'
            '<header class="site"><p class="brand">TrustLedger</p></header>'
            f'<main id="main" tabindex="-1">{body}</main>'
            '<footer class="site"><p>Everything on this page comes from records anchored on a public chain. '
            f'The JSON behind it: <a href="{base}/docs">the API</a>.</p></footer>'
            "</body></html>")


def error_page(request: Request, status: int, title: str, detail: str) -> HTMLResponse:
    body = f'<h1>{e(title)}</h1><p class="lead">{detail}</p><p><a href="{e(request.scope.get("root_path", ""))}/docs">'\
           "The API's documentation</a> says what a product id is and how to find one.</p>"
    return HTMLResponse(layout(request, f"{title} — TrustLedger", body), status_code=status, headers=PAGE_HEADERS)


# ------------------------------------------------------------------------------------------------ sections

def certificates_section(record: Mapping[str, Any], base: str) -> str:
    certs: list[Mapping[str, Any]] = record["certificates"]
    if not certs:
        return ('<section aria-labelledby="h-certs"><h2 id="h-certs">Certificates</h2>'
                "<p>No certificate of this product is recorded.</p></section>")
    counts = ", ".join(f"{n} {e(s)}" for s, n in sorted(record["certificatesByStatus"].items()))
    items = []
    for c in certs:
        acc = c["accreditationAtIssue"]
        if acc is None:
            accreditation = '<span class="status status-bad">not accredited</span> when the certificate was issued'
        else:
            flags = []
            if not acc["standardInScope"]:
                flags.append("standard not in the issuer's scope")
            if acc["suspended"]:
                flags.append("issuer suspended")
            if acc["compromisedAt"]:
                flags.append(f"issuer key compromised at {when(acc['compromisedAt'])}")
            accreditation = (f"issuer #{e(acc['issuerId'])}, accredited {when(acc['validFrom'])} to "
                             f"{when(acc['validUntil'])}" + ("; " + "; ".join(flags) if flags else "; in scope"))
        rows = [("Status now", status_badge(c["now"]["status"]) + ' <span class="exact">(' +
                 "; ".join(e(r["message"]) for r in c["now"]["reasons"]) + ")</span>"),
                ("Kind", e(CERTIFICATE_KINDS.get(int(c["kind"]), f"kind {c['kind']}"))),
                ("Issuer", code(c["issuer"])),
                ("Issuer's accreditation at issue", accreditation),
                ("Merchant", code(c["merchant"])),
                ("Issued", when(c["issuedAt"])), ("Valid until", when(c["validUntil"])),
                ("Standard", code(c["standard"], short=True)), ("Lot", code(c["lot"], short=True)),
                ("Document hash", code(c["documentHash"], short=True))]
        if c["atPurchase"] is not None:
            rows.insert(1, ("At purchase", status_badge(c["atPurchase"]["status"])))
        if c["supersededBy"]:
            rows.append(("Superseded by", code(c["supersededBy"], short=True)))
        rows.append(("On chain", "<ul>" + "".join(
            f"<li>{e(ev['event'])}, block {e(ev['block'])}, {when(ev['time'])}, tx {code(ev['tx'], short=True)}</li>"
            for ev in c["evidence"]) + "</ul>"))
        items.append(f'<li class="card" data-certificate="{e(c["id"])}" data-status="{e(c["now"]["status"])}">'
                     f"<h3>Certificate {code(c['id'], short=True)}</h3>{dl(rows)}"
                     f'<p><a href="{base}/v1/bundles/certificates/{e(c["id"])}" download>Download its proof '
                     "bundle</a></p></li>")
    return (f'<section aria-labelledby="h-certs"><h2 id="h-certs">Certificates</h2><p>{counts}.</p>'
            f'<ul class="cards">{"".join(items)}</ul></section>')


@dataclass(frozen=True)
class ReviewRow:
    """One review of the product as listed: what the log holds and its inclusion status as the service sees it."""

    index: int
    rating: int
    submitted_at: int
    text: str | None
    notice: str | None
    status: str
    """``anchored`` or ``pending``."""
    status_text: str


def review_rows(s: Services, product: bytes, asked: int | None,
                checkpoint: CheckpointRecord | None) -> tuple[int, list[ReviewRow]]:
    """The product's leaves (how many, and the newest ``MAX_REVIEWS_SHOWN``), each with the service's view of its
    inclusion: anchored in ``checkpoint``, or pending with the time its receipt promised.

    With a moment ``asked`` (``?at=``), only the leaves accepted by then. Without one, every committed leaf: the
    acceptance times are the service's clock and the record's moment is a block's, and the two need not agree
    (a dev chain reverted to a snapshot runs behind the wall clock), so they are not compared.
    """
    log = s.ledger.reviews
    now = asked if asked is not None else int(time.time())
    rows: list[ReviewRow] = []
    total = 0
    for index in reversed(log.leaf_indices(product=product)):
        stored = log.review(index)
        if asked is not None and stored.accepted_ms // 1000 > asked:
            continue
        total += 1
        if len(rows) >= MAX_REVIEWS_SHOWN:
            continue
        if checkpoint is not None and index < checkpoint.size:
            status, text = "anchored", f"in checkpoint {checkpoint.index} (size {checkpoint.size})"
        else:
            deadline = stored.accepted_ms // 1000 + s.ledger.settings.max_merge_delay
            late = " — overdue" if deadline < now else ""
            status, text = "pending", f"pending: the operator promised to anchor it by {when(deadline)}{late}"
        takedown = stored.takedown
        notice = (takedown.describe() if takedown is not None else
                  "text erased on request" if stored.erasure is not None else None)
        rows.append(ReviewRow(index, stored.leaf.rating, stored.leaf.submitted_at,
                              stored.content.text if stored.content is not None else None, notice, status, text))
    return total, rows


def reviews_section(record: Mapping[str, Any], total: int, rows: Sequence[ReviewRow], base: str) -> str:
    r = record["reviews"]
    stars = r["stars"]
    most = max([1, *stars.values()])
    histogram = "".join(
        f'<li><span class="star-label">{k} star{"s" if k != "1" else ""}</span>'
        f'<meter min="0" max="{most}" value="{n}" aria-label="{k} stars: {n}">{n}</meter>'
        f'<span class="star-count">{n}</span></li>' for k, n in sorted(stars.items(), reverse=True))
    excluded = r["excluded"]
    cp = r["checkpoint"]
    proved = ("none yet" if cp is None else
              f"checkpoint {e(cp['index'])} (size {e(cp['size'])}, root {code(cp['root'], short=True)}, "
              f"anchored {when(cp['timestamp'])} in block {e(cp['block'])})")
    summary = dl([("Counted", f"{e(r['counted'])} reviews, each proved against the anchored log"),
                  ("Mean rating", fraction(r["mean"])),
                  ("Pending", f"{e(r['pending'])} (not yet in an anchored checkpoint)"),
                  ("Left out", (f"{e(excluded['takenDown'])} taken down by a ruling, "
                               f"{e(excluded['duplicatePurchase'])} second reviews of one purchase, "
                               f"{e(excluded['rootMismatch'])} failing their proof, "
                               f"{e(excluded['malformed'])} malformed")),
                  ("Proved against", proved)])
    items = []
    for row in rows:
        text = (f"<blockquote>{e(row.text)}</blockquote>" if row.text is not None else
                f'<p class="notice">{e(row.notice or "no text")}</p>')
        bundle = (f' <a href="{base}/v1/bundles/reviews/{row.index}" download>Download its proof bundle</a>'
                  if row.status == "anchored" else "")
        items.append(
            f'<li class="card review" data-leaf="{row.index}" data-inclusion="{row.status}">'
            f'<h3>Review {row.index}: {row.rating} of 5 stars</h3>'
            f"<p class=\"meta\">Submitted {when(row.submitted_at)}"
            + (f"; {e(row.notice)}" if row.notice and row.text is not None else "") + "</p>"
            f"{text}<p class=\"inclusion\">Inclusion (the service says): {row.status_text}.{bundle}</p>"
            f'<p class="check" id="check-{row.index}" data-leaf="{row.index}" data-state="waiting">'
            "In-browser check: not run yet.</p></li>")
    shown = (f"The newest {len(rows)} of {total} reviews." if total > len(rows) else
             f"{total} review{'s' if total != 1 else ''}." if total else "No review of this product yet.")
    tombstones = ""
    if r["tombstones"]:
        tombstones = "<h3>Removed by a ruling</h3><ul>" + "".join(
            f"<li>Review {e(t['leafIndex'])}: removed by dispute {code(t['disputeId'], short=True)} "
            f"{when(t['time'])}</li>" for t in r["tombstones"]) + "</ul>"
    return (f'<section aria-labelledby="h-reviews"><h2 id="h-reviews">Reviews</h2>{summary}'
            f'<h3 id="h-stars">Stars</h3><ul class="stars" aria-labelledby="h-stars">{histogram}</ul>'
            f'{tombstones}<h3>Each review</h3><p>{shown}</p><ul class="cards">{"".join(items)}</ul></section>')


def disputes_section(record: Mapping[str, Any]) -> str:
    disputes: list[Mapping[str, Any]] = record["disputes"]
    if not disputes:
        return ('<section aria-labelledby="h-disputes"><h2 id="h-disputes">Disputes</h2>'
                "<p>No dispute about this product.</p></section>")
    items = []
    for d in disputes:
        kind = "purchase dispute" if d["kind"] == "purchase" else f"challenge of review {d['leafIndex']}"
        rows = [("Kind", e(kind)), ("Merchant", code(d["merchant"])), ("Opened", when(d["openedAt"])),
                ("Category", code(d["category"], short=True)),
                ("Merchant responded", "yes" if d["responded"] else "no"),
                ("Ruling", e(d["ruling"] or "none yet") + (" (by default: no response)" if d["byDefault"] else "")),
                ("Final outcome", e(d["outcome"] or "not final yet")),
                ("Remedy", e(d["remedy"] or "—")),
                ("History", "<ol>" + "".join(f"<li>{e(h['event'])}, {when(h['time'])}, block {e(h['block'])}</li>"
                                             for h in d["history"]) + "</ol>")]
        items.append(f'<li class="card" data-dispute="{e(d["id"])}"><h3>Dispute {code(d["id"], short=True)}</h3>'
                     f"{dl(rows)}</li>")
    return (f'<section aria-labelledby="h-disputes"><h2 id="h-disputes">Disputes</h2><ul class="cards">'
            f'{"".join(items)}</ul></section>')


def merchants_section(record: Mapping[str, Any]) -> str:
    merchants: list[Mapping[str, Any]] = record["merchants"]
    if not merchants:
        return ('<section aria-labelledby="h-merchants"><h2 id="h-merchants">Merchants</h2>'
                "<p>No merchant is recorded selling this product.</p></section>")
    items = []
    for m in merchants:
        terms = table("How the score is computed", ["Term", "Weight", "Favourable", "Unfavourable", "Prior",
                                                    "Value"],
                      [[e(TERM_NAMES.get(name, name)), e(t["weight"]), e(t["favourable"]), e(t["unfavourable"]),
                        f"{e(t['priorFavourable'])} / {e(t['priorUnfavourable'])}", fraction(t["value"])]
                       for name, t in m["terms"].items()])
        f, c, r, d, s = m["factors"], m["certificates"], m["reviews"], m["disputes"], m["sanctions"]
        inputs = dl([
            ("Certificates", ", ".join(f"{n} {e(k)}" for k, n in c["byStatus"].items() if n) or "none"),
            ("Reviews counted", f"{e(r['counted'])} (stars " + ", ".join(
                f"{k}: {n}" for k, n in sorted(r["stars"].items(), reverse=True)) + ")"),
            ("Disputes", (f"{e(d['opened'])} opened, {e(d['notFinal'])} not final; responses: "
                         f"{e(d['responses']['timely'])} timely, {e(d['responses']['missed'])} missed")),
            ("Standing", (f"{e(s['standing'])} (factor {fraction(f['standing'])}); sanctions: "
                         f"{e(s['warnings'])} warnings, {e(s['suspensions'])} suspensions, {e(s['bans'])} bans "
                         f"(history factor {fraction(f['history'])})"))])
        items.append(f'<li class="card" data-merchant="{e(m["merchant"])}"><h3>Merchant {code(m["merchant"])}</h3>'
                     f'<p class="score"><span class="score-value">{e(m["score"])}</span> of 100 '
                     f'<span class="exact">(exactly {e(m["scoreExact"])}, formula {e(m["formula"])})</span></p>'
                     f"{terms}<h4>Inputs</h4>{inputs}</li>")
    return (f'<section aria-labelledby="h-merchants"><h2 id="h-merchants">Merchants and their trust profiles</h2>'
            f'<ul class="cards">{"".join(items)}</ul></section>')


# ------------------------------------------------------------------------------------------------ unusual activity

SIGNAL_NAMES = {"review-burst": "Review burst", "rating-shift": "Rating shift", "dispute-surge": "Dispute surge",
                "revocation-spike": "Revocation spike", "spot-check-failure-spike": "Failed spot checks",
                "remedy-unpaid": "Unpaid remedy"}
SIGNAL_UNITS = {"review-burst": ("review", "reviews"), "dispute-surge": ("purchase dispute opened",
                                                                         "purchase disputes opened"),
                "revocation-spike": ("certificate revoked", "certificates revoked"),
                "spot-check-failure-spike": ("failed spot check", "failed spot checks"),
                "remedy-unpaid": ("remedy unpaid", "remedies unpaid")}
SIGNAL_WHY = {
    "review-burst": "far more reviews in {window} than the subject's own previous {baseline} predict, which is "
                    "what bought reviews look like (a real rush of sales can look the same)",
    "rating-shift": "a much larger share of {rating}-star reviews in {window} than in the subject's own previous "
                    "{baseline}, which is what bought praise (5 stars) or a campaign of complaints (1 star) look like",
    "dispute-surge": "far more purchase disputes opened in {window} than the merchant's own previous {baseline} "
                     "predict",
    "revocation-spike": "far more certificates revoked in {window} than the subject's own previous {baseline} "
                        "predict",
    "spot-check-failure-spike": "far more failed spot checks recorded in {window} than the subject's own previous "
                                "{baseline} predict",
    "remedy-unpaid": "a refund or replacement ordered by a final ruling that is neither confirmed nor deemed paid "
                     "{window} after the ruling",
}
SIGNAL_EVIDENCE_SHOWN = 20
"""Leaves, events or remedies linked per warning; the JSON link lists them all (up to the API's limit)."""


def duration(seconds: int) -> str:
    """Seconds in words, as the rules' windows are (whole days, else hours)."""
    if seconds and seconds % DAY_SECONDS == 0:
        days = seconds // DAY_SECONDS
        return "one day" if days == 1 else f"{days} days"
    hours = seconds / 3600
    return f"{hours:g} hour{'s' if hours != 1 else ''}"


def _plural(n: int, kind: str) -> str:
    one, many = SIGNAL_UNITS.get(kind, ("item", "items"))
    return f"{n} {one if n == 1 else many}"


def rule_sentence(rule: Rule) -> str:
    """The rule in one plain sentence, with its threshold (docs/signals.md gives its reasons)."""
    why = SIGNAL_WHY[rule.kind].format(window=duration(rule.window), baseline=duration(rule.baseline),
                                       rating=rule.rating)
    return f"A {SIGNAL_NAMES[rule.kind].lower()} is raised for {why}."


def threshold_text(rule: Rule) -> str:
    """The conditions that must all hold for the rule to fire, from the rule itself."""
    if rule.statistic == "poisson-upper-tail":
        return (f"surprise at least {rule.min_surprise:g} (a chance of 1 in 10<sup>{rule.min_surprise:g}</sup> "
                f"or less under the usual rate), at least {e(_plural(rule.min_count, rule.kind))} in "
                f"{e(duration(rule.window))}, and at least {rule.min_ratio:g} times the expected count")
    if rule.statistic == "binomial-upper-tail":
        return (f"surprise at least {rule.min_surprise:g} (a chance of 1 in 10<sup>{rule.min_surprise:g}</sup> "
                f"or less under the usual share), at least {rule.min_count} reviews in {e(duration(rule.window))}, "
                f"and a {e(rule.rating)}-star share at least {rule.min_shift * 100:g} points above the usual one")
    return f"at least {e(_plural(rule.min_count, rule.kind))} past {e(duration(rule.window))} after the ruling"


def _subject(sig: Signal) -> str:
    if sig.subject_type == "product":
        return "this product"
    if sig.subject_type == "reviewer":
        return f"reviewer pseudonym {code(sig.subject, short=True)}"
    return f"{e(sig.subject_type)} {code(sig.subject)}"


def _numbers(sig: Signal) -> list[tuple[str, str]]:
    """Observed against expected, and how surprising, in words and numbers."""
    rule = sig.rule
    if sig.statistic == "overdue":
        expected = f"none: every ordered remedy is due within {e(duration(rule.window))} of the final ruling"
        return [("Observed", f"{e(_plural(sig.observed, sig.kind))}, each past its deadline"),
                ("Expected", expected)]
    surprise = (f"{sig.value:.1f}: a chance of about 1 in 10<sup>{int(sig.value)}</sup> of seeing this many "
                "if nothing had changed")
    before = e(duration(rule.baseline))
    if sig.statistic == "binomial-upper-tail":
        n, base = sum(sig.data.stars_window or ()), sum(sig.data.stars_baseline or ())
        observed = f"{sig.observed} of {n} reviews gave {e(rule.rating)} stars"
        expected = (f"about {sig.expected:.2f} of {n}, at the share seen before ({sig.baseline_count} of {base} "
                    f"reviews in the previous {before}, smoothed)")
    else:
        observed = e(_plural(sig.observed, sig.kind))
        expected = (f"about {sig.expected:.2f}, from {e(_plural(sig.baseline_count, sig.kind))} in the previous "
                    f"{before} (plus a prior of {rule.prior:g})")
    return [("Observed", observed), ("Expected", expected), ("Surprise", surprise)]


def _evidence(sig: Signal, base: str, as_of: int) -> str:
    d = sig.data
    more = d.total - SIGNAL_EVIDENCE_SHOWN
    tail = f" and {more} more (in the JSON)" if more > 0 else ""
    parts = []
    if d.leaves:
        parts.append(f"{e(d.total)} review{'s' if d.total != 1 else ''}: " + ", ".join(
            f'<a href="{base}/v1/reviews/{i}">review {i}</a>' for i in d.leaves[:SIGNAL_EVIDENCE_SHOWN]) + tail)
    if d.remedies:
        parts.append("<ul>" + "".join(
            f"<li>dispute {code('0x' + r.dispute_id.hex(), short=True)}: due since {when(r.due_since)}, deadline "
            f"{when(r.deadline)}; " + "; ".join(f"{e(ev.event)} in tx {code('0x' + ev.tx_hash.hex(), short=True)}"
                                              for ev in r.events) + "</li>"
            for r in d.remedies[:SIGNAL_EVIDENCE_SHOWN]) + "</ul>")
    elif d.events:
        parts.append("<ul>" + "".join(
            f"<li>{e(ev.event)}, block {e(ev.block_number)}, {when(ev.block_time)}, tx "
            f"{code('0x' + ev.tx_hash.hex(), short=True)}</li>" for ev in d.events[:SIGNAL_EVIDENCE_SHOWN]) + "</ul>"
            + (f"<p>{e(more)} more in the JSON.</p>" if more > 0 else ""))
    query = urllib.parse.urlencode({sig.subject_type: sig.subject, "kind": sig.kind, "at": as_of})
    parts.append(f'<a href="{base}/v1/audit/signals?{e(query)}">This warning as JSON</a> (statistic, threshold, '
                 "counts per window, evidence)")
    return "<br>".join(parts)


def signal_item(sig: Signal, base: str, as_of: int) -> str:
    """One warning: what, about whom, over which window, observed against expected, the threshold, the rule in
    words, and the evidence."""
    name = SIGNAL_NAMES.get(sig.kind, sig.kind)
    if sig.statistic == "overdue":
        window = f"overdue since {when(sig.window_start)}, as of {when(sig.window_end)}"
    else:
        window = (f"{when(sig.window_start)} to {when(sig.window_end)} "
                  f"({e(duration(sig.window_end - sig.window_start))})")
    rows = [("Window", window), *_numbers(sig), ("Threshold", threshold_text(sig.rule)),
            ("The rule", e(rule_sentence(sig.rule))), ("Evidence", _evidence(sig, base, as_of))]
    return (f'<li class="card signal" data-signal="{e(sig.kind)}" data-subject-type="{e(sig.subject_type)}" '
            f'data-subject="{e(sig.subject)}"><h3><span class="status status-warn">{e(name)}</span> '
            f"{_subject(sig)}</h3>{dl(rows)}</li>")


def product_signals(s: Services, product: bytes, record: Mapping[str, Any], as_of: int) -> SignalReport:
    """The signals raised as of ``as_of`` for the product and each of its merchants: the call the signals route
    makes (``GET /v1/audit/signals?product=…&merchant=…``), on the same source."""
    merchants = frozenset(str(to_checksum_address(m["merchant"])) for m in record["merchants"])
    subjects = Subjects(merchants=merchants, products=frozenset({product}), reviewers=frozenset(),
                        issuers=frozenset())
    return signal_source(s).report(as_of=as_of, subjects=subjects)


def warnings_section(report: SignalReport | None, record: Mapping[str, Any], base: str, failed: str = "") -> str:
    """Every signal raised for the product and its merchants as a badge with its data, or a line saying none was,
    naming the rules checked. "Unusual activity", never an accusation: a signal is a reason to look closer."""
    head = '<section aria-labelledby="h-warnings" class="warnings"><h2 id="h-warnings">Unusual activity</h2>'
    if report is None:
        return (f'{head}<p class="status status-info">The warnings could not be computed just now ({e(failed)}); '
                "everything else on this page stands.</p></section>")
    product = str(record["productId"])
    merchants = [str(m["merchant"]) for m in record["merchants"]]
    links = [(f"this product{' and merchant ' + code(merchants[0], short=True) if len(merchants) == 1 else ''}",
              {"product": product, **({"merchant": merchants[0]} if len(merchants) == 1 else {})})]
    if len(merchants) > 1:
        links += [(f"merchant {code(m, short=True)}", {"merchant": m}) for m in merchants]
    json_links = ", ".join(
        f'<a href="{base}/v1/audit/signals?{e(urllib.parse.urlencode({**q, "at": report.as_of}))}">{label}</a>'
        for label, q in links)
    if report.checkpoint is None:
        read = "no review (no checkpoint was anchored by then)"
    else:
        read = (f"{e(report.reviews)} anchored reviews of the whole log (checkpoint {e(report.checkpoint[0])}, "
                f"size {e(report.checkpoint[1])})")
    basis = (f'<p class="meta">Checked as of {when(report.as_of)} against {read} and the chain events indexed by '
             f"then, for this product and {'its merchant' if len(merchants) == 1 else 'its merchants'}. "
             f"The same as JSON: {json_links}.</p>")
    kinds = []
    for rule in RULES:
        name = SIGNAL_NAMES[rule.kind].lower()
        if name not in kinds:
            kinds.append(name)
    signals = report.signals
    if not signals:
        return (f'{head}<p class="none">No unusual activity detected '
                f"(rules: {e(', '.join(kinds))}).</p>{basis}</section>")
    items = "".join(signal_item(sig, base, report.as_of) for sig in signals)
    count = f"{len(signals)} warning{'s' if len(signals) != 1 else ''}"
    return (f"{head}<p><strong>{count} of unusual activity.</strong> A warning is a reason to look closer, not a "
            "verdict: each one below names the data that raised it, the threshold it crossed and the rule "
            "(published with every threshold's reasons in docs/signals.md of TrustLedger's source).</p>"
            f'{basis}<ul class="cards signals">{items}</ul></section>')


def qr_svg(url: str) -> str:
    """The page's address as an inline SVG QR code (segno, server-side: no script, no external service)."""
    buf = io.BytesIO()
    segno.make(url, error="m").save(buf, kind="svg", xmldecl=False, svgns=True, scale=4, border=4,
                                     title=f"QR code of {url}", svgclass="qr", omitsize=True)
    return buf.getvalue().decode()


def verify_section(s: Services, record: Mapping[str, Any], page_url: str, base: str, qr_url: str,
                   latest: CheckpointRecord | None) -> str:
    m = s.ledger.manifest
    contracts = dl((name, code(address)) for name, address in sorted(m.addresses.items()))
    checkpoint = ("No checkpoint is anchored yet." if latest is None else dl([
        ("Checkpoint", e(latest.index)), ("Size", f"{e(latest.size)} reviews"), ("Root", code("0x" + latest.root.hex())),
        ("Anchored", (f"{when(latest.anchored_at)}, block {e(latest.block_number)}, tx "
                     f"{code('0x' + latest.tx_hash.hex(), short=True)}"))]))
    rpc = public_rpc(s.ledger.settings.rpc_url)
    product = e(record["productId"])
    return (
        '<section aria-labelledby="h-verify"><h2 id="h-verify">Verify it yourself</h2>'
        "<p>Each claim above rests on a transaction of a public chain: you need not take this service's word "
        f"for it. Chain id <strong>{e(m.chain_id)}</strong>, contracts:</p>{contracts}"
        f"<h3>The review log's latest checkpoint (as this service indexed it)</h3>{checkpoint}"
        '<h3 id="h-check">Check the reviews in this browser</h3>'
        "<p>Your browser fetches each review's leaf and inclusion proof from this service, hashes them itself "
        "(SHA-256, RFC 6962), and asks the ReviewLog contract, through the JSON-RPC endpoint below, whether the "
        "root it computed is the checkpoint's. Use a node or provider you trust.</p>"
        '<noscript><p class="status status-warn">This check needs JavaScript; everything else on this page '
        "works without it.</p></noscript>"
        '<form id="verify-form" class="verify" aria-labelledby="h-check">'
        f'<p><label for="rpc-url">JSON-RPC URL</label><input id="rpc-url" name="rpc" type="url" value="{e(rpc)}" '
        'inputmode="url" autocomplete="url" spellcheck="false" required></p>'
        f'<p><label for="review-log">ReviewLog contract</label><input id="review-log" name="reviewLog" type="text" '
        f'value="{e(m.address("ReviewLog"))}" spellcheck="false" pattern="0x[0-9a-fA-F]{{40}}" required></p>'
        f'<p><label for="chain-id">Chain id</label><input id="chain-id" name="chainId" type="text" '
        f'inputmode="numeric" value="{e(m.chain_id)}" pattern="[0-9]+" required></p>'
        '<p><button id="verify-run" type="submit">Check in this browser</button></p></form>'
        '<div id="verify-chain" class="result" data-state="waiting" role="status" aria-live="polite"></div>'
        '<div id="verify-summary" class="result" data-state="waiting" role="status" aria-live="polite">'
        "Not run yet.</div>"
        "<h3>Download the evidence</h3><ul>"
        f'<li><a href="{base}/v1/products/{product}" download="product-{product}.json">This record as JSON</a> '
        "(the same data, canonical JSON)</li>"
        "<li>Each certificate's and each anchored review's proof bundle (links beside them above): one file that "
        "verifies with no server at all (<code>trustledger verify</code>).</li>"
        f'<li><a href="{base}/v1/log">The review log</a> and its <a href="{base}/v1/log/checkpoints">anchored '
        "checkpoints</a>, to recompute any root.</li></ul>"
        f'<h3>This page as a QR code</h3><figure class="qr-figure">{qr_svg(page_url)}'
        f'<figcaption><a href="{e(page_url)}">{e(page_url)}</a> — '
        f'<a href="{e(qr_url)}" download="qr-{product}.svg">download the QR code (SVG)</a></figcaption></figure>'
        "</section>")


# ------------------------------------------------------------------------------------------------ routes

def parse_product(value: str) -> bytes | None:
    """The 32-byte product id of ``0x`` + 64 hex digits (any case, as the JSON API accepts), else None."""
    return bytes.fromhex(value[2:]) if PRODUCT_ID.fullmatch(value) else None


def parse_at(value: str | None) -> int | None:
    """``at`` as the JSON API takes it (unix seconds, 0 … 2^40-1); raises ValueError otherwise."""
    if value is None:
        return None
    if not value.isascii() or not value.isdigit() or len(value) > 13:
        raise ValueError(value)
    at = int(value)
    if at > UINT40_MAX:
        raise ValueError(value)
    return at


def _known(record: Mapping[str, Any], total_reviews: int) -> bool:
    """Whether the ledger holds anything about the product by the record's moment (a review accepted by then,
    a certificate, a dispute, a merchant selling it)."""
    return bool(record["certificates"] or record["disputes"] or record["merchants"] or total_reviews)


def _latest_checkpoint(s: Services, as_of: int) -> CheckpointRecord | None:
    anchored = [c for c in s.indexer.checkpoints() if c.anchored_at <= as_of]
    return anchored[-1] if anchored else None


@router.get("/p/{productId}", response_class=HTMLResponse, include_in_schema=False, name="product_page")
def product_page(request: Request, s: ServicesDep, productId: str, at: str | None = None) -> Response:
    """The consumer page of one product (docs/consumer-page.md)."""
    product = parse_product(productId)
    if product is None:
        return error_page(request, 422, "That is not a product id",
                          f"A product id is <code>0x</code> followed by 64 hexadecimal digits (the keccak-256 of "
                          f"<code>gtin:</code> and the product's GTIN); the address asked for {code(productId[:80])} "
                          "is not one.")
    try:
        as_of_asked = parse_at(at)
    except ValueError:
        return error_page(request, 422, "That is not a time",
                          "<code>at</code> is a time in unix seconds, from 0 to 2<sup>40</sup>-1.")
    try:
        record = product_record(product, indexer=s.indexer, leaves=s.ledger.reviews, as_of=as_of_asked,
                                tally=s.tally).as_json()
        as_of = int(record["asOf"])
        latest = _latest_checkpoint(s, as_of)
        total, rows = review_rows(s, product, as_of_asked, latest)
    except LedgerError as exc:
        problem = problem_for(exc)
        if problem.status >= 500:
            s.log.exception("consumer page failed", exc_info=exc)
        return error_page(request, problem.status, problem.title,
                          e(problem.detail or "") + " Try again in a moment.")
    product_hex = "0x" + product.hex()
    signals: SignalReport | None = None
    signals_failed = ""
    try:
        signals = product_signals(s, product, record, as_of)
    except LedgerError as exc:  # the warnings are an addition: the record stands without them
        problem = problem_for(exc)
        s.log.exception("consumer page: signals failed", exc_info=exc)
        signals_failed = problem.title
    if not _known(record, total):
        return error_page(request, 404, "No record of this product",
                          f"The ledger holds no certificate, review or dispute of product {code(product_hex)}"
                          + (f" as of {when(as_of)}" if as_of_asked is not None else "") +
                          ". Nothing recorded is not a warning sign by itself: it only means there is nothing "
                          "here to check.")
    base = request.scope.get("root_path", "")
    page_url = str(request.url_for("product_page", productId=product_hex))
    qr_url = str(request.url_for("product_qr", productId=product_hex))
    config = {"productId": product_hex, "api": base, "leaves": [r.index for r in rows]}
    heading = (f'<h1>Product record</h1><p class="lead">Product {code(product_hex)}, as of {when(as_of)}'
               + ("" if as_of_asked is None else " (a past or future moment you asked for)") + ".</p>"
               '<nav aria-label="On this page"><ul class="toc"><li><a href="#h-warnings">Unusual activity</a></li>'
               '<li><a href="#h-certs">Certificates</a></li>'
               '<li><a href="#h-reviews">Reviews</a></li><li><a href="#h-disputes">Disputes</a></li>'
               '<li><a href="#h-merchants">Merchants</a></li><li><a href="#h-verify">Verify it yourself</a></li>'
               "</ul></nav>")
    body = (heading + warnings_section(signals, record, base, signals_failed) + certificates_section(record, base)
            + reviews_section(record, total, rows, base) + disputes_section(record) + merchants_section(record)
            + verify_section(s, record, page_url, base, qr_url, latest))
    return HTMLResponse(layout(request, f"Product {product_hex[:10]}… — TrustLedger", body, config=config),
                        headers=PAGE_HEADERS)


@router.get("/p/{productId}/qr.svg", include_in_schema=False, name="product_qr")
def product_qr(request: Request, productId: str) -> Response:
    """The page's QR code alone, as an SVG file to print on a label (the same code the page shows)."""
    product = parse_product(productId)
    if product is None:
        return error_page(request, 422, "That is not a product id",
                          "A product id is <code>0x</code> followed by 64 hexadecimal digits.")
    page_url = str(request.url_for("product_page", productId="0x" + product.hex()))
    return Response(qr_svg(page_url), media_type="image/svg+xml",
                    headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"})


@router.get("/static/{name}", include_in_schema=False)
def static_asset(name: str) -> Response:
    """The page's own script and stylesheet, from a fixed list (no directory is exposed, no CDN is used)."""
    media = STATIC_TYPES.get(name)
    if media is None:
        raise Problem(404, "not-found", "Not found", f"no static asset {name[:80]!r}")
    return FileResponse(STATIC_DIR / name, media_type=media,
                        headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"})


__all__ = ["MAX_REVIEWS_SHOWN", "ORDER", "parse_at", "parse_product", "public_rpc", "router"]
