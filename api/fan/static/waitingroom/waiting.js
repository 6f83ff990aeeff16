// The waiting page: join the line, poll as the server suggests, move on when admitted.
// Plain JS, no build step. The JSON comes from the queue endpoints, which a mobile app
// uses the same way: POST /events/{id}/queue, GET and DELETE /events/{id}/queue/{ticket}.
(() => {
  "use strict";

  const root = document.getElementById("waiting-room");
  const eventId = root.dataset.eventId;
  const bookUrl = root.dataset.bookUrl;
  const sessionKey = root.dataset.sessionKey;
  const admissionKey = root.dataset.admissionPrefix + eventId;
  const ticketKey = "onsale.queueTicket." + eventId;
  const queueUrl = "/events/" + eventId + "/queue";

  const MAX_BACKOFF_SECONDS = 30;
  const DEFAULT_POSITION_EXPIRY_SECONDS = 60;

  const panels = ["signin", "presale", "line", "admitted", "ended"];
  const $ = (id) => document.getElementById(id);
  const numbers = new Intl.NumberFormat(document.documentElement.lang || undefined);

  let ticket = sessionStorage.getItem(ticketKey);
  let timer = null;
  let backoffSeconds = 1;
  let lastStatus = null;
  let lastAnnouncement = "";
  let positionExpirySeconds = DEFAULT_POSITION_EXPIRY_SECONDS;
  let finished = false;

  // ---- small helpers -------------------------------------------------------------------

  function show(name, focus) {
    for (const panel of panels) $("panel-" + panel).hidden = panel !== name;
    if (focus) {
      const heading = $(name + "-title");
      if (heading) heading.focus();
    }
  }

  function announce(text) {
    if (text && text !== lastAnnouncement) {
      lastAnnouncement = text;
      $("announcer").textContent = text;
    }
  }

  function problem(text) {
    const box = $("problem");
    box.textContent = text || "";
    box.hidden = !text;
  }

  function sessionToken() {
    try {
      return localStorage.getItem(sessionKey);
    } catch (_) {
      return null;
    }
  }

  async function api(method, url, body) {
    const headers = { Accept: "application/json" };
    const token = sessionToken();
    if (token) headers.Authorization = "Bearer " + token;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
    let data = null;
    try {
      data = await response.json();
    } catch (_) {
      data = null;
    }
    return { status: response.status, headers: response.headers, data };
  }

  function errorCode(reply) {
    return reply.data && reply.data.error ? reply.data.error.code : null;
  }

  function retryAfterSeconds(reply, fallback) {
    const header = Number(reply.headers.get("Retry-After"));
    return Number.isFinite(header) && header > 0 ? header : fallback;
  }

  function schedule(seconds, action) {
    clearTimeout(timer);
    timer = setTimeout(action, Math.max(0.2, seconds) * 1000);
  }

  // A retry after a failure waits up to half again at random: fans turned away together
  // (a server restarting) do not all come back in the same instant.
  function jittered(seconds) {
    return seconds * (1 + Math.random() / 2);
  }

  function backoff(action) {
    schedule(jittered(backoffSeconds), action);
    backoffSeconds = Math.min(backoffSeconds * 2, MAX_BACKOFF_SECONDS);
  }

  function describeWait(seconds) {
    if (seconds === null || seconds === undefined) return "unknown for now";
    if (seconds < 60) return "less than a minute";
    const minutes = Math.round(seconds / 60);
    if (minutes < 60) return "about " + minutes + (minutes === 1 ? " minute" : " minutes");
    const hours = Math.floor(minutes / 60);
    const rest = minutes % 60;
    return "about " + hours + (hours === 1 ? " hour" : " hours") + (rest ? " " + rest + " min" : "");
  }

  // ---- joining ---------------------------------------------------------------------------

  async function join(proof) {
    problem("");
    if (!sessionToken()) {
      show("signin", true);
      return;
    }
    let reply;
    try {
      reply = await api("POST", queueUrl, proof ? { pow: proof } : undefined);
    } catch (_) {
      problem("We cannot reach the queue right now; retrying.");
      backoff(() => join(proof));
      return;
    }
    const code = errorCode(reply);
    if (reply.status === 200 || reply.status === 201) {
      backoffSeconds = 1;
      ticket = reply.data.ticket;
      lastOwnPollAt = Date.now();
      sessionStorage.setItem(ticketKey, ticket);
      showReceiptLink(reply.data.receipt);
      render(reply.data, true);
      return;
    }
    if (reply.status === 401) {
      localStorage.removeItem(sessionKey);
      show("signin", true);
      return;
    }
    if (code === "room_not_found") {
      goToBooking(null); // no waiting room for this event: booking is open to everyone
      return;
    }
    if (code === "pow_required") {
      showJoining("Checking your browser before you join the line…");
      const solved = await solveChallenge(reply.data.error.details);
      join(solved);
      return;
    }
    if (code === "presale_only") {
      showPresale(reply.data.error.details);
      return;
    }
    if (code === "queue_closed") {
      const opensAt = reply.data.error.details.opens_at * 1000;
      showJoining(
        "The line opens at " + new Date(opensAt).toLocaleTimeString() + ". Keep this page open.",
      );
      schedule(Math.min(Math.max((opensAt - Date.now()) / 1000, 1), 60), () => join());
      return;
    }
    if (reply.status === 429) {
      const wait = retryAfterSeconds(reply, 10);
      problem("Too many attempts to join; trying again in " + wait + " s.");
      schedule(jittered(wait), () => join(proof));
      return;
    }
    problem(reply.data && reply.data.error ? reply.data.error.message : "Joining failed.");
    backoff(() => join());
  }

  // ---- receipt of the place ---------------------------------------------------------------

  // The fairness page checks the receipt in the browser; it travels in the fragment, which
  // the browser never sends to a server. A click fetches a fresh one (after the draw it names
  // the place) before the page opens.
  function receiptHref(receipt) {
    return "/events/" + eventId + "/fairness" +
      (receipt ? "#receipt=" + encodeURIComponent(receipt) : "");
  }

  function showReceiptLink(receipt) {
    $("receipt-link").href = receiptHref(receipt);
    $("fairness").hidden = false;
  }

  $("receipt-link").addEventListener("click", async (event) => {
    if (!ticket) return;
    event.preventDefault();
    let href = event.currentTarget.href;
    try {
      const reply = await api("GET", queueUrl + "/" + encodeURIComponent(ticket) + "/receipt");
      if (reply.status === 200) href = receiptHref(reply.data.receipt);
    } catch (_) {
      // the receipt from joining still proves the join number and time
    }
    const opened = window.open(href, "_blank");
    if (opened) opened.opener = null;
    else location.assign(href);
  });

  // ---- presale ----------------------------------------------------------------------------

  // While a presale is open only its code holders may join: ask for the code, redeem it
  // (POST /events/{id}/presale-access), then join. When the window closes the line opens to
  // everyone, so the page simply tries to join again then.
  let presaleTimer = null;

  function showPresale(details) {
    const endsAt = details && details.ends_at ? new Date(details.ends_at) : null;
    $("presale-note").textContent = "Only fans with a presale access code may join the line" +
      (endsAt ? " until " + endsAt.toLocaleString() + "; then it opens to everyone." : " now.");
    show("presale", true);
    if (presaleTimer) clearTimeout(presaleTimer);
    if (endsAt) {
      const wait = Math.max(endsAt.getTime() - Date.now(), 1000);
      presaleTimer = setTimeout(() => join(), Math.min(wait + 1000, 2147483647));
    }
  }

  const PRESALE_REFUSALS = {
    invalid_code: "That code does not open a presale of this event. Check it and try again.",
    code_used: "That code was already used by another account.",
    presale_full: "This presale is full: every place it had is taken.",
  };

  $("presale-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const code = $("presale-code").value.trim();
    if (!code) {
      $("presale-error").textContent = "Enter your access code.";
      return;
    }
    $("presale-error").textContent = "";
    let reply;
    try {
      reply = await api("POST", "/events/" + eventId + "/presale-access", { code });
    } catch (_) {
      $("presale-error").textContent = "We cannot reach the box office right now; try again.";
      return;
    }
    if (reply.status === 200) {
      if (presaleTimer) clearTimeout(presaleTimer);
      announce("Code accepted. Joining the line.");
      join();
      return;
    }
    const refused = errorCode(reply);
    if (reply.status === 429) {
      $("presale-error").textContent = "Too many attempts; try again in " +
        retryAfterSeconds(reply, 60) + " s.";
    } else if (reply.status === 401) {
      localStorage.removeItem(sessionKey);
      show("signin", true);
    } else {
      $("presale-error").textContent = PRESALE_REFUSALS[refused] ||
        (reply.data && reply.data.error ? reply.data.error.message : "The code was refused.");
    }
  });

  // Before a place is held: the line panel without figures, saying what we wait for.
  function showJoining(note) {
    show("line", false);
    $("line-title").textContent = "Joining the line";
    $("line-note").textContent = note;
  }

  // ---- polling ---------------------------------------------------------------------------

  async function poll() {
    if (finished || !ticket) return;
    let reply;
    try {
      reply = await api("GET", queueUrl + "/" + encodeURIComponent(ticket));
    } catch (_) {
      problem("Connection lost; you keep your place while we retry.");
      backoff(poll);
      return;
    }
    if (reply.status === 200) {
      backoffSeconds = 1;
      lastOwnPollAt = Date.now();
      problem("");
      render(reply.data, false);
      return;
    }
    const code = errorCode(reply);
    if (code === "invalid_ticket") {
      sessionStorage.removeItem(ticketKey);
      ticket = null;
      join();
      return;
    }
    if (code === "room_not_found") {
      goToBooking(null);
      return;
    }
    problem("The queue is busy; you keep your place while we retry.");
    schedule(jittered(retryAfterSeconds(reply, backoffSeconds)), poll);
    backoffSeconds = Math.min(backoffSeconds * 2, MAX_BACKOFF_SECONDS);
  }

  // While the tab is hidden nobody reads the figures: poll only as often as needed to keep
  // the place (a place is lost after position_expiry_seconds without a poll).
  function keepAliveSeconds() {
    return Math.max(1, positionExpirySeconds / 3 - 1);
  }

  function scheduleNextPoll(suggested) {
    schedule(document.hidden ? keepAliveSeconds() : Math.min(suggested, keepAliveSeconds()), poll);
  }

  // ---- far back: the shared line document ----------------------------------------------
  // The rule of waitingroom/shared_line.py (keep the constants equal): a fan far back reads
  // the summary GET /events/{id}/queue, the same for everyone and cached for a second by a
  // CDN or proxy, works out people ahead and the wait, and asks about their own place only
  // when the serving position plus a margin reaches them, or every half position expiry
  // to stay in line.
  const NEAR_FRONT_SECONDS = 30;
  const NEAR_FRONT_MIN_PLACES = 50;
  const MIN_SHARED_POLL_SECONDS = 1;
  const MAX_SHARED_POLL_SECONDS = 5;
  let lastOwnPollAt = 0;
  let lineRate = null; // admissions per second, from the last summary read

  function nearFrontMargin(rate) {
    return Math.max(NEAR_FRONT_MIN_PLACES, Math.ceil((rate > 0 ? rate : 0) * NEAR_FRONT_SECONDS));
  }

  function nearFront(position, serving, rate) {
    return serving + nearFrontMargin(rate) >= position;
  }

  function sharedPollSeconds(rate) {
    if (!(rate > 0)) return MAX_SHARED_POLL_SECONDS;
    const crossing = nearFrontMargin(rate) / rate;
    return Math.max(MIN_SHARED_POLL_SECONDS, Math.min(MAX_SHARED_POLL_SECONDS, crossing / 4));
  }

  function ownPollDue(position, serving, rate) {
    const sinceOwn = (Date.now() - lastOwnPollAt) / 1000;
    return nearFront(position, serving, rate) || sinceOwn >= positionExpirySeconds / 2;
  }

  function waitFromSummary(position, summary) {
    if (summary.paused) return null;
    const rate = summary.admission_rate_per_second || summary.new_users_per_minute / 60;
    if (!(rate > 0)) return null;
    return (Math.max(position - summary.serving_position - 1, 0) + 1) / rate;
  }

  // The outlook from the summary's figures, by the rule of waitingroom/stock.forecast (keep
  // them equal): likely sold out when those ahead are expected to leave less than a ticket.
  function stockFromSummary(summary, ahead) {
    if (summary.tickets_left === null || summary.tickets_left === undefined) {
      return { stock: "unknown", tickets_left: null, tickets_wanted_ahead: null };
    }
    if (summary.tickets_left <= 0) {
      return { stock: "sold_out", tickets_left: 0, tickets_wanted_ahead: null };
    }
    const wanted = Math.round(ahead * summary.tickets_per_admitted_fan * 10) / 10;
    return {
      stock: summary.tickets_left - wanted < 1 ? "likely_sold_out" : "available",
      tickets_left: summary.tickets_left,
      tickets_wanted_ahead: wanted,
    };
  }

  // Fans whose place is known and who are far back follow the summary; everyone else polls
  // their own place as the server suggests.
  function scheduleAfterStatus(status) {
    const farBack =
      status.position !== null && !status.in_prequeue &&
      !nearFront(status.position, status.serving_position, lineRate);
    if (farBack) schedule(MIN_SHARED_POLL_SECONDS, readSummary);
    else scheduleNextPoll(status.poll_after_seconds || 1);
  }

  async function readSummary() {
    if (finished || !ticket || !lastStatus) return;
    let reply;
    try {
      reply = await fetch(queueUrl, { headers: { Accept: "application/json" } });
    } catch (_) {
      poll(); // the summary is unreachable: ask about the place itself
      return;
    }
    if (reply.status !== 200) {
      poll();
      return;
    }
    const summary = await reply.json();
    const rate = summary.admission_rate_per_second || summary.new_users_per_minute / 60;
    lineRate = rate;
    const position = lastStatus.position;
    // A sell-out (or seats back after one) changes what the fan is told: ask at once.
    const soldOut = summary.state === "sold_out";
    if (soldOut !== (lastStatus.state === "sold_out") ||
        ownPollDue(position, summary.serving_position, rate)) {
      poll();
      return;
    }
    const wait = waitFromSummary(position, summary);
    const ahead = Math.max(position - summary.serving_position - 1, 0);
    lastStatus = {
      ...lastStatus,
      serving_position: summary.serving_position,
      people_ahead: ahead,
      estimated_wait_seconds: soldOut ? null : wait,
      paused: summary.paused,
      ...stockFromSummary(summary, ahead),
    };
    renderFigures(lastStatus);
    schedule(document.hidden ? keepAliveSeconds() : sharedPollSeconds(rate), () => {
      if (document.hidden) poll();
      else readSummary();
    });
  }

  document.addEventListener("visibilitychange", () => {
    if (finished || !ticket || !lastStatus) return;
    if (lastStatus.state !== "waiting" && lastStatus.state !== "sold_out") return;
    if (document.hidden) scheduleNextPoll(lastStatus.poll_after_seconds || 1);
    else poll(); // back in view: fresh figures at once
  });

  // ---- rendering -------------------------------------------------------------------------

  function render(status, joined) {
    lastStatus = status;
    if (status.position_expiry_seconds) positionExpirySeconds = status.position_expiry_seconds;
    if (status.state === "admitted") {
      goToBooking(status);
      return;
    }
    if (status.state === "expired") {
      finished = true;
      clearTimeout(timer);
      sessionStorage.removeItem(ticketKey);
      ticket = null;
      show("ended", true);
      $("ended-note").textContent =
        "Your place expired: the page stopped checking in, you left, or your turn ended. " +
        "You can join again at the back of the line.";
      announce("You are no longer in line.");
      return;
    }
    const wasHidden = $("panel-line").hidden;
    $("line-title").textContent = status.state === "sold_out" ? "Sold out" : "You are in line";
    show("line", joined && wasHidden);
    renderFigures(status);
    scheduleAfterStatus(status);
  }

  function renderFigures(status) {
    const known = status.position !== null && status.position !== undefined;
    $("fig-position").textContent = known ? numbers.format(status.position) : "drawn at the start";
    $("fig-ahead").textContent =
      status.people_ahead === null ? "–" : numbers.format(status.people_ahead);
    $("fig-eta").textContent = describeWait(status.estimated_wait_seconds);

    let note = "";
    if (status.paused) {
      note = "Admissions are paused for the moment. You keep your place.";
    } else if (status.in_prequeue) {
      const starts = new Date(status.sale_starts_at * 1000).toLocaleTimeString();
      note =
        status.position === null
          ? "The sale starts at " + starts + ". Everyone here before then gets a random place."
          : "The sale starts at " + starts + ". You keep this place.";
    }
    $("line-note").textContent = note;
    renderStock(status);

    const progress = $("progress");
    let percent = 0;
    if (known && status.position > 0) {
      percent = Math.min(100, Math.round((100 * status.serving_position) / status.position));
    }
    progress.value = percent;
    progress.textContent = percent + "%";
    progress.setAttribute("aria-valuetext", percent + "% of the line ahead of you served");

    if (status.state === "sold_out") announce("Sold out for now. You keep your place.");
    else if (status.stock === "likely_sold_out")
      announce("The fans ahead of you may take every ticket left before your turn.");
    else if (status.paused) announce("Admissions are paused. You keep your place.");
    else if (status.people_ahead !== null)
      announce(
        "People ahead of you: " + bucket(status.people_ahead) + ". Estimated wait " +
        describeWait(status.estimated_wait_seconds) + ".",
      );
  }

  // Tickets left against the people ahead, and a warning when those ahead are expected to
  // take them all (status.stock: unknown, available, likely_sold_out, sold_out).
  function renderStock(status) {
    const known = status.tickets_left !== null && status.tickets_left !== undefined;
    $("stock-figure").hidden = !known;
    if (known) $("fig-stock").textContent = numbers.format(status.tickets_left);
    const warning = $("stock-warning");
    if (status.stock === "likely_sold_out") {
      warning.textContent =
        "Likely to sell out before your turn: the " + numbers.format(status.people_ahead) +
        " fans ahead of you are expected to take about " +
        numbers.format(Math.round(status.tickets_wanted_ahead)) + " of the " +
        numbers.format(status.tickets_left) + " tickets left. You keep your place.";
      warning.hidden = false;
    } else {
      warning.hidden = true;
    }
    $("waiting-list").hidden = status.state !== "sold_out";
  }

  // Screen readers hear a change when the figure moves to a new order of magnitude, not
  // on every poll.
  function bucket(ahead) {
    if (ahead < 10) return String(ahead);
    const step = Math.pow(10, Math.floor(Math.log10(ahead)));
    return "about " + numbers.format(Math.floor(ahead / step) * step);
  }

  function goToBooking(status) {
    finished = true;
    clearTimeout(timer);
    if (status && status.admission_token) {
      sessionStorage.setItem(
        admissionKey,
        JSON.stringify({
          token: status.admission_token,
          expires_at: status.admission_expires_at,
          hold_request_id: status.hold_request_id || null,
        }),
      );
    }
    show("admitted", true);
    announce("It is your turn. Taking you to seat selection.");
    window.location.assign(bookUrl);
  }

  // ---- intent --------------------------------------------------------------------------

  // What to hold at the fan's turn: the line holds the best seats matching it, in line
  // order, and the booking page opens on them.
  $("intent-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!ticket) return;
    const body = { quantity: parseInt($("intent-quantity").value, 10) || 0 };
    const maxPrice = parseInt($("intent-max-price").value, 10);
    if (maxPrice > 0) body.max_price_cents = maxPrice * 100;
    body.split_ok = $("intent-split").checked;
    let reply;
    try {
      reply = await api("PUT", queueUrl + "/" + encodeURIComponent(ticket) + "/intent", body);
    } catch (_) {
      $("intent-note").textContent = "We could not save that; please try again.";
      return;
    }
    if (reply.status === 200) {
      const count = reply.data.intent.quantity;
      $("intent-note").textContent =
        "At your turn we will hold " + count + (count === 1 ? " ticket" : " tickets") +
        " for you.";
    } else {
      $("intent-note").textContent =
        reply.data && reply.data.error ? reply.data.error.message : "That was not saved.";
    }
  });

  // ---- waiting list (offered when sold out) -------------------------------------------

  // Seats that come back are offered to the list in order (POST /events/{id}/waiting-list);
  // the quantity is the one the fan asked to hold, else the intent form's figure.
  $("join-waiting-list").addEventListener("click", async () => {
    const body = { quantity: parseInt($("intent-quantity").value, 10) || 1 };
    let reply;
    try {
      reply = await api("POST", "/events/" + eventId + "/waiting-list", body);
    } catch (_) {
      $("waiting-list-note").textContent = "We could not reach the list; please try again.";
      return;
    }
    const joined = reply.status === 200 || reply.status === 201;
    $("waiting-list-note").textContent = joined
      ? "You are on the waiting list: we will offer you seats that come back, on your " +
        "waiting-list page and by mail."
      : reply.data && reply.data.error ? reply.data.error.message : "That did not work.";
    $("waiting-list-link").hidden = !joined;
  });

  // ---- proof of work ---------------------------------------------------------------------

  // sha256(challenge + ":" + nonce) must start with difficulty_bits zero bits. Work in slices
  // so the page stays responsive.
  async function solveChallenge(details) {
    const bits = details.difficulty_bits;
    let nonce = 0;
    for (;;) {
      const sliceEnd = nonce + 2000;
      for (; nonce < sliceEnd; nonce++) {
        if (leadingZeroBits(sha256(details.challenge + ":" + nonce)) >= bits) {
          return { challenge: details.challenge, nonce: String(nonce) };
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  }

  function leadingZeroBits(words) {
    let count = 0;
    for (const word of words) {
      if (word === 0) {
        count += 32;
        continue;
      }
      return count + Math.clz32(word);
    }
    return count;
  }

  // SHA-256 of an ASCII string, as eight 32-bit words. Synchronous on purpose: crypto.subtle
  // is missing on plain-HTTP pages and costs a promise per hash.
  const K = new Uint32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2,
  ]);
  const W = new Uint32Array(64);

  function sha256(text) {
    const length = text.length;
    const blocks = ((length + 9 + 63) >> 6) << 4; // 32-bit words, whole 64-byte blocks
    const message = new Uint32Array(blocks);
    for (let i = 0; i < length; i++) message[i >> 2] |= (text.charCodeAt(i) & 0xff) << (24 - (i % 4) * 8);
    message[length >> 2] |= 0x80 << (24 - (length % 4) * 8);
    message[blocks - 1] = length * 8;
    let h0 = 0x6a09e667, h1 = 0xbb67ae85, h2 = 0x3c6ef372, h3 = 0xa54ff53a;
    let h4 = 0x510e527f, h5 = 0x9b05688c, h6 = 0x1f83d9ab, h7 = 0x5be0cd19;
    for (let offset = 0; offset < blocks; offset += 16) {
      for (let t = 0; t < 16; t++) W[t] = message[offset + t];
      for (let t = 16; t < 64; t++) {
        const a = W[t - 15], b = W[t - 2];
        const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
        const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
        W[t] = (W[t - 16] + s0 + W[t - 7] + s1) | 0;
      }
      let a = h0, b = h1, c = h2, d = h3, e = h4, f = h5, g = h6, h = h7;
      for (let t = 0; t < 64; t++) {
        const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
        const ch = (e & f) ^ (~e & g);
        const temp1 = (h + S1 + ch + K[t] + W[t]) | 0;
        const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
        const maj = (a & b) ^ (a & c) ^ (b & c);
        const temp2 = (S0 + maj) | 0;
        h = g; g = f; f = e; e = (d + temp1) | 0;
        d = c; c = b; b = a; a = (temp1 + temp2) | 0;
      }
      h0 = (h0 + a) | 0; h1 = (h1 + b) | 0; h2 = (h2 + c) | 0; h3 = (h3 + d) | 0;
      h4 = (h4 + e) | 0; h5 = (h5 + f) | 0; h6 = (h6 + g) | 0; h7 = (h7 + h) | 0;
    }
    return [h0 >>> 0, h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0, h5 >>> 0, h6 >>> 0, h7 >>> 0];
  }

  // ---- controls --------------------------------------------------------------------------

  $("signin-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const mode = event.submitter && event.submitter.value === "register" ? "register" : "login";
    const email = $("signin-email").value.trim();
    const password = $("signin-password").value;
    $("signin-error").textContent = "";
    let reply;
    try {
      reply = await api("POST", "/auth/" + mode, { email, password });
    } catch (_) {
      $("signin-error").textContent = "We cannot reach the server; try again.";
      return;
    }
    if ((reply.status === 200 || reply.status === 201) && reply.data.token) {
      localStorage.setItem(sessionKey, reply.data.token);
      join();
      return;
    }
    $("signin-error").textContent =
      reply.data && reply.data.error ? reply.data.error.message : "Signing in failed.";
  });

  $("leave").addEventListener("click", async () => {
    if (!ticket) return;
    finished = true;
    clearTimeout(timer);
    try {
      await api("DELETE", queueUrl + "/" + encodeURIComponent(ticket));
    } catch (_) {
      // the place expires on its own once polling stops
    }
    sessionStorage.removeItem(ticketKey);
    ticket = null;
    show("ended", true);
    $("ended-note").textContent = "You left the line.";
    announce("You left the line.");
  });

  $("rejoin").addEventListener("click", () => {
    finished = false;
    join();
  });

  // A reload keeps polling the same ticket; otherwise join (joining again is harmless: the
  // account gets its place back).
  if (ticket && sessionToken()) {
    showReceiptLink(null);
    poll();
  } else {
    join();
  }
})();
