// The seat-selection page: an SVG seat map kept live by SSE, selection, hold, checkout.
// A plain client of the public JSON API; no framework, no build step.
(() => {
  "use strict";
  const root = document.getElementById("booking");
  const eventId = root.dataset.eventId;
  const sessionKey = root.dataset.sessionKey;
  const admissionKey = root.dataset.admissionPrefix + eventId;
  const currency = root.dataset.currency;
  const buyerLimit = parseInt(root.dataset.buyerLimit, 10) || 8;
  const SVG_NS = "http://www.w3.org/2000/svg";
  const PALETTE = ["#2f6fdb", "#1c8a4c", "#b7791f", "#8e44ad", "#d35400", "#16a085", "#c0392b"];
  const POLL_MS = 250;
  const POLL_LIMIT_MS = 60000;
  const RETRY_LIMIT_MS = 60000;
  const MAX_BACKOFF_S = 8;
  const keptKey = "onsale.booking." + eventId + ".";
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  const state = {
    seats: new Map(),      // seat id -> {row, label, section, category, price, state}
    nodes: new Map(),      // seat id -> <circle>
    sections: new Map(),   // section id -> name
    zones: new Map(),      // zone id -> {name, price, available}
    categoryColor: new Map(),
    selected: new Set(),
    version: 0,
    stream: null,
    hold: null,
    countdown: null,
  };

  const $ = (id) => document.getElementById(id);
  const money = (cents) => cents == null ? "\u2013" :
    new Intl.NumberFormat(undefined, {style: "currency", currency}).format(cents / 100);

  function say(text, kind) {
    const message = $("message");
    message.textContent = text || "";
    message.className = kind || "";
  }

  function sessionToken() {
    return localStorage.getItem(sessionKey) || sessionStorage.getItem(sessionKey);
  }

  function admissionToken() {
    try {
      const stored = JSON.parse(sessionStorage.getItem(admissionKey) || "null");
      return stored && stored.token ? stored.token : null;
    } catch (error) {
      return null;
    }
  }

  // Seconds before the next try: the server's Retry-After, else our own doubling backoff,
  // plus up to half again at random so fans turned away together do not return together.
  function retryDelaySeconds(response, attempt) {
    const header = Number(response ? response.headers.get("Retry-After") : NaN);
    const base = Number.isFinite(header) && header > 0 ? header :
      Math.min(MAX_BACKOFF_S, 0.5 * 2 ** attempt);
    return base * (1 + Math.random() / 2);
  }

  // One call of the JSON API. A 503 or 429 (a server restarting, a full queue) or a lost
  // connection is retried for up to RETRY_LIMIT_MS: the fan's hold and pending request are
  // kept meanwhile (calls that change state carry an Idempotency-Key or are idempotent).
  async function api(method, path, body, extraHeaders) {
    const headers = {"Accept": "application/json", ...(extraHeaders || {})};
    const token = sessionToken();
    if (token) headers["Authorization"] = "Bearer " + token;
    const admission = admissionToken();
    if (admission) headers["X-Admission-Token"] = admission;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      let response = null;
      try {
        response = await fetch(path, {
          method, headers, body: body === undefined ? undefined : JSON.stringify(body)});
      } catch (networkError) {
        response = null;
      }
      const retryable = response === null || response.status === 503 || response.status === 429;
      if (retryable && Date.now() - started < RETRY_LIMIT_MS) {
        say("The service is busy; retrying\u2026 You keep your hold meanwhile.", "warn");
        await sleep(retryDelaySeconds(response, attempt) * 1000);
        continue;
      }
      if (response === null) throw new Error("We cannot reach the service; please try again.");
      const data = response.status === 204 ? {} : await response.json().catch(() => ({}));
      if (!response.ok) {
        const error = new Error((data.error && data.error.message) || response.statusText);
        error.status = response.status;
        error.code = data.error && data.error.code;
        error.details = (data.error && data.error.details) || {};
        throw error;
      }
      return data;
    }
  }

  const idempotencyKey = () => crypto.randomUUID ? crypto.randomUUID() : String(Math.random());

  // The hold and a request still being decided survive a reload of the page (and so an
  // outage the fan reloads through): kept in this tab's sessionStorage.
  function remember(name, value) {
    try {
      if (value == null) sessionStorage.removeItem(keptKey + name);
      else sessionStorage.setItem(keptKey + name, JSON.stringify(value));
    } catch (error) { /* storage full or disabled: the page still works without it */ }
  }

  function recalled(name) {
    try {
      return JSON.parse(sessionStorage.getItem(keptKey + name) || "null");
    } catch (error) {
      return null;
    }
  }

  function explain(error) {
    if (error.status === 401) {
      showSignIn(true);
      return "Please sign in first.";
    }
    if (error.code === "not_admitted") {
      return "You need to be admitted from the waiting room first: " +
        location.origin + "/events/" + eventId;
    }
    return error.message || "Something went wrong; please try again.";
  }

  // ------------------------------------------------------------ sign in

  function showSignIn(show) {
    $("sign-in").hidden = !show;
  }

  $("sign-in-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    try {
      const answer = await api("POST", "/auth/login",
        {email: form.get("email"), password: form.get("password")});
      localStorage.setItem(sessionKey, answer.token);
      showSignIn(false);
      say("Signed in as " + answer.user.email + ".", "ok");
    } catch (error) {
      say(error.message, "error");
    }
  });

  // ------------------------------------------------------------ the seat map

  // Radius from the nearest-neighbour distance of a sample of seats, so seats never overlap.
  function seatRadius(seats, at) {
    let closest = Infinity;
    const step = Math.max(1, Math.floor(seats.length / 200));
    for (let i = 0; i < seats.length; i += step) {
      const x = seats[i][at.x], y = seats[i][at.y];
      for (let j = 0; j < seats.length; j++) {
        if (j === i) continue;
        const d = Math.hypot(seats[j][at.x] - x, seats[j][at.y] - y);
        if (d > 0 && d < closest) closest = d;
      }
    }
    return closest === Infinity ? 8 : Math.max(1.2, Math.min(9, closest * 0.45));
  }

  function draw(map) {
    const svg = $("seat-map");
    svg.textContent = "";
    const stage = map.venue && map.venue.stage;
    if (stage) {
      const rect = document.createElementNS(SVG_NS, "rect");
      rect.setAttribute("x", stage.x); rect.setAttribute("y", stage.y);
      rect.setAttribute("width", stage.width); rect.setAttribute("height", stage.height);
      rect.setAttribute("class", "stage");
      svg.appendChild(rect);
    }
    const fields = map.seat_fields;
    const at = Object.fromEntries(fields.map((name, index) => [name, index]));
    const radius = seatRadius(map.seats, at);
    const fragment = document.createDocumentFragment();
    let minX = 1000, minY = 1000, maxX = 0, maxY = 0;
    for (const row of map.seats) {
      const id = row[at.seat_id];
      const seat = {row: row[at.row], label: row[at.label], section: row[at.section_id],
                    category: row[at.category], price: row[at.price_cents],
                    state: row[at.state]};
      state.seats.set(id, seat);
      if (!state.categoryColor.has(seat.category)) {
        state.categoryColor.set(seat.category,
          PALETTE[state.categoryColor.size % PALETTE.length]);
      }
      const x = row[at.x], y = row[at.y];
      minX = Math.min(minX, x); minY = Math.min(minY, y);
      maxX = Math.max(maxX, x); maxY = Math.max(maxY, y);
      const circle = document.createElementNS(SVG_NS, "circle");
      circle.setAttribute("cx", x); circle.setAttribute("cy", y);
      circle.setAttribute("r", radius);
      circle.dataset.seatId = id;
      circle.style.fill = state.categoryColor.get(seat.category);
      state.nodes.set(id, circle);
      paint(id);
      fragment.appendChild(circle);
    }
    svg.appendChild(fragment);
    if (stage) {
      minX = Math.min(minX, stage.x); minY = Math.min(minY, stage.y);
      maxX = Math.max(maxX, stage.x + stage.width); maxY = Math.max(maxY, stage.y + stage.height);
    }
    if (map.seats.length) {
      const pad = radius * 3;
      svg.setAttribute("viewBox", [minX - pad, minY - pad, maxX - minX + 2 * pad,
                                   maxY - minY + 2 * pad].join(" "));
    }
    legend();
  }

  function legendItem(text, color, className) {
    // the category is the organizer's text: it goes in as text, never as markup
    const item = document.createElement("span");
    const swatch = document.createElement("i");
    if (color) swatch.style.background = color;
    if (className) swatch.className = className;
    item.append(swatch, text);
    return item;
  }

  function legend() {
    const items = [];
    for (const [category, color] of state.categoryColor) {
      let price = null;
      for (const seat of state.seats.values()) {
        if (seat.category === category) { price = seat.price; break; }
      }
      items.push(legendItem(`${category} ${money(price)}`, color, null));
    }
    items.push(legendItem("taken", null, "taken"));
    $("legend").replaceChildren(...items.flatMap((item) => [item, " "]));
  }

  function paint(id) {
    const node = state.nodes.get(id);
    const seat = state.seats.get(id);
    if (!node || !seat) return;
    node.classList.toggle("taken", seat.state !== "available");
    node.classList.toggle("selected", state.selected.has(id));
  }

  function applyChanges(changes) {
    for (const [key, value] of Object.entries(changes)) {
      if (key.startsWith("zone:")) {
        const zone = state.zones.get(parseInt(key.slice(5), 10));
        if (zone) { zone.available = parseInt(value, 10); }
        continue;
      }
      const id = parseInt(key, 10);
      const seat = state.seats.get(id);
      if (!seat) continue;
      seat.state = value;
      if (value !== "available" && state.selected.has(id) && !(state.hold &&
          (state.hold.seat_ids || []).includes(id))) {
        state.selected.delete(id);
        say(`Seat ${seat.row}-${seat.label} was just taken by someone else.`, "warn");
        renderSelection();
      }
      paint(id);
    }
    renderZones();
  }

  function applySnapshot(snapshot) {
    for (const [id, seat] of state.seats) {
      if (seat.state !== "available" && !(String(id) in snapshot.states)) {
        seat.state = "available";
        paint(id);
      }
    }
    applyChanges(snapshot.states);
  }

  function follow() {
    if (state.stream) state.stream.close();
    const source = new EventSource(
      `/events/${eventId}/availability/stream?after=${state.version}`);
    source.addEventListener("delta", (event) => {
      const delta = JSON.parse(event.data);
      if (delta.version <= state.version) return;
      state.version = delta.version;
      applyChanges(delta.changes);
      root.dataset.version = state.version;
    });
    source.addEventListener("snapshot", (event) => {
      const snapshot = JSON.parse(event.data);
      state.version = snapshot.version;
      applySnapshot(snapshot);
      root.dataset.version = state.version;
    });
    state.stream = source;
  }

  $("seat-map").addEventListener("click", (event) => {
    const id = parseInt(event.target.dataset && event.target.dataset.seatId, 10);
    if (!id || state.hold) return;
    const seat = state.seats.get(id);
    if (!seat || seat.state !== "available") return;
    if (state.selected.has(id)) {
      state.selected.delete(id);
    } else if (state.selected.size >= buyerLimit) {
      say(`At most ${buyerLimit} tickets per fan for this event.`, "warn");
      return;
    } else {
      state.selected.add(id);
    }
    paint(id);
    renderSelection();
  });

  $("seat-map").addEventListener("mouseover", (event) => {
    const id = parseInt(event.target.dataset && event.target.dataset.seatId, 10);
    const seat = id && state.seats.get(id);
    if (!seat) return;
    $("hover-info").textContent = `${state.sections.get(seat.section) || ""} row ${seat.row} ` +
      `seat ${seat.label} \u00b7 ${money(seat.price)} \u00b7 ${seat.state}`;
  });

  function renderSelection() {
    const list = $("selected-list");
    list.textContent = "";
    let total = 0;
    for (const id of state.selected) {
      const seat = state.seats.get(id);
      total += seat.price || 0;
      const item = document.createElement("li");
      item.textContent = `${state.sections.get(seat.section) || ""} row ${seat.row} ` +
        `seat ${seat.label} \u00b7 ${money(seat.price)}`;
      list.appendChild(item);
    }
    $("selected-total").textContent = state.selected.size ? money(total) : "\u2013";
    $("reserve-selected").disabled = state.selected.size === 0 || !!state.hold;
  }

  function renderZones() {
    const list = $("ga-list");
    if (!state.zones.size) return;
    $("ga-zones").hidden = false;
    for (const [id, zone] of state.zones) {
      let item = list.querySelector(`[data-zone-id="${id}"]`);
      if (!item) {
        item = document.createElement("li");
        item.dataset.zoneId = id;
        item.innerHTML = `<span class="zone-name"></span> <span class="zone-left"></span>
          <input type="number" min="1" max="${buyerLimit}" value="2" aria-label="Tickets">
          <button>Reserve</button>`;
        item.querySelector("button").addEventListener("click", () => {
          const quantity = parseInt(item.querySelector("input").value, 10);
          reserve({general_admission: {zone_id: id, quantity}});
        });
        list.appendChild(item);
      }
      item.querySelector(".zone-name").textContent = `${zone.name} (${money(zone.price)})`;
      item.querySelector(".zone-left").textContent = `${zone.available} left`;
    }
  }

  // ------------------------------------------------------------ reserve, hold, pay

  async function pollRequest(requestId) {
    const started = Date.now();
    for (;;) {
      const answer = await api("GET", `/requests/${requestId}`);
      if (answer.status !== "pending") return answer;
      if (Date.now() - started > POLL_LIMIT_MS) throw new Error("No decision yet; try again.");
      say(answer.ahead ? `Deciding\u2026 ${answer.ahead} requests ahead of yours.` :
        "Deciding\u2026", "");
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  async function reserve(body) {
    if (!sessionToken()) { showSignIn(true); say("Please sign in first.", "warn"); return; }
    say("Reserving\u2026", "");
    try {
      const accepted = await api("POST", `/events/${eventId}/reservations`, body,
        {"Idempotency-Key": idempotencyKey()});
      await decide(accepted.request_id);
    } catch (error) {
      say(explain(error), "error");
    }
  }

  // Follow a reservation to its decision. A request lost in a server restart ends
  // `failed` (code request_lost): nothing was booked and the fan may simply try again.
  async function decide(requestId) {
    remember("pending", requestId);
    try {
      const decided = await pollRequest(requestId);
      if (decided.status === "held") {
        showHold(decided);
      } else {
        const error = decided.error || {};
        say(`Not held: ${error.message || decided.status}`, "error");
      }
    } finally {
      remember("pending", null);
    }
  }

  $("reserve-selected").addEventListener("click", () => {
    reserve({seats: Array.from(state.selected)});
  });

  $("reserve-best").addEventListener("click", () => {
    const quantity = parseInt($("best-quantity").value, 10) || 1;
    const section = $("best-section").value;
    const spec = {quantity};
    if (section) spec.section_id = parseInt(section, 10);
    reserve({best_available: spec});
  });

  function showHold(hold) {
    state.hold = hold;
    state.selected = new Set(hold.seat_ids || []);
    for (const id of state.seats.keys()) paint(id);
    const list = $("hold-seats");
    list.textContent = "";
    for (const seat of hold.seats || []) {
      const item = document.createElement("li");
      item.textContent = `${state.sections.get(seat.section_id) || ""} row ${seat.row} ` +
        `seat ${seat.label} \u00b7 ${money(seat.price_cents)}`;
      list.appendChild(item);
    }
    if (hold.zone_id != null) {
      const item = document.createElement("li");
      const zone = state.zones.get(hold.zone_id);
      item.textContent = `${hold.quantity} \u00d7 ${zone ? zone.name : "standing"}`;
      list.appendChild(item);
    }
    $("hold-total").textContent = money(hold.total_cents);
    remember("hold", hold);
    $("hold").hidden = false;
    $("selection").hidden = true;
    $("best-available").hidden = true;
    clearInterval(state.countdown);
    const tick = () => {
      const left = Math.max(0, Math.round(hold.expires_at - Date.now() / 1000));
      $("hold-countdown").textContent = `${Math.floor(left / 60)}:` +
        String(left % 60).padStart(2, "0");
      if (left === 0) { clearInterval(state.countdown); say("Your hold expired.", "warn"); }
    };
    tick();
    state.countdown = setInterval(tick, 1000);
    say("Held! Pay before the timer runs out.", "ok");
  }

  function clearHold() {
    clearInterval(state.countdown);
    state.hold = null;
    remember("hold", null);
    state.selected.clear();
    for (const id of state.seats.keys()) paint(id);
    $("hold").hidden = true;
    $("selection").hidden = false;
    $("best-available").hidden = false;
    renderSelection();
  }

  $("release-hold").addEventListener("click", async () => {
    if (!state.hold) return;
    try {
      const accepted = await api("DELETE", `/holds/${state.hold.hold_id}`, undefined,
        {"Idempotency-Key": idempotencyKey()});
      await pollRequest(accepted.request_id);
      clearHold();
      say("Released.", "ok");
    } catch (error) {
      say(explain(error), "error");
    }
  });

  $("checkout-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!state.hold) return;
    $("pay").disabled = true;
    say("Paying\u2026", "");
    try {
      // Buying a hold is idempotent (one order per hold), so it is safe to send again.
      const buy = () => api("POST", `/holds/${state.hold.hold_id}/purchase`,
        {payment_method: {card_number: $("card-number").value}});
      let order = await buy();
      const started = Date.now();
      while (!["paid", "declined", "voided"].includes(order.status)) {
        if (Date.now() - started > POLL_LIMIT_MS) throw new Error("Payment is taking long.");
        await sleep(POLL_MS);
        try {
          order = await api("GET", `/orders/${order.order_id}`);
        } catch (error) {
          if (error.code !== "order_not_found") throw error;
          order = await buy(); // its record was lost in a restart: the purchase starts again
        }
      }
      showOrder(order);
    } catch (error) {
      say(explain(error), "error");
    } finally {
      $("pay").disabled = false;
    }
  });

  function showOrder(order) {
    $("order").hidden = false;
    $("order-status").textContent = order.status;
    const list = $("tickets");
    list.textContent = "";
    for (const ticket of order.tickets || []) {
      const item = document.createElement("li");
      item.textContent = (ticket.section ? `${ticket.section} row ${ticket.row} seat ` +
        `${ticket.seat}` : "Standing") + ` \u00b7 ticket ${ticket.qr_payload}`;
      list.appendChild(item);
    }
    if (order.status === "paid") {
      clearInterval(state.countdown);
      remember("hold", null);
      $("hold").hidden = true;
      say("Paid. Your tickets are below.", "ok");
    } else {
      say(`Payment ${order.status}: ${(order.error && order.error.message) || ""}`, "error");
    }
  }

  // ------------------------------------------------------------ start

  async function start() {
    if (!sessionToken()) showSignIn(true);
    $("best-quantity").max = buyerLimit;
    try {
      const map = await api("GET", `/events/${eventId}/seats`);
      state.version = map.version;
      root.dataset.version = map.version;
      for (const section of map.sections) {
        state.sections.set(section.section_id, section.name);
        const option = document.createElement("option");
        option.value = section.section_id;
        option.textContent = section.name;
        $("best-section").appendChild(option);
      }
      for (const zone of map.ga_zones) {
        state.zones.set(zone.zone_id, {name: zone.name, price: zone.price_cents,
                                       available: zone.available});
      }
      if (!map.seats.length) $("best-available").hidden = true;
      draw(map);
      renderZones();
      renderSelection();
      follow();
      root.dataset.ready = "true";
      const hold = recalled("hold");
      if (hold && hold.expires_at > Date.now() / 1000) showHold(hold);
      else remember("hold", null);
      const pending = recalled("pending");
      if (pending && !state.hold) await decide(pending);
    } catch (error) {
      say(explain(error), "error");
    }
  }

  start();
})();
