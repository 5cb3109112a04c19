"""The privacy scans, shared by the privacy check's own scene (tests/chain/test_privacy.py) and the runs of the
demo and the hammer (tests/cli/test_demo.py, tests/node/test_hammer.py): each returns its findings (a place and
the label of what was found there, never the value), so that a test asserts the list is empty.

* :func:`scan_chain`: the calldata of every transaction and the topics and data of every log from block 0 to the
  head, searched for plaintexts and decoded by the artifacts' ABIs (:class:`Chain`): every ``string`` empty or an
  evidence URI, every dynamic ``bytes`` 32 bytes or a signature, no ``bytes32`` holding padded text;
* :func:`scan_database`: every cell of every row of every table, for plaintexts and salts;
* :func:`scan_answers`: API answers, for plaintexts, salts and salt members;
* :func:`scan_home`: a ``trustledger up`` state folder's chain and SQLite database, as the demo and hammer runs
  leave them.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from eth_abi import decode as abi_decode
from eth_utils.crypto import keccak
from web3 import Web3

from ledger.artifacts import load
from ledger.manifest import Manifest
from ledger.storage import Database

CONTRACTS = ("TrustForwarder", "TrustGovernance", "CertificateRegistry", "ReviewLog", "DisputeRegistry")


def spellings(value: str) -> list[bytes]:
    """The byte strings a plaintext would show as: its UTF-8, its UTF-8 spelled in hex (as a contract
    argument or a JSON member would carry it), and its JSON string body with non-ASCII escaped (``\\u738b``),
    each searched for case-insensitively."""
    raw = value.encode("utf-8")
    return [raw.lower(), raw.hex().encode("ascii"), json.dumps(value)[1:-1].lower().encode("ascii")]


def find_plaintexts(where: str, data: bytes, targets: dict[str, str]) -> list[str]:
    haystack = bytes(data).lower()
    return [f"{where}: {label}" for label, value in targets.items()
            if any(s in haystack for s in spellings(value))]


# -- the chain: calldata and events decoded by the artifacts' ABIs --------------------------------------------

URI = re.compile(r"(ipfs|ar|https)://[A-Za-z0-9._~/?#=&%:+-]+")
"""An evidence URI: a content address or a plain https link. No '@' (user info, an e-mail) and no spaces."""
SIGNATURE_LENGTHS = (64, 65)  # EIP-2098 compact, or r || s || v


def abi_type(param: dict[str, Any]) -> str:
    t = str(param["type"])
    if t.startswith("tuple"):
        return "(" + ",".join(abi_type(c) for c in param["components"]) + ")" + t[len("tuple"):]
    return t


def padded_text(value: bytes) -> bool:
    """A bytes32 holding short text (printable ASCII, zero-padded) rather than a hash or a number."""
    body = value.rstrip(b"\x00")
    return len(body) >= 4 and len(body) < len(value) and all(0x20 <= b < 0x7F for b in body)


class Chain:
    """The five contracts' ABIs by address, and the checks of a call, a deployment and an event."""

    def __init__(self, addresses: Mapping[str, str]) -> None:
        self.by_address = {addr.lower(): name for name, addr in addresses.items()}
        self.abis = {name: load(name).abi for name in CONTRACTS}
        self.initcode = {name: bytes.fromhex(load(name).bytecode.removeprefix("0x")) for name in CONTRACTS}
        self.decoded: set[str] = set()  # "Contract.function" and "Contract.Event" of everything decoded
        self.functions: dict[str, dict[bytes, dict[str, Any]]] = {}
        self.events: dict[str, dict[bytes, dict[str, Any]]] = {}
        for name, abi in self.abis.items():
            fns, evs = {}, {}
            for item in abi:
                sig = f"{item.get('name')}({','.join(abi_type(p) for p in item.get('inputs', []))})"
                if item["type"] == "function":
                    fns[keccak(text=sig)[:4]] = item
                elif item["type"] == "event":
                    evs[keccak(text=sig)] = item
            self.functions[name], self.events[name] = fns, evs

    def values(self, params: list[dict[str, Any]], values: Any, where: str) -> list[str]:
        """What is wrong with decoded ``values`` of ``params``: a string that is not a URI, odd-sized bytes,
        text in a bytes32; a forwarded request's ``data`` is checked as a call to its ``to``."""
        found: list[str] = []
        for p, v in zip(params, values, strict=True):
            here, t = f"{where}.{p['name']}", str(p["type"])
            if t.endswith("]"):
                inner = {**p, "type": t[: t.rindex("[")]}
                found += [f for i, x in enumerate(v) for f in self.values([{**inner, "name": str(i)}], [x], here)]
            elif t == "tuple":
                names = [c["name"] for c in p["components"]]
                if {"to", "data", "signature"} <= set(names):  # an ERC-2771 forward request
                    fields = dict(zip(names, v, strict=True))
                    found += self.call(str(fields["to"]), bytes(fields["data"]), f"{here}>")
                    rest = [(c, x) for c, x in zip(p["components"], v, strict=True) if c["name"] != "data"]
                    found += self.values([c for c, _ in rest], [x for _, x in rest], here)
                else:
                    found += self.values(p["components"], v, here)
            elif t == "string" and v != "" and not URI.fullmatch(v):
                found.append(f"{here}: a string that is not an evidence URI ({len(v)} characters)")
            elif t == "bytes" and len(v) != 32 and len(v) not in SIGNATURE_LENGTHS:
                found.append(f"{here}: {len(v)} bytes, neither a hash nor a signature")
            elif t == "bytes32" and padded_text(bytes(v)):
                found.append(f"{here}: text in a bytes32")
        return found

    def call(self, to: str, data: bytes, where: str) -> list[str]:
        name = self.by_address.get(to.lower())
        if name is None:
            return [f"{where}{len(data)} bytes of calldata to {to}, not a TrustLedger contract"]
        fn = self.functions[name].get(data[:4])
        if fn is None:
            return [f"{where}selector 0x{data[:4].hex()} is no function of {name}"]
        here = f"{where}{name}.{fn['name']}"
        try:
            decoded = abi_decode([abi_type(p) for p in fn["inputs"]], data[4:], strict=True)
        except Exception as exc:  # noqa: BLE001 - any decoding failure is the finding
            return [f"{here}: does not decode ({type(exc).__name__})"]
        self.decoded.add(f"{name}.{fn['name']}")
        return self.values(fn["inputs"], decoded, here)

    def deployment(self, data: bytes, where: str) -> list[str]:
        for name, code in self.initcode.items():
            if data.startswith(code):
                ctor = next((i for i in self.abis[name] if i["type"] == "constructor"), {"inputs": []})
                decoded = abi_decode([abi_type(p) for p in ctor["inputs"]], data[len(code):], strict=True)
                return self.values(ctor["inputs"], decoded, f"{where}{name}.constructor")
        return [f"{where}a deployment of code that is no TrustLedger artifact"]

    def event(self, log: dict[str, Any], where: str) -> list[str]:
        name = self.by_address.get(str(log["address"]).lower())
        topics = [bytes(t) for t in log["topics"]]
        if name is None:
            return [f"{where}a log of {log['address']}, not a TrustLedger contract"]
        ev = self.events[name].get(topics[0]) if topics else None
        if ev is None:
            return [f"{where}a log of {name} that is none of its events"]
        here = f"{where}{name}.{ev['name']}"
        indexed = [p for p in ev["inputs"] if p["indexed"]]
        plain = [p for p in ev["inputs"] if not p["indexed"]]
        if len(topics) != 1 + len(indexed):
            return [f"{here}: {len(topics)} topics for {len(indexed)} indexed arguments"]
        try:
            data = abi_decode([abi_type(p) for p in plain], bytes(log["data"]), strict=True)
        except Exception as exc:  # noqa: BLE001 - any decoding failure is the finding
            return [f"{here}: data does not decode ({type(exc).__name__})"]
        self.decoded.add(f"{name}.{ev['name']}")
        found = self.values(plain, data, here)
        # indexed value types are one word each (a dynamic one would be its hash: no event has one)
        found += [f"{here}.{p['name']}: indexed text in a topic" for p, t in zip(indexed, topics[1:], strict=True)
                  if p["type"] == "bytes32" and padded_text(t)]
        return found


def scan_chain(w3: Any, chain: Chain, targets: dict[str, str], *, strict_from: int) -> tuple[list[str], int, int]:
    """Findings over every transaction and log from block 0 to the head, and how many of each were read.

    Blocks before ``strict_from`` (the session's setup, and whatever other suites left) are searched for the
    plaintexts; from ``strict_from`` on, every call and deployment must also decode as a TrustLedger one.
    """
    found: list[str] = []
    head = w3.eth.block_number
    txs = 0
    for n in range(head + 1):
        for tx in w3.eth.get_block(n, full_transactions=True)["transactions"]:
            txs += 1
            data = bytes(tx["input"] if "input" in tx else tx["data"])  # eth-tester names it "data"
            where = f"block {n} tx {tx['hash'].hex()[:10]} "
            found += find_plaintexts(where + "calldata", data, targets)
            if not data:
                continue  # a plain value transfer (funding an actor)
            if tx["to"] is None:
                checks = chain.deployment(data, where)
            else:
                checks = chain.call(tx["to"], data, where)
            found += checks if n >= strict_from or not any("not a TrustLedger" in c for c in checks) else []
    logs = w3.eth.get_logs({"fromBlock": 0, "toBlock": head})
    for log in logs:
        where = f"block {log['blockNumber']} log {log['logIndex']} "
        found += find_plaintexts(where + "data", bytes(log["data"]), targets)
        found += find_plaintexts(where + "topics", b"".join(bytes(t) for t in log["topics"]), targets)
        checks = chain.event(dict(log), where)
        found += checks if log["blockNumber"] >= strict_from or not any(
            "not a TrustLedger" in c for c in checks) else []
    return found, txs, len(logs)


# -- the database ---------------------------------------------------------------------------------------------


def table_rows(db: Database) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every row of every table the database holds (not only those the schema names: Alembic's too)."""
    with db.engine.connect() as conn:
        names = sa.inspect(conn).get_table_names(schema=db.schema)
        for name in sorted(names):
            table = sa.Table(name, sa.MetaData(), autoload_with=conn, schema=db.schema)
            for row in conn.execute(sa.select(table)).mappings():
                yield name, dict(row)


def cell_bytes(value: Any) -> bytes:
    if value is None:
        return b""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    return str(value).encode("utf-8")


def salt_spellings(salt: bytes) -> list[bytes]:
    """A 32-byte salt as it could appear: raw, hex (any case, with or without 0x), base64 and base64url."""
    return [salt, salt.hex().encode(), base64.b64encode(salt), base64.urlsafe_b64encode(salt).rstrip(b"=")]


def has_salt(data: bytes, salts: dict[str, bytes]) -> list[str]:
    lowered = data.lower()
    return [label for label, salt in salts.items()
            if salt in data or any(s.lower() in lowered for s in salt_spellings(salt)[1:])]


def scan_database(db: Database, targets: dict[str, str], salts: dict[str, bytes]) -> tuple[list[str], int]:
    """Plaintexts in any cell of any row, and salts anywhere but inside the sealed content (where they are
    encrypted, so they cannot show: any hit there is a finding too)."""
    found, rows = [], 0
    for table, row in table_rows(db):
        rows += 1
        for column, value in row.items():
            data = cell_bytes(value)
            where = f"{table}.{column}"
            found += find_plaintexts(where, data, targets)
            found += [f"{where}: the salt of {label}" for label in has_salt(data, salts)]
    return found, rows


# -- the API --------------------------------------------------------------------------------------------------


def salt_members(doc: Any, where: str) -> list[str]:
    """JSON members named like a salt, anywhere in ``doc``."""
    if isinstance(doc, dict):
        return [f for k, v in doc.items() for f in
                ([f"{where}.{k}: a salt member"] if "salt" in k.lower() else []) + salt_members(v, f"{where}.{k}")]
    if isinstance(doc, list):
        return [f for i, v in enumerate(doc) for f in salt_members(v, f"{where}[{i}]")]
    return []


def scan_answers(answers: dict[str, bytes], targets: dict[str, str], salts: dict[str, bytes]) -> list[str]:
    found = []
    for where, body in answers.items():
        found += find_plaintexts(where, body, targets)
        found += [f"{where}: the salt of {label}" for label in has_salt(body, salts)]
        try:
            doc = json.loads(body)
        except ValueError:
            continue  # the HTML page: searched as bytes above
        found += salt_members(doc, where)
    return found


def scan_home(rpc: str | Web3, home: Path, chain_targets: dict[str, str], db_targets: dict[str, str]) -> tuple[
        list[str], Chain, dict[str, int]]:
    """The chain at ``rpc`` (whole, every call and event decoded as a TrustLedger one from block 0: a
    ``trustledger up`` chain holds nothing else) searched for ``chain_targets``, and ``<home>/trustledger.db``
    for ``db_targets``; the findings, the decoder (``.decoded`` names what was looked into) and the counts read."""
    w3 = rpc if isinstance(rpc, Web3) else Web3(Web3.HTTPProvider(rpc, request_kwargs={"timeout": 30}))
    chain = Chain(Manifest.load(home / "deployment.json").addresses)
    found, txs, logs = scan_chain(w3, chain, chain_targets, strict_from=0)
    db = Database(f"sqlite:///{home / 'trustledger.db'}")
    try:
        db_found, rows = scan_database(db, db_targets, {})
    finally:
        db.dispose()
    return found + db_found, chain, {"blocks": int(w3.eth.block_number) + 1, "transactions": txs, "logs": logs,
                                     "rows": rows}
