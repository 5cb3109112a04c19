/*
 * The consumer page's own check (docs/consumer-page.md): for each review listed, fetch its leaf and inclusion
 * proof from this service's JSON API, recompute the RFC 6962 root here (verify.js: our own SHA-256, since
 * WebCrypto is missing on plain HTTP), and ask the ReviewLog contract over JSON-RPC, at the URL in the form,
 * whether that root is the checkpoint's (isCheckpoint). Green only when the chain says yes; red when the
 * chain says no or the proof cannot hold; amber when the chain could not be asked.
 *
 * Each result says what was checked against what, in words, and keeps the values in data attributes
 * (data-state, data-root, data-checkpoint) for the browser tests.
 */
(function () {
  "use strict";
  var V = window.TrustLedgerVerify;
  var configNode = document.getElementById("tl-config");
  if (!V || !configNode) return;
  var config = JSON.parse(configNode.textContent);
  var form = document.getElementById("verify-form");
  var chainBox = document.getElementById("verify-chain");
  var summary = document.getElementById("verify-summary");
  var running = false;

  function short(hex) {
    return hex.length > 14 ? hex.slice(0, 10) + "\u2026" : hex;
  }

  function set(node, state, text, data) {
    node.setAttribute("data-state", state);
    node.textContent = text;
    if (data) Object.keys(data).forEach(function (k) { node.setAttribute("data-" + k, String(data[k])); });
  }

  function getJson(path) {
    return fetch(config.api + path, { headers: { Accept: "application/json" } }).then(function (r) {
      if (!r.ok) throw new Error("this service answered HTTP " + r.status + " for " + path);
      return r.json();
    });
  }

  /** The chain's answer to isCheckpoint, asked once per (index, size, root) per run. */
  function checkpointAsker(rpcUrl, address) {
    var asked = {};
    return function (index, size, root) {
      var key = index + "/" + size + "/" + root;
      if (!asked[key]) asked[key] = V.isCheckpoint(rpcUrl, address, index, size, root);
      return asked[key];
    };
  }

  /** One review: fetch, hash, recompute, ask the chain; resolves to {state, text, root?}. */
  function checkLeaf(i, ctx) {
    var where = "the ReviewLog contract at " + ctx.address + " on chain " + ctx.chainId;
    return Promise.all([getJson("/v1/reviews/" + i),
                        getJson("/v1/log/leaves?start=" + i + "&end=" + (i + 1))]).then(function (r) {
      var review = r[0], leafText = r[1].leaves && r[1].leaves[0];
      var inc = review.inclusion;
      if (!inc || inc.status !== "anchored") {
        var by = inc && inc.deadline ? new Date(inc.deadline * 1000).toISOString().replace(".000Z", "Z") : "?";
        return { state: "pending", text: "leaf " + i + ": not in an anchored checkpoint yet (promised by " + by +
                 "), so there is no proof to check." };
      }
      if (typeof leafText !== "string") {
        return { state: "bad", text: "leaf " + i + ": this service did not return the leaf's bytes." };
      }
      var leaf;
      try { leaf = JSON.parse(leafText); } catch (err) { leaf = null; }
      if (!leaf || String(leaf.productId).toLowerCase() !== config.productId.toLowerCase()) {
        return { state: "bad", text: "leaf " + i + ": the leaf served does not name this product." };
      }
      var cp = inc.checkpoint;
      var leafHash = V.leafHash(V.utf8(leafText));
      var root;
      try {
        root = V.toHex(V.rootFromInclusionProof(i, cp.treeSize, leafHash, inc.proof));
      } catch (err) {
        return { state: "bad", text: "leaf " + i + ": the inclusion proof served is malformed (" + err.message +
                 "), so it proves nothing." };
      }
      var claimed = String(cp.rootHash).toLowerCase();
      var what = "checkpoint " + cp.index + " (size " + cp.treeSize + ")";
      return ctx.ask(cp.index, cp.treeSize, root).then(function (confirmed) {
        if (confirmed) {
          return { state: "ok", root: root, checkpoint: cp.index,
                   text: "leaf " + i + ": proof reproduces root " + short(root) + " of " + what + ", which " +
                         where + " confirms." };
        }
        return { state: "bad", root: root, checkpoint: cp.index,
                 text: "leaf " + i + ": the leaf and proof served give root " + short(root) + ", which " + where +
                       " does not confirm as " + what +
                       (root === claimed ? "." : " (this service says that checkpoint's root is " + short(claimed) +
                        ").") + " This review is not what the log committed to." };
      }, function (err) {
        if (err.rpcError) {
          return { state: "bad", root: root, checkpoint: cp.index,
                   text: "leaf " + i + ": " + where + " refuses " + what + " (" + err.message + ")." };
        }
        return { state: "unchecked", root: root, checkpoint: cp.index,
                 text: "leaf " + i + ": proof gives root " + short(root) + ", but the chain could not be asked: " +
                       err.message + "." };
      });
    }).catch(function (err) {
      return { state: "unchecked", text: "leaf " + i + ": could not be checked: " + err.message + "." };
    });
  }

  function run() {
    if (running) return;
    running = true;
    var rpcUrl = document.getElementById("rpc-url").value.trim();
    var address = document.getElementById("review-log").value.trim();
    var wanted = document.getElementById("chain-id").value.trim();
    var leaves = config.leaves;
    leaves.forEach(function (i) { set(document.getElementById("check-" + i), "checking", "Checking leaf " + i + "\u2026"); });
    set(summary, "checking", "Checking " + leaves.length + " review" + (leaves.length === 1 ? "" : "s") + "\u2026");
    set(chainBox, "checking", "Asking the chain at " + rpcUrl + "\u2026");

    var badInput = !/^0x[0-9a-fA-F]{40}$/.test(address) ? "the ReviewLog address is not 0x and 40 hex digits" :
      !/^[0-9]+$/.test(wanted) ? "the chain id is not a number" : null;
    var start = badInput ? Promise.reject(new Error(badInput)) : V.chainId(rpcUrl);
    start.then(function (served) {
      if (served !== BigInt(wanted)) {
        throw new Error("the RPC at " + rpcUrl + " serves chain " + served + ", not chain " + wanted);
      }
      return V.latestCheckpoint(rpcUrl, address).then(function (latest) {
        set(chainBox, "ok", "The ReviewLog contract at " + address + " on chain " + wanted + " (asked at " + rpcUrl +
            ") holds " + latest.count + " checkpoint" + (latest.count === 1n ? "" : "s") + "; the latest covers " +
            latest.size + " reviews with root " + short(latest.root) + ".", { size: latest.size, root: latest.root });
        var ctx = { address: address, chainId: wanted, ask: checkpointAsker(rpcUrl, address) };
        var counts = { ok: 0, bad: 0, pending: 0, unchecked: 0 };
        return leaves.reduce(function (prev, i) {
          return prev.then(function () {
            return checkLeaf(i, ctx).then(function (result) {
              counts[result.state] += 1;
              set(document.getElementById("check-" + i), result.state, result.text,
                  { root: result.root || "", checkpoint: result.checkpoint === undefined ? "" : result.checkpoint });
            });
          });
        }, Promise.resolve()).then(function () { return counts; });
      });
    }).then(function (counts) {
      var state = counts.bad ? "bad" : counts.unchecked ? "unchecked" : counts.ok ? "ok" : "pending";
      set(summary, state, counts.ok + " verified against the chain, " + counts.bad + " failed, " + counts.pending +
          " pending, " + counts.unchecked + " not checked.");
    }, function (err) {
      set(chainBox, "unchecked", "Could not check against the chain: " + err.message + ".");
      leaves.forEach(function (i) {
        set(document.getElementById("check-" + i), "unchecked", "leaf " + i + ": not checked (the chain could not be asked).");
      });
      set(summary, "unchecked", "Nothing verified: " + err.message + ".");
    }).finally(function () { running = false; });
  }

  form.addEventListener("submit", function (event) { event.preventDefault(); run(); });
  run();
})();
