/*
 * TrustLedger in-browser verification: SHA-256, RFC 6962 hashing and inclusion proofs, and the few JSON-RPC
 * reads of the ReviewLog contract the consumer page needs. No dependencies, no network but what the caller
 * asks for.
 *
 * Why our own SHA-256: WebCrypto (crypto.subtle) exists only in secure contexts, and a phone opening the page
 * over plain HTTP on a local network has none. This one is small, plain JavaScript, and vector-tested
 * (NIST FIPS 180-4 examples and the repository's RFC 6962 vectors, tests/browser/test_verify_js.py) in node
 * and in Chromium.
 *
 * Why BigInt for indexes and sizes: a proof's shape depends on the bits of the leaf index and tree size, which
 * are uint64 in RFC 6962; JavaScript numbers lose bits above 2^53.
 *
 * Exposed as globalThis.TrustLedgerVerify in a browser, and as module.exports under node (for the tests).
 */
(function (root) {
  "use strict";

  var K = new Uint32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
  ]);
  var H0 = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

  /** SHA-256 (FIPS 180-4) of a Uint8Array: a new 32-byte Uint8Array. */
  function sha256(data) {
    if (!(data instanceof Uint8Array)) throw new TypeError("sha256 takes a Uint8Array");
    var len = data.length;
    var padded = new Uint8Array(Math.ceil((len + 9) / 64) * 64);
    padded.set(data);
    padded[len] = 0x80;
    var n = padded.length;
    // the message length in bits, big-endian, in the last 8 bytes (lengths up to 2^53 bytes)
    var hi = Math.floor(len / 0x20000000), lo = (len * 8) >>> 0;
    padded[n - 8] = hi >>> 24; padded[n - 7] = hi >>> 16; padded[n - 6] = hi >>> 8; padded[n - 5] = hi;
    padded[n - 4] = lo >>> 24; padded[n - 3] = lo >>> 16; padded[n - 2] = lo >>> 8; padded[n - 1] = lo;

    var h = H0.slice();
    var w = new Uint32Array(64);
    for (var off = 0; off < n; off += 64) {
      var t;
      for (t = 0; t < 16; t++) {
        var j = off + 4 * t;
        w[t] = ((padded[j] << 24) | (padded[j + 1] << 16) | (padded[j + 2] << 8) | padded[j + 3]) >>> 0;
      }
      for (t = 16; t < 64; t++) {
        var x = w[t - 15], y = w[t - 2];
        var s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
        var s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
        w[t] = (w[t - 16] + s0 + w[t - 7] + s1) >>> 0;
      }
      var a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
      for (t = 0; t < 64; t++) {
        var S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
        var ch = (e & f) ^ (~e & g);
        var t1 = (k + S1 + ch + K[t] + w[t]) >>> 0;
        var S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
        var maj = (a & b) ^ (a & c) ^ (b & c);
        var t2 = (S0 + maj) >>> 0;
        k = g; g = f; f = e; e = (d + t1) >>> 0; d = c; c = b; b = a; a = (t1 + t2) >>> 0;
      }
      h[0] = (h[0] + a) >>> 0; h[1] = (h[1] + b) >>> 0; h[2] = (h[2] + c) >>> 0; h[3] = (h[3] + d) >>> 0;
      h[4] = (h[4] + e) >>> 0; h[5] = (h[5] + f) >>> 0; h[6] = (h[6] + g) >>> 0; h[7] = (h[7] + k) >>> 0;
    }
    var out = new Uint8Array(32);
    for (var i = 0; i < 8; i++) {
      out[4 * i] = h[i] >>> 24; out[4 * i + 1] = h[i] >>> 16; out[4 * i + 2] = h[i] >>> 8; out[4 * i + 3] = h[i];
    }
    return out;
  }

  // ------------------------------------------------------------------------------------------ bytes and hex

  /** "0x…" (or bare) hex to bytes; throws on odd length or a non-hex digit. */
  function fromHex(hex) {
    if (typeof hex !== "string") throw new TypeError("hex must be a string");
    var s = hex.slice(0, 2).toLowerCase() === "0x" ? hex.slice(2) : hex;
    if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) throw new Error("malformed hex: " + hex.slice(0, 20));
    var out = new Uint8Array(s.length / 2);
    for (var i = 0; i < out.length; i++) out[i] = parseInt(s.substr(2 * i, 2), 16);
    return out;
  }

  function toHex(bytes) {
    var s = "0x";
    for (var i = 0; i < bytes.length; i++) s += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16);
    return s;
  }

  /** UTF-8 bytes of a string (TextEncoder exists everywhere BigInt does). */
  function utf8(text) {
    return new TextEncoder().encode(text);
  }

  function concat(parts) {
    var n = 0, i;
    for (i = 0; i < parts.length; i++) n += parts[i].length;
    var out = new Uint8Array(n), off = 0;
    for (i = 0; i < parts.length; i++) { out.set(parts[i], off); off += parts[i].length; }
    return out;
  }

  function equalBytes(a, b) {
    if (a.length !== b.length) return false;
    for (var i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }

  // ------------------------------------------------------------------------------------------ RFC 6962

  /** SHA-256(0x00 || leaf): the hash of one log entry. */
  function leafHash(leaf) {
    return sha256(concat([new Uint8Array([0]), leaf]));
  }

  /** SHA-256(0x01 || left || right): an interior node. */
  function nodeHash(left, right) {
    return sha256(concat([new Uint8Array([1]), left, right]));
  }

  function bitLength(x) {
    return x === 0n ? 0 : x.toString(2).length;
  }

  function popCount(x) {
    var n = 0;
    while (x > 0n) { n += Number(x & 1n); x >>= 1n; }
    return n;
  }

  /** The number of hashes an inclusion proof of `index` in a tree of `size` must have (as
   *  transparency-dev/merkle and ledger/merkle.py: hashes below the split, plus the right border above). */
  function inclusionProofLength(index, size) {
    var inner = bitLength(index ^ (size - 1n));
    return inner + popCount(index >> BigInt(inner));
  }

  function toCount(value, name) {
    var v;
    try { v = BigInt(value); } catch (err) { throw new Error(name + " is not an integer: " + value); }
    if (v < 0n || v >= (1n << 64n)) throw new Error(name + " is outside 0 … 2^64-1: " + value);
    return v;
  }

  function hash32(value, name) {
    var b = value instanceof Uint8Array ? value : fromHex(value);
    if (b.length !== 32) throw new Error(name + " must be 32 bytes, found " + b.length);
    return b;
  }

  /**
   * The root an inclusion proof implies (RFC 9162 §2.1.3.2), as ledger.merkle.root_from_inclusion_proof:
   * index and size as numbers, decimal strings or BigInt; leafHash and proof as 32-byte Uint8Arrays or hex.
   * Throws for malformed input or a proof of the wrong length for (index, size).
   */
  function rootFromInclusionProof(index, size, leafHashValue, proof) {
    var fn = toCount(index, "index"), sn = toCount(size, "size");
    if (fn >= sn) throw new Error("index must be < size " + sn + ", found " + fn);
    var r = hash32(leafHashValue, "leaf hash");
    var path = proof.map(function (p, i) { return hash32(p, "proof[" + i + "]"); });
    var expected = inclusionProofLength(fn, sn);
    if (path.length !== expected) {
      throw new Error("an inclusion proof for index " + fn + " in a tree of size " + sn + " must have " +
                      expected + " hashes, found " + path.length);
    }
    sn -= 1n;
    for (var i = 0; i < path.length; i++) {
      if (sn === 0n) throw new Error("the inclusion proof is too long");
      if ((fn & 1n) === 1n || fn === sn) {
        r = nodeHash(path[i], r);
        while ((fn & 1n) === 0n && fn !== 0n) { fn >>= 1n; sn >>= 1n; }
      } else {
        r = nodeHash(r, path[i]);
      }
      fn >>= 1n; sn >>= 1n;
    }
    if (sn !== 0n) throw new Error("the inclusion proof is too short");
    return r;
  }

  /** True when the proof reproduces `rootValue`; false for a wrong root or any malformed input. */
  function verifyInclusion(index, size, leafHashValue, proof, rootValue) {
    try {
      return equalBytes(rootFromInclusionProof(index, size, leafHashValue, proof), hash32(rootValue, "root"));
    } catch (err) {
      return false;
    }
  }

  // ------------------------------------------------------------------------------------------ JSON-RPC

  /** Function selectors of the ReviewLog views the page calls (tests check them against the ABI). */
  var SELECTORS = {
    "isCheckpoint(uint256,uint64,bytes32)": "0x5f9c4bb0",
    "checkpointCount()": "0x1f618cd2",
    "latestCheckpoint()": "0x907c0f92"
  };

  function word(value) {
    var hex = BigInt(value).toString(16);
    if (hex.length > 64) throw new Error("value does not fit in 32 bytes");
    return "0".repeat(64 - hex.length) + hex;
  }

  /** Calldata of isCheckpoint(index, size, root). */
  function encodeIsCheckpoint(index, size, rootValue) {
    var s = toCount(size, "size");
    return SELECTORS["isCheckpoint(uint256,uint64,bytes32)"] + word(toCount(index, "index")) + word(s) +
      toHex(hash32(rootValue, "root")).slice(2);
  }

  var rpcId = 0;

  /** One JSON-RPC call; rejects with a message that names the endpoint on a transport or RPC error. */
  function rpc(url, method, params, timeoutMs) {
    var controller = typeof AbortController === "function" ? new AbortController() : null;
    var timer = controller ? setTimeout(function () { controller.abort(); }, timeoutMs || 8000) : null;
    rpcId += 1;
    return fetch(url, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: rpcId, method: method, params: params }),
      signal: controller ? controller.signal : undefined
    }).then(function (response) {
      if (!response.ok) throw new Error("the RPC at " + url + " answered HTTP " + response.status);
      return response.json();
    }, function (err) {
      throw new Error("the RPC at " + url + " did not answer (" + (err && err.name === "AbortError" ?
        "timed out" : (err && err.message) || err) + ")");
    }).then(function (body) {
      if (body && body.error) {
        var e = new Error("the RPC at " + url + " refused " + method + ": " + (body.error.message || "error"));
        e.rpcError = body.error;
        throw e;
      }
      return body.result;
    }).finally(function () { if (timer) clearTimeout(timer); });
  }

  function ethCall(url, to, data) {
    return rpc(url, "eth_call", [{ to: to, data: data }, "latest"]);
  }

  /** The chain id the RPC serves, as a BigInt. */
  function chainId(url) {
    return rpc(url, "eth_chainId", []).then(function (r) { return BigInt(r); });
  }

  /** isCheckpoint(index, size, root) on the ReviewLog at `address`: true, false, or a rejection (an index
   *  the contract has no checkpoint for reverts with ReviewLogUnknownCheckpoint). */
  function isCheckpoint(url, address, index, size, rootValue) {
    return ethCall(url, address, encodeIsCheckpoint(index, size, rootValue)).then(function (r) {
      var b = fromHex(r);
      if (b.length !== 32) throw new Error("isCheckpoint answered " + b.length + " bytes, expected 32");
      return b[31] === 1 && equalBytes(b.subarray(0, 31), new Uint8Array(31));
    });
  }

  /** The contract's own latest checkpoint: {count, size, root}. */
  function latestCheckpoint(url, address) {
    return Promise.all([
      ethCall(url, address, SELECTORS["checkpointCount()"]),
      ethCall(url, address, SELECTORS["latestCheckpoint()"])
    ]).then(function (r) {
      var latest = fromHex(r[1]);
      if (latest.length !== 64) throw new Error("latestCheckpoint answered " + latest.length + " bytes");
      return { count: BigInt(r[0]), root: toHex(latest.subarray(0, 32)), size: BigInt(toHex(latest.subarray(32))) };
    });
  }

  var api = {
    sha256: sha256, leafHash: leafHash, nodeHash: nodeHash, fromHex: fromHex, toHex: toHex, utf8: utf8,
    equalBytes: equalBytes, inclusionProofLength: inclusionProofLength,
    rootFromInclusionProof: rootFromInclusionProof, verifyInclusion: verifyInclusion, SELECTORS: SELECTORS,
    encodeIsCheckpoint: encodeIsCheckpoint, rpc: rpc, chainId: chainId, isCheckpoint: isCheckpoint,
    latestCheckpoint: latestCheckpoint,
    sha256Hex: function (bytes) { return toHex(sha256(bytes)); }
  };
  if (typeof module === "object" && module.exports) module.exports = api;
  root.TrustLedgerVerify = api;
})(typeof globalThis !== "undefined" ? globalThis : this);
