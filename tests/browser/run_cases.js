/*
 * Runs test cases through api/static/verify.js and answers what it computed, so that Python (which knows the
 * right answers: hashlib, ledger.merkle) can compare. The same function runs in node (test_verify_js.py) and in
 * Chromium (test_page_browser.py, injected with execute_script).
 *
 * node run_cases.js path/to/verify.js < cases.json   ->   results.json on stdout
 *
 * A case: {kind: "sha256", input: hex, repeat?: n} | {kind: "leaf", input: hex} |
 *         {kind: "inclusion", index, size, leaf_hash, proof, root} (index and size as decimal strings) |
 *         {kind: "calldata", index, size, root}.
 * A result: {out: hex, ok?: bool} or {error: message}.
 */
function runCases(V, cases) {
  function input(c) {
    var bytes = V.fromHex(c.input);
    if (!c.repeat) return bytes;
    var out = new Uint8Array(bytes.length * c.repeat);
    for (var i = 0; i < c.repeat; i++) out.set(bytes, i * bytes.length);
    return out;
  }
  return cases.map(function (c) {
    try {
      if (c.kind === "sha256") return { out: V.toHex(V.sha256(input(c))) };
      if (c.kind === "leaf") return { out: V.toHex(V.leafHash(input(c))) };
      if (c.kind === "inclusion") {
        var ok = V.verifyInclusion(c.index, c.size, c.leaf_hash, c.proof, c.root);
        return { ok: ok, out: V.toHex(V.rootFromInclusionProof(c.index, c.size, c.leaf_hash, c.proof)) };
      }
      if (c.kind === "calldata") return { out: V.encodeIsCheckpoint(c.index, c.size, c.root) };
      return { error: "unknown case kind " + c.kind };
    } catch (err) {
      return { error: String(err && err.message || err), ok: false };
    }
  });
}

if (typeof module === "object" && typeof require === "function" && require.main === module) {
  var V = require(require("path").resolve(process.argv[2]));
  var chunks = [];
  process.stdin.on("data", function (d) { chunks.push(d); });
  process.stdin.on("end", function () {
    process.stdout.write(JSON.stringify(runCases(V, JSON.parse(Buffer.concat(chunks).toString("utf8")))));
  });
}
