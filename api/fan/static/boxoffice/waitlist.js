// The fan's waiting-list page: join, see the place (polled), then the offer: its seats,
// total and countdown, bought here (POST /holds/{hold_id}/purchase), or passed on.
// A plain client of the JSON API; statuses it does not know read as "waiting for seats".
"use strict";

(() => {
  const { api, el, money } = onsale;
  const root = document.getElementById("content");
  const eventId = root.dataset.eventId;
  const currency = root.dataset.currency;
  const pollMs = (parseInt(root.dataset.pollSeconds, 10) || 3) * 1000;
  const sections = JSON.parse(root.dataset.sections || "{}");
  const listUrl = `/events/${eventId}/waiting-list`;
  const ORDER_POLL_MS = 300;
  const ORDER_POLL_LIMIT_MS = 60000;
  const PANELS = ["join", "waiting", "offer", "order", "taken", "lapsed"];
  const $ = (id) => document.getElementById(id);
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  const state = { shown: null, offerKey: null, offer: null, timer: null, countdown: null,
                  paying: false, done: false, declined: null };

  // The status line is a live region: it changes only when the news does, so a poll that
  // brings nothing new is not read out again.
  function say(text) {
    if ($("wl-state").textContent !== text) $("wl-state").textContent = text;
  }

  // Show these panels; the first one new to the fan takes focus (its heading), so a
  // keyboard or screen-reader user lands on what changed.
  function show(names, announcement) {
    const key = names.join(" ");
    for (const name of PANELS) $(`wl-${name}`).hidden = !names.includes(name);
    if (state.shown !== null && state.shown !== key) {
      const heading = $(`wl-${names[0]}-title`);
      if (heading) heading.focus();
    }
    state.shown = key;
    if (announcement) say(announcement);
  }

  function seatText(seat) {
    const section = sections[String(seat.section_id)] || "";
    return `${section} row ${seat.row} seat ${seat.label}`.trim() +
      ` · ${money(seat.price_cents, currency)}`;
  }

  function mmss(seconds) {
    const left = Math.max(0, Math.round(seconds));
    return `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
  }

  // ------------------------------------------------------------ the entry, polled

  async function refresh() {
    clearTimeout(state.timer);
    if (state.done) return;
    let entry = null;
    try {
      entry = await api(listUrl);
    } catch (failure) {
      if (failure.status === 401) { onsale.requireSignIn(); return; }
      if (failure.code !== "not_on_waiting_list") {
        say("We cannot reach the waiting list just now; trying again.");
        schedule();
        return;
      }
    }
    await render(entry);
    schedule();
  }

  function schedule() {
    if (state.done) return;
    state.timer = setTimeout(refresh, document.hidden ? pollMs * 4 : pollMs);
  }

  async function render(entry) {
    const status = entry ? entry.status : "none";
    switch (status) {
      case "none":
      case "left":
        show(["join"], "You are not on the waiting list for this event.");
        return;
      case "offered":
        if (entry.hold_id) { await renderOffer(entry); return; }
        break;
      case "taken":
        if (!state.paying) {
          state.done = true;
          show(["taken"], "You bought the seats offered to you.");
        }
        return;
      case "lapsed":
        lapsed();
        return;
      default:
        break;  // waiting, offering, or a status this page does not know: waiting for seats
    }
    renderWaiting(entry);
  }

  function renderWaiting(entry) {
    const place = entry.place;
    $("wl-place").textContent = place ? `${place}` : "–";
    $("wl-wanted").textContent = `${entry.quantity}${entry.tier ? ` (${entry.tier})` : ""}`;
    $("wl-leave").hidden = entry.status !== "waiting";
    let text;
    if (entry.status === "offering") text = "Seats came back: we are holding them for you…";
    else if (place) text = `You are number ${place} on the waiting list.`;
    else text = "You are on the waiting list, waiting for seats to come back.";
    $("wl-waiting-note").textContent = entry.status === "offering" ? text :
      "We offer you seats as soon as enough come back. Keep this page open or watch your " +
      "mail; the page updates by itself.";
    show(["waiting"], text);
  }

  // ------------------------------------------------------------ the offer

  async function renderOffer(entry) {
    if (state.offerKey === entry.hold_id) return;  // shown already: keep what the fan typed
    if (state.declined === entry.hold_id) { lapsed(); return; }  // its release is on its way
    let hold;
    try {
      hold = await api(`/requests/${encodeURIComponent(entry.hold_id)}`);
    } catch (failure) {
      say("Seats are held for you; loading them…");
      return;
    }
    if (hold.hold_status === "sold") { render({ ...entry, status: "taken" }); return; }
    if (hold.hold_status && hold.hold_status !== "active") { lapsed(); return; }
    state.offerKey = entry.hold_id;
    state.offer = hold;
    const list = $("wl-offer-seats");
    list.replaceChildren(...(hold.seats || []).map((seat) => el("li", { text: seatText(seat) })));
    if (hold.zone_id !== null && hold.zone_id !== undefined) {
      list.append(el("li", { text: `${hold.quantity} × standing` }));
    }
    $("wl-offer-total").textContent = money(hold.total_cents, currency);
    const expiresAt = hold.expires_at ||
      (entry.offer_expires_at ? Date.parse(entry.offer_expires_at) / 1000 : Date.now() / 1000);
    const until = new Date(expiresAt * 1000);
    $("wl-offer-until").dateTime = until.toISOString();
    $("wl-offer-until").textContent = onsale.when(until.toISOString());
    clearInterval(state.countdown);
    let warned = false;
    const tick = () => {
      const left = expiresAt - Date.now() / 1000;
      $("wl-countdown").textContent = mmss(left);
      if (left <= 60 && !warned && left > 0) {
        warned = true;
        onsale.announce("One minute left to buy the seats held for you.");
      }
      if (left <= 0 && !state.paying) lapsed();
    };
    tick();
    state.countdown = setInterval(tick, 1000);
    const count = (hold.seats || []).length || hold.quantity;
    show(["offer"], `${count} seat${count === 1 ? " is" : "s are"} held for you: buy ` +
      `${count === 1 ? "it" : "them"} before the offer ends.`);
  }

  function lapsed() {
    clearInterval(state.countdown);
    state.offerKey = null;
    state.offer = null;
    show(["lapsed", "join"], "Your offer has ended; the seats were passed on.");
  }

  $("wl-checkout").addEventListener("submit", async (event) => {
    event.preventDefault();
    const offer = state.offer;
    if (!offer || state.paying) return;
    const card = $("wl-card").value.trim();
    $("wl-checkout-error").textContent = "";
    if (!card) {
      $("wl-checkout-error").textContent = "Enter your card number.";
      $("wl-card").focus();
      return;
    }
    state.paying = true;
    $("wl-buy").disabled = true;
    say("Paying…");
    try {
      // Buying a hold is idempotent (one order per hold), so it is safe to send again.
      const buy = () => api(`/holds/${encodeURIComponent(offer.hold_id)}/purchase`,
        { method: "POST", body: { payment_method: { card_number: card } } });
      let order = await buy();
      const started = Date.now();
      while (!["paid", "declined", "voided"].includes(order.status)) {
        if (Date.now() - started > ORDER_POLL_LIMIT_MS) {
          throw new Error("Payment is taking long; see My orders in a moment.");
        }
        await sleep(ORDER_POLL_MS);
        try {
          order = await api(`/orders/${encodeURIComponent(order.order_id)}`);
        } catch (failure) {
          if (failure.code !== "order_not_found") throw failure;
          order = await buy();  // its record was lost in a restart: the purchase starts again
        }
      }
      showOrder(order);
    } catch (failure) {
      $("wl-checkout-error").textContent = failure.message ||
        "That did not work; please try again.";
      say("Not paid.");
    } finally {
      state.paying = false;
      $("wl-buy").disabled = false;
    }
  });

  function showOrder(order) {
    $("wl-order-status").textContent = order.status;
    if (order.status !== "paid") {
      $("wl-checkout-error").textContent = `Payment ${order.status}: ` +
        ((order.error && order.error.message) || "try another card.");
      say(`Payment ${order.status}.`);
      return;
    }
    state.done = true;
    clearTimeout(state.timer);
    clearInterval(state.countdown);
    $("wl-tickets").replaceChildren(...(order.tickets || []).map((ticket) => el("li", {},
      (ticket.section ? `${ticket.section} row ${ticket.row} seat ${ticket.seat}` : "Standing") +
        ` · ticket ${ticket.ticket_id} · `,
      el("a", { href: `/me/tickets/${ticket.ticket_id}/print`, text: "printable ticket" }))));
    show(["order"], "Paid. Your tickets are below and under My tickets.");
  }

  $("wl-decline").addEventListener("click", async () => {
    const offer = state.offer;
    if (!offer) return;
    $("wl-decline").disabled = true;
    try {
      await api(`/holds/${encodeURIComponent(offer.hold_id)}`, { method: "DELETE",
        headers: { "Idempotency-Key": crypto.randomUUID ? crypto.randomUUID() : String(Math.random()) } });
      state.declined = offer.hold_id;
      lapsed();
    } catch (failure) {
      $("wl-checkout-error").textContent = failure.message;
    } finally {
      $("wl-decline").disabled = false;
    }
  });

  // ------------------------------------------------------------ join, leave

  $("wl-join-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = $("wl-join-error");
    error.textContent = "";
    const quantityInput = $("wl-quantity");
    const quantity = parseInt(quantityInput.value, 10);
    const most = parseInt(quantityInput.max, 10) || 8;
    if (!(quantity >= 1 && quantity <= most)) {
      error.textContent = `Ask for 1 to ${most} tickets.`;
      quantityInput.focus();
      return;
    }
    const body = { quantity };
    const tier = $("wl-tier") ? $("wl-tier").value : "";
    if (tier) body.tier = tier;
    const button = event.target.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      await api(listUrl, { method: "POST", body });
      state.done = false;
      await refresh();
    } catch (failure) {
      if (failure.status === 401) { onsale.requireSignIn(); return; }
      error.textContent = failure.code === "not_sold_out"
        ? "Tickets are still on sale: choose seats on the event page instead."
        : failure.message;
    } finally {
      button.disabled = false;
    }
  });

  $("wl-leave").addEventListener("click", async () => {
    $("wl-leave").disabled = true;
    try {
      await api(listUrl, { method: "DELETE" });
      await refresh();
    } catch (failure) {
      say(failure.message);
    } finally {
      $("wl-leave").disabled = false;
    }
  });

  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && !state.done) refresh();
  });

  if (onsale.requireSignIn()) refresh();
})();
