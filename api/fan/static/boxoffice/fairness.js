// The fairness report page: checks, in the fan's own browser, what needs no trust in the
// server. (1) The revealed seed hashes (SHA-256) to the commitment published before the sale.
// (2) A receipt is signed by the room's Ed25519 key (/.well-known/jwks.json), is for this
// event, and its place and join time agree with the published report. Nothing is sent.
(() => {
  "use strict";

  const main = document.getElementById("content");
  const eventId = Number(main.dataset.eventId);
  const $ = (id) => document.getElementById(id);
  const encoder = new TextEncoder();

  function hex(buffer) {
    return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function base64url(text) {
    const padded = text.replace(/-/g, "+").replace(/_/g, "/");
    const binary = atob(padded + "=".repeat((4 - (padded.length % 4)) % 4));
    return Uint8Array.from(binary, (c) => c.charCodeAt(0));
  }

  function line(parent, ok, text) {
    const item = document.createElement("li");
    item.className = ok ? "ok" : "error";
    item.textContent = (ok ? "✓ " : "✗ ") + text;
    parent.appendChild(item);
    return ok;
  }

  async function checkSeed() {
    const note = $("seed-check");
    if (!note) return;
    const seed = $("seed").textContent.trim();
    const commitment = $("commitment").textContent.trim();
    try {
      const digest = hex(await crypto.subtle.digest("SHA-256", encoder.encode(seed)));
      const ok = digest === commitment;
      note.className = ok ? "ok" : "error";
      note.textContent = ok
        ? "Checked in your browser: the seed hashes to the commitment."
        : "Checked in your browser: the seed does NOT hash to the commitment.";
    } catch (_) {
      note.textContent = "Your browser cannot compute SHA-256 here; use onsale verify-draw.";
    }
  }

  async function verifySignature(token) {
    const [head, body, signature] = token.split(".");
    const header = JSON.parse(new TextDecoder().decode(base64url(head)));
    const claims = JSON.parse(new TextDecoder().decode(base64url(body)));
    const jwks = await (await fetch("/.well-known/jwks.json")).json();
    const jwk = (jwks.keys || []).find((k) => k.kid === header.kid && k.kty === "OKP");
    if (!jwk) return { claims, signed: false, why: "no key " + header.kid + " in the room's key set" };
    const key = await crypto.subtle.importKey(
      "jwk", { kty: "OKP", crv: jwk.crv, x: jwk.x }, { name: "Ed25519" }, false, ["verify"]);
    const signed = await crypto.subtle.verify(
      { name: "Ed25519" }, key, base64url(signature), encoder.encode(head + "." + body));
    return { claims, signed, why: signed ? "" : "the signature does not match the room's key" };
  }

  async function checkReceipt(token) {
    const result = $("receipt-result");
    result.replaceChildren();
    const list = document.createElement("ul");
    list.className = "checks";
    result.appendChild(list);
    let verified;
    try {
      verified = await verifySignature(token.trim());
    } catch (_) {
      line(list, false, "This is not a receipt (it cannot be read as a signed token).");
      return;
    }
    const { claims } = verified;
    let ok = line(list, verified.signed, verified.signed
      ? "Signed by the room's key."
      : "Not signed by the room: " + verified.why + ".");
    ok = line(list, claims.typ === "queue_receipt" && claims.event === eventId,
      claims.event === eventId ? "A receipt for this event." : "Not a receipt for this event.") && ok;
    const report = await (await fetch("/events/" + eventId + "/draw")).json();
    const joins = new Map((report.join_times || []).map(([seq, at]) => [seq, at]));
    if (joins.has(claims.seq)) {
      ok = line(list, Math.abs(joins.get(claims.seq) - claims.joined_at) <= 0.001,
        "Join number " + claims.seq + ", joined at " +
        new Date(claims.joined_at * 1000).toISOString() + ": as the report lists it.") && ok;
    }
    if (claims.position === null || claims.position === undefined) {
      line(list, true, "No place yet: the draw has not happened. Fetch a fresh receipt after the start.");
    } else if (report.order && claims.seq <= report.prequeue_size) {
      ok = line(list, report.order[claims.position - 1] === claims.seq,
        "Place " + claims.position + ": the published order puts join number " +
        claims.seq + " there.") && ok;
    } else if (report.prequeue_size !== null && claims.seq > report.prequeue_size) {
      ok = line(list, claims.position === claims.seq,
        "Place " + claims.position + ": joined after the draw, so in join order.") && ok;
    }
    const summary = document.createElement("p");
    summary.className = ok ? "ok" : "error";
    summary.textContent = ok ? "Your receipt checks out." : "Your receipt does not check out.";
    result.prepend(summary);
  }

  $("receipt-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = $("receipt").value;
    if (token.trim()) checkReceipt(token);
  });

  const fromLink = new URLSearchParams(location.hash.slice(1)).get("receipt");
  if (fromLink) {
    $("receipt").value = fromLink;
    checkReceipt(fromLink);
  }
  checkSeed();
})();
