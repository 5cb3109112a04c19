#!/usr/bin/env python3
"""An independent, plain re-implementation of the merchant trust profile (docs/trust-profile.md).

It imports nothing from ``ledger``: it reads the raw event log with ``eth_getLogs`` (decoding the few events
it needs from their Solidity signatures, written out below) and the review log's leaves, and applies the
formula as the document states it, in exact rationals. Its output is the profile's canonical JSON, which must
equal ``ledger.trust.trust_profile(...).to_json()`` byte for byte (``tests/chain/test_trust.py`` checks it).

    python scripts/trust_profile_plain.py --rpc http://127.0.0.1:8545 --manifest deployment.json \\
        --merchant 0x... --leaves leaves.txt [--as-of UNIX_SECONDS]

``leaves.txt``: the log's entries from index 0, one per line, each as hex of its canonical bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from fractions import Fraction
from typing import Any

from eth_abi.abi import decode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from web3 import Web3

# --- the events read, as declared in contracts/interfaces (enums are uint8; ProductId is bytes32) ---------

Field = tuple[str, str, bool]  # name, ABI type, indexed
EVENTS: dict[str, dict[str, list[Field]]] = {
    "TrustGovernance": {
        "MerchantAdmitted": [("merchant", "address", True), ("licenceHash", "bytes32", False)],
        "MerchantSanctioned": [("merchant", "address", True), ("kind", "uint8", False), ("status", "uint8", False),
                               ("reasonCode", "bytes32", False), ("rulingRef", "bytes32", True)],
        "MerchantRestored": [("merchant", "address", True), ("reasonCode", "bytes32", False),
                             ("rulingRef", "bytes32", True)],
        "IssuerKeyCompromised": [("issuer", "address", True), ("compromisedAt", "uint40", False),
                                 ("declaredBy", "address", True)],
    },
    "CertificateRegistry": {
        "CertificateIssued": [("id", "bytes32", True), ("productId", "bytes32", True), ("merchant", "address", True),
                              ("issuer", "address", False), ("lot", "bytes32", False), ("kind", "uint8", False),
                              ("documentHash", "bytes32", False), ("standard", "bytes32", False),
                              ("issuedAt", "uint40", False), ("validUntil", "uint40", False),
                              ("anchoredBy", "address", False)],
        "CertificateRevoked": [("id", "bytes32", True), ("revokedBy", "address", True),
                               ("reasonCode", "bytes32", False), ("actId", "uint256", False)],
        "CertificateSuperseded": [("id", "bytes32", True), ("replacementId", "bytes32", True),
                                  ("reasonCode", "bytes32", False)],
    },
    "ReviewLog": {
        "CheckpointAnchored": [("index", "uint256", True), ("size", "uint64", False), ("root", "bytes32", True),
                               ("timestamp", "uint40", False)],
    },
    "DisputeRegistry": {
        "PurchaseDisputeOpened": [("id", "bytes32", True), ("merchant", "address", True),
                                  ("productId", "bytes32", True), ("orderCommitment", "bytes32", False),
                                  ("claimant", "address", False), ("claimantCommitment", "bytes32", False),
                                  ("category", "bytes32", False), ("responseDeadline", "uint40", False)],
        "DisputeResponded": [("id", "bytes32", True), ("respondent", "address", True),
                             ("evidenceHash", "bytes32", False)],
        "DisputeRuled": [("id", "bytes32", True), ("arbitrator", "address", True), ("round", "uint8", False),
                         ("outcome", "uint8", False), ("remedyAmount", "uint96", False),
                         ("rationaleHash", "bytes32", False), ("byDefault", "bool", False)],
        "DisputeFinal": [("id", "bytes32", True), ("outcome", "uint8", False)],
        "RemedyReported": [("id", "bytes32", True), ("merchant", "address", True), ("evidenceHash", "bytes32", False),
                           ("confirmDeadline", "uint40", False)],
        "RemedyConfirmed": [("id", "bytes32", True), ("deemed", "bool", False)],
        "RemedyContested": [("id", "bytes32", True), ("evidenceHash", "bytes32", False)],
        "RemedyRuled": [("id", "bytes32", True), ("arbitrator", "address", True), ("fulfilled", "bool", False),
                        ("rationaleHash", "bytes32", False)],
        "ReviewTakenDown": [("leafIndex", "uint64", True), ("disputeId", "bytes32", True)],
    },
}


def topic0(name: str, fields: list[Field]) -> bytes:
    return keccak(text=f"{name}({','.join(t for _, t, _ in fields)})")


def fetch_events(w3: Web3, addresses: dict[str, str], from_block: int, to_block: int) -> list[dict[str, Any]]:
    """The events above, from ``eth_getLogs`` over the four contracts, decoded, in chain order."""
    by_key: dict[tuple[str, bytes], tuple[str, list[Field]]] = {}
    for contract, events in EVENTS.items():
        for name, fields in events.items():
            by_key[(addresses[contract].lower(), topic0(name, fields))] = (name, fields)
    logs = w3.eth.get_logs({"fromBlock": from_block, "toBlock": to_block,
                            "address": [Web3.to_checksum_address(addresses[c]) for c in EVENTS]})
    times: dict[int, int] = {}
    out = []
    for log in sorted(logs, key=lambda entry: (int(entry["blockNumber"]), int(entry["logIndex"]))):
        topics = [bytes(t) for t in log["topics"]]
        key = (str(log["address"]).lower(), topics[0] if topics else b"")
        if key not in by_key:
            continue
        name, fields = by_key[key]
        args: dict[str, Any] = {}
        indexed = iter(topics[1:])
        plain = [(n, t) for n, t, i in fields if not i]
        values = iter(decode([t for _, t in plain], bytes(log["data"])))
        for n, t, i in fields:
            args[n] = decode([t], next(indexed))[0] if i else next(values)
            if t == "address":
                args[n] = to_checksum_address(args[n])
        number = int(log["blockNumber"])
        if number not in times:
            times[number] = int(w3.eth.get_block(number)["timestamp"])
        out.append({"event": name, "args": args, "block": number, "logIndex": int(log["logIndex"]),
                    "time": times[number], "tx": bytes(log["transactionHash"])})
    return out


# --- the formula (docs/trust-profile.md) ------------------------------------------------------------------

WEIGHTS = {"certificates": 30, "reviews": 30, "disputeResponse": 10, "disputeOutcome": 15, "remedies": 15}
PRIORS = {"certificates": (1, 1), "reviews": (20, 20), "disputeResponse": (1, 1), "disputeOutcome": (1, 1),
          "remedies": (1, 1)}
REMEDY_PERIOD = 14 * 86400
STANDING = {0: ("notAdmitted", Fraction(0)), 1: ("active", Fraction(1)), 2: ("suspended", Fraction(1, 2)),
            3: ("banned", Fraction(0))}
SANCTIONS = {0: ("warning", 1), 1: ("suspension", 3), 2: ("ban", 5)}
DISPUTE_STEPS = ("DisputeResponded", "DisputeRuled", "DisputeFinal", "RemedyReported", "RemedyConfirmed",
                 "RemedyContested", "RemedyRuled")
OUTCOMES = {1: "refund", 2: "replacement", 3: "partialRefund", 4: "rejected"}
LEAF_MEMBERS = {"v", "productId", "merchant", "rating", "content", "reviewer", "purchase", "submittedAt"}
HEX32 = re.compile(r"0x[0-9a-f]{64}")
HEX20 = re.compile(r"0x[0-9a-f]{40}")


def frac(x: Fraction) -> str:
    return f"{x.numerator}/{x.denominator}"


def hx(b: bytes) -> str:
    return "0x" + bytes(b).hex()


def mth(hashes: list[bytes]) -> bytes:
    """RFC 6962 Merkle tree hash."""
    if not hashes:
        return hashlib.sha256(b"").digest()
    if len(hashes) == 1:
        return hashes[0]
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return hashlib.sha256(b"\x01" + mth(hashes[:k]) + mth(hashes[k:])).digest()


def parse_leaf(raw: bytes) -> dict[str, Any] | None:
    """The leaf as a dict when it is a well-formed, canonical review leaf of format 1; else None."""
    try:
        obj = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(obj, dict) or set(obj) != LEAF_MEMBERS:
        return None

    def integer(v: Any, lo: int, hi: int) -> bool:
        return type(v) is int and lo <= v <= hi

    if not (integer(obj["v"], 1, 1) and integer(obj["rating"], 1, 5) and integer(obj["submittedAt"], 0, 2**53 - 1)):
        return None
    if not all(isinstance(obj[k], str) and HEX32.fullmatch(obj[k])
               for k in ("productId", "content", "reviewer", "purchase")):
        return None
    if not (isinstance(obj["merchant"], str) and HEX20.fullmatch(obj["merchant"])):
        return None
    if json.dumps(obj, sort_keys=True, separators=(",", ":")).encode() != raw:
        return None  # not the one canonical spelling
    return obj


def profile(events: list[dict[str, Any]], merchant: str, leaves: list[bytes], as_of: int,
            chain_id: int) -> dict[str, Any]:
    merchant = to_checksum_address(merchant)
    ev = [e for e in events if e["time"] <= as_of]

    # certificates
    compromised: dict[str, int] = {}
    certs: dict[bytes, dict[str, Any]] = {}
    for e in ev:
        a = e["args"]
        if e["event"] == "IssuerKeyCompromised":
            compromised[a["issuer"]] = a["compromisedAt"]
        elif e["event"] == "CertificateIssued":
            certs[a["id"]] = {"merchant": a["merchant"], "issuer": a["issuer"], "kind": a["kind"],
                              "validUntil": a["validUntil"], "anchored": e["time"], "revoked": None,
                              "byGovernance": False, "superseded": False}
        elif e["event"] == "CertificateRevoked":
            certs[a["id"]].update(revoked=e["time"], byGovernance=a["actId"] != 0)
        elif e["event"] == "CertificateSuperseded":
            certs[a["id"]]["superseded"] = True
    kinds = [0, 0, 0]
    statuses = dict.fromkeys(("valid", "revoked", "failed", "expired", "superseded", "compromised"), 0)
    for c in certs.values():
        if c["merchant"] != merchant:
            continue
        kinds[c["kind"]] += 1
        comp = compromised.get(c["issuer"], 0)
        if comp and c["anchored"] >= comp:
            status = "compromised"
        elif c["revoked"] is not None and (c["byGovernance"] or comp == 0 or c["revoked"] < comp):
            status = "revoked"
        elif c["superseded"]:
            status = "superseded"
        elif c["kind"] == 2:
            status = "failed"
        elif as_of > c["validUntil"]:
            status = "expired"
        else:
            status = "valid"
        statuses[status] += 1

    # purchase disputes
    disputes: dict[bytes, list[dict[str, Any]]] = {}
    for e in ev:
        if e["event"] == "PurchaseDisputeOpened" and e["args"]["merchant"] == merchant:
            disputes[e["args"]["id"]] = [e]
        elif e["event"] in DISPUTE_STEPS and e["args"]["id"] in disputes:
            disputes[e["args"]["id"]].append(e)
    d = dict.fromkeys(("timely", "missed", "pending", "default", "notFinal", "fulfilled", "contested", "unpaid",
                       "remedyPending"), 0)
    final = dict.fromkeys(OUTCOMES, 0)
    for history in disputes.values():
        names = [e["event"] for e in history]
        if "DisputeResponded" in names:
            d["timely"] += 1
        elif as_of > history[0]["args"]["responseDeadline"]:
            d["missed"] += 1
        else:
            d["pending"] += 1
        if any(e["event"] == "DisputeRuled" and e["args"]["byDefault"] for e in history):
            d["default"] += 1
        outcome, remedy, final_time, confirm_by = 0, "", 0, 0
        for e in history:
            if e["event"] == "DisputeFinal":
                outcome, final_time = e["args"]["outcome"], e["time"]
                remedy = "due" if outcome in (1, 2, 3) else ""
            elif e["event"] == "RemedyReported":
                remedy, confirm_by = "reported", e["args"]["confirmDeadline"]
            elif e["event"] == "RemedyConfirmed":
                remedy = "fulfilled"
            elif e["event"] == "RemedyContested":
                remedy = "contested"
            elif e["event"] == "RemedyRuled":
                remedy = "fulfilled" if e["args"]["fulfilled"] else "due"
        if outcome == 0:
            d["notFinal"] += 1
            continue
        final[outcome] += 1
        if remedy == "reported":
            remedy = "fulfilled" if as_of > confirm_by else "remedyPending"
        elif remedy == "due":
            remedy = "unpaid" if as_of > final_time + REMEDY_PERIOD else "remedyPending"
        if remedy:
            d[remedy] += 1

    # standing and sanctions
    standing, counts, restorations, history_out = 0, [0, 0, 0], 0, []
    for e in ev:
        a = e["args"]
        if e["event"] not in ("MerchantAdmitted", "MerchantSanctioned", "MerchantRestored") \
                or a["merchant"] != merchant:
            continue
        if e["event"] == "MerchantAdmitted":
            standing = 1
            continue
        kind = None
        if e["event"] == "MerchantSanctioned":
            kind, standing = SANCTIONS[a["kind"]][0], a["status"]
            counts[a["kind"]] += 1
        else:
            standing, restorations = 1, restorations + 1
        history_out.append({"event": e["event"], "kind": kind, "status": STANDING[standing][0],
                            "reasonCode": hx(a["reasonCode"]), "rulingRef": hx(a["rulingRef"]), "time": e["time"],
                            "block": e["block"], "tx": hx(e["tx"])})

    # reviews: only leaves that reproduce an anchored checkpoint's root count
    checkpoints = [(e["args"]["size"], e["args"]["index"], e["args"]["root"]) for e in ev
                   if e["event"] == "CheckpointAnchored"]
    anchored = max((s for s, _, _ in checkpoints), default=0)
    hashes = [hashlib.sha256(b"\x00" + leaf).digest() for leaf in leaves]
    verified, verified_index = 0, None
    for size, index, root in sorted(checkpoints, key=lambda c: (-c[0], c[1])):
        if size <= len(leaves) and mth(hashes[:size]) == root:
            verified, verified_index = size, index
            break
    taken_down = {e["args"]["leafIndex"] for e in ev if e["event"] == "ReviewTakenDown"}
    stars = [0] * 5
    excluded = dict.fromkeys(("beyondCheckpoint", "rootMismatch", "duplicatePurchase", "takenDown"), 0)
    malformed = 0
    seen: set[str] = set()
    for i, raw in enumerate(leaves):
        leaf = parse_leaf(raw)
        if leaf is None:
            malformed += 1
            continue
        if leaf["merchant"] != merchant.lower():
            continue
        if i >= anchored:
            excluded["beyondCheckpoint"] += 1
        elif i >= verified:
            excluded["rootMismatch"] += 1
        elif leaf["purchase"] in seen:
            excluded["duplicatePurchase"] += 1
        else:
            seen.add(leaf["purchase"])
            if i in taken_down:
                excluded["takenDown"] += 1
            else:
                stars[leaf["rating"] - 1] += 1

    # the score
    observed = {
        "certificates": (statuses["valid"], statuses["revoked"] + statuses["failed"]),
        "reviews": (sum(n * r for r, n in enumerate(stars)), sum(n * (4 - r) for r, n in enumerate(stars))),
        "disputeResponse": (d["timely"], d["missed"]),
        "disputeOutcome": (final[4], final[1] + final[2] + final[3]),
        "remedies": (d["fulfilled"], d["unpaid"]),
    }
    terms, total = {}, Fraction(0)
    for name, weight in WEIGHTS.items():
        fav, unf = observed[name]
        pf, pu = PRIORS[name]
        value = Fraction(fav + pf, fav + unf + pf + pu)
        total += weight * value
        terms[name] = {"weight": weight, "favourable": fav, "unfavourable": unf, "priorFavourable": pf,
                       "priorUnfavourable": pu, "value": frac(value)}
    points = counts[0] * 1 + counts[1] * 3 + counts[2] * 5
    history_factor = Fraction(10, 10 + points)
    exact = STANDING[standing][1] * history_factor * total
    rounded = (2 * exact.numerator + exact.denominator) // (2 * exact.denominator)  # floor(exact + 1/2)

    return {
        "v": 1, "formula": "trustledger-merchant-trust/1", "merchant": merchant, "chainId": chain_id,
        "asOf": as_of, "score": rounded, "scoreExact": frac(exact), "terms": terms,
        "factors": {"standing": frac(STANDING[standing][1]), "sanctionPoints": points,
                    "history": frac(history_factor)},
        "certificates": {"byKind": {"certificate": kinds[0], "spotCheckPass": kinds[1], "spotCheckFail": kinds[2]},
                         "byStatus": statuses},
        "reviews": {"leavesGiven": len(leaves), "anchoredSize": anchored, "verifiedSize": verified,
                    "verifiedCheckpoint": verified_index, "counted": sum(stars),
                    "stars": {str(r + 1): n for r, n in enumerate(stars)}, "excluded": excluded,
                    "malformed": malformed},
        "disputes": {"opened": len(disputes),
                     "responses": {"timely": d["timely"], "missed": d["missed"], "pending": d["pending"],
                                   "defaultRulings": d["default"]},
                     "final": {OUTCOMES[k]: n for k, n in final.items()}, "notFinal": d["notFinal"],
                     "remedies": {"ordered": final[1] + final[2] + final[3], "fulfilled": d["fulfilled"],
                                  "contested": d["contested"], "unpaid": d["unpaid"], "pending": d["remedyPending"]}},
        "sanctions": {"standing": STANDING[standing][0], "warnings": counts[0], "suspensions": counts[1],
                      "bans": counts[2], "restorations": restorations, "history": history_out},
    }


def to_json(doc: dict[str, Any]) -> str:
    """RFC 8785 canonical JSON for these values (ASCII strings, integers, null)."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rpc", required=True)
    parser.add_argument("--manifest", required=True, help="the deployment manifest (contracts, deployBlock)")
    parser.add_argument("--merchant", required=True)
    parser.add_argument("--leaves", required=True, help="file: one hex-encoded leaf per line, from index 0")
    parser.add_argument("--as-of", type=int, help="unix seconds (default: the latest block's time)")
    parser.add_argument("--to-block", type=int, help="last block read (default: latest)")
    args = parser.parse_args(argv)
    w3 = Web3(Web3.HTTPProvider(args.rpc))
    with open(args.manifest, encoding="utf-8") as f:
        manifest = json.load(f)
    addresses = {name: manifest["contracts"][name]["address"] for name in EVENTS}
    to_block = args.to_block if args.to_block is not None else int(w3.eth.block_number)
    as_of = args.as_of if args.as_of is not None else int(w3.eth.get_block(to_block)["timestamp"])
    with open(args.leaves, encoding="ascii") as f:
        leaves = [bytes.fromhex(line.strip().removeprefix("0x")) for line in f if line.strip()]
    events = fetch_events(w3, addresses, int(manifest["deployBlock"]), to_block)
    print(to_json(profile(events, args.merchant, leaves, as_of, int(w3.eth.chain_id))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
