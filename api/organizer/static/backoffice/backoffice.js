// The organizer's backoffice: events and venues, a venue from a seat-map document (checked
// and previewed before saving), the event form, and an event's dashboard (live sales,
// holdbacks on the seat map, attendees with a CSV export, refunds, publish, cancel).
"use strict";

(() => {
  const { api, el, money, when } = onsale;
  const SVG = "http://www.w3.org/2000/svg";
  const REFRESH_MS = 5000;

  function svgNode(tag, attributes = {}) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
    return node;
  }

  function setState(id, text, kind) {
    const node = document.getElementById(id);
    node.textContent = text;
    node.className = kind || "";
  }

  async function waitForDecision(statusUrl) {
    for (let i = 0; i < 100; i += 1) {
      const state = await api(statusUrl);
      if (state.status !== "pending") return state;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error("No decision yet; look again in a moment.");
  }

  // ------------------------------------------------------------ organizer home

  async function organizerHome() {
    const events = document.getElementById("events");
    const more = document.getElementById("events-more");
    let cursor = null;
    async function loadEvents() {
      const page = await api(`/organizer/events${cursor ? `?cursor=${encodeURIComponent(cursor)}` : ""}`);
      for (const event of page.events) {
        events.tBodies[0].append(el("tr", {},
          el("td", {}, el("a", { href: `/organizer/events/${event.event_id}`, text: event.name })),
          el("td", { text: when(event.starts_at) }),
          el("td", { text: event.status }),
          el("td", { class: "num", text: event.availability.tickets_left }),
          el("td", {}, el("a", { href: `/organizer/events/${event.event_id}/gate`, text: "Gate" }))));
      }
      cursor = page.next_cursor;
      more.hidden = !cursor;
    }
    more.addEventListener("click", loadEvents);
    try {
      await loadEvents();
      const venues = await api("/venues");
      for (const venue of venues.venues) {
        document.getElementById("venues").tBodies[0].append(el("tr", {},
          el("td", { text: venue.name }), el("td", { text: venue.city }),
          el("td", { class: "num", text: venue.seats }), el("td", { class: "num", text: venue.capacity })));
      }
      if (!events.tBodies[0].rows.length) setState("organizer-state", "No events yet: start with a venue, then an event.");
    } catch (failure) {
      setState("organizer-state", failure.status === 403 ? "This account is not an organizer's." : failure.message, "error");
    }
  }

  // ------------------------------------------------------------ seat maps

  function drawSeatMap(container, doc, seats, onSeat) {
    // `seats`: [{key, x, y, title, className}] in document coordinates (0..1000).
    const xs = seats.map((s) => s.x);
    const ys = seats.map((s) => s.y);
    if (doc && doc.stage) {
      xs.push(doc.stage.x, doc.stage.x + doc.stage.width);
      ys.push(doc.stage.y, doc.stage.y + doc.stage.height);
    }
    const pad = 20;
    const left = xs.length ? Math.min(...xs) - pad : 0;
    const top = ys.length ? Math.min(...ys) - pad : 0;
    const width = xs.length ? Math.max(...xs) + pad - left : 1000;
    const height = ys.length ? Math.max(...ys) + pad - top : 1000;
    const svg = svgNode("svg", { viewBox: `${left} ${top} ${width} ${height}`, role: "group",
                                 "aria-label": "Seat map" });
    if (doc && doc.stage) {
      svg.append(svgNode("rect", { x: doc.stage.x, y: doc.stage.y, width: doc.stage.width,
                                   height: doc.stage.height, fill: "#3a4256", rx: 6 }));
    }
    const circles = new Map();
    for (const seat of seats) {
      const circle = svgNode("circle", { cx: seat.x, cy: seat.y, r: 7, fill: "#2e7d32",
                                         "data-key": seat.key, class: seat.className || "" });
      const title = svgNode("title");
      title.textContent = seat.title;
      circle.append(title);
      if (onSeat) {
        circle.setAttribute("tabindex", "0");
        circle.setAttribute("role", "checkbox");
        circle.setAttribute("aria-checked", "false");
        circle.setAttribute("aria-label", seat.title);
        circle.addEventListener("click", () => onSeat(seat, circle));
        circle.addEventListener("keydown", (event) => {
          if (event.key === " " || event.key === "Enter") { event.preventDefault(); onSeat(seat, circle); }
        });
      }
      circles.set(seat.key, circle);
      svg.append(circle);
    }
    container.replaceChildren(svg);
    return circles;
  }

  function documentSeats(doc) {
    const seats = [];
    const sections = Array.isArray(doc.sections) ? doc.sections : [];
    sections.forEach((section, s) => {
      (Array.isArray(section && section.rows) ? section.rows : []).forEach((row, r) => {
        (Array.isArray(row && row.seats) ? row.seats : []).forEach((seat, k) => {
          const x = Number(seat && seat.x);
          const y = Number(seat && seat.y);
          seats.push({ key: `sections[${s}].rows[${r}].seats[${k}]`,
                       x: Number.isFinite(x) ? Math.min(Math.max(x, 0), 1000) : 0,
                       y: Number.isFinite(y) ? Math.min(Math.max(y, 0), 1000) : 0,
                       title: `${section && section.name} row ${row && row.label} seat ${seat && seat.label}` });
        });
      });
    });
    return seats;
  }

  // ------------------------------------------------------------ new venue

  function venueNew() {
    const text = document.getElementById("venue-doc");
    const save = document.getElementById("venue-save");
    const problemsBox = document.getElementById("venue-problems");
    const problemsList = document.getElementById("problems");
    let circles = new Map();

    document.getElementById("venue-file").addEventListener("change", async (event) => {
      const [file] = event.target.files;
      if (file) { text.value = await file.text(); save.disabled = true; }
    });
    text.addEventListener("input", () => { save.disabled = true; });

    function highlight(path) {
      for (const circle of circles.values()) circle.classList.remove("problem");
      const matching = [...circles.entries()].filter(([key]) => path === key || path.startsWith(`${key}.`) || key.startsWith(`${path}.`) || key.startsWith(`${path}[`));
      for (const [, circle] of matching) circle.classList.add("problem");
      return matching.length;
    }

    async function check() {
      problemsList.replaceChildren();
      problemsBox.hidden = true;
      save.disabled = true;
      let doc;
      try {
        doc = JSON.parse(text.value);
      } catch (failure) {
        setState("venue-state", `The document is not JSON: ${failure.message}`, "error");
        return null;
      }
      const answer = await api("/venues/check", { method: "POST", body: text.value,
                                                  headers: { "Content-Type": "application/json" } });
      document.getElementById("venue-preview").hidden = false;
      circles = drawSeatMap(document.getElementById("preview-map"), doc, documentSeats(doc), null);
      const s = answer.summary;
      document.getElementById("preview-summary").textContent =
        `${doc.name || "(no name)"}, ${doc.city || ""}: ${s.seats} seats in ${s.sections} section(s), ` +
        `${s.ga_capacity} standing in ${s.ga_zones} zone(s); categories ${s.categories.join(", ") || "none"}.`;
      if (answer.valid) {
        setState("venue-state", "The seat map is valid: check the preview, then save.", "ok");
        save.disabled = false;
        return doc;
      }
      problemsBox.hidden = false;
      for (const problem of answer.problems) {
        const button = el("button", { type: "button", class: "secondary", text: "Show on the map" });
        button.addEventListener("click", () => {
          const found = highlight(problem.field);
          onsale.announce(found ? `${found} seat(s) marked on the map.` : "This element has no seat on the map.");
          document.getElementById("preview-map").scrollIntoView({ block: "nearest" });
        });
        problemsList.append(el("li", {}, el("code", { text: problem.field }), ` ${problem.reason} `, button));
      }
      for (const problem of answer.problems) {
        for (const [key, circle] of circles) {
          if (problem.field === key || problem.field.startsWith(`${key}.`)) circle.classList.add("problem");
        }
      }
      setState("venue-state", `${answer.problems.length} problem(s): fix them in the document and check again.`, "error");
      return null;
    }

    document.getElementById("venue-check").addEventListener("click", () => check().catch((failure) => setState("venue-state", failure.message, "error")));
    document.getElementById("venue-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const venue = await api("/venues", { method: "POST", body: text.value,
                                             headers: { "Content-Type": "application/json" } });
        const state = document.getElementById("venue-state");
        state.className = "ok";
        state.replaceChildren(`Saved: ${venue.name} (${venue.seats} seats). `,
          el("a", { href: `/organizer/events/new?venue_id=${venue.venue_id}`, text: "Create an event at this venue" }));
        save.disabled = true;
      } catch (failure) {
        setState("venue-state", failure.message, "error");
      }
    });
  }

  // ------------------------------------------------------------ event form

  function localInput(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    const pad = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
  }

  function tierRow(tier, index) {
    const id = `tier-${index}-${Math.random().toString(36).slice(2, 7)}`;
    return el("div", { class: "filters tier" },
      el("div", {}, el("label", { for: `${id}-cat`, text: "Seat category" }),
        el("input", { id: `${id}-cat`, name: "tier-category", value: tier.category || "", required: true })),
      el("div", {}, el("label", { for: `${id}-name`, text: "Tier name" }),
        el("input", { id: `${id}-name`, name: "tier-name", value: tier.name || "" })),
      el("div", {}, el("label", { for: `${id}-price`, text: "Price" }),
        el("input", { id: `${id}-price`, name: "tier-price", type: "number", min: "0", step: "0.01", inputmode: "decimal",
                      value: tier.price_cents !== undefined ? (tier.price_cents / 100).toFixed(2) : "" })));
  }

  async function eventForm() {
    const main = document.querySelector("main");
    const eventId = main.dataset.eventId;
    const form = document.getElementById("event-form");
    const tiers = document.getElementById("tiers");
    const venueSelect = document.getElementById("ev-venue");
    const errors = document.getElementById("form-errors");
    let published = false;

    async function categoriesOf(venueId) {
      const venue = await api(`/venues/${venueId}`);
      const seen = new Set();
      for (const section of venue.seatmap.sections || []) for (const row of section.rows) for (const seat of row.seats) seen.add(seat.category);
      for (const zone of venue.seatmap.ga_zones || []) seen.add(zone.category);
      return [...seen];
    }

    document.getElementById("tier-add").addEventListener("click", () => tiers.append(tierRow({}, tiers.children.length)));
    const venues = await api("/venues");
    for (const venue of venues.venues) venueSelect.append(el("option", { value: venue.venue_id, text: `${venue.name}, ${venue.city}` }));
    venueSelect.addEventListener("change", async () => {
      if (published) return;
      tiers.replaceChildren();
      (await categoriesOf(venueSelect.value)).forEach((category, i) => tiers.append(tierRow({ category, name: `Category ${category}` }, i)));
    });

    if (eventId) {
      const event = await api(`/events/${eventId}`);
      published = event.status !== "draft";
      form.elements.name.value = event.name;
      form.elements.description.value = event.description;
      form.elements.category.value = event.category;
      venueSelect.value = event.venue.venue_id;
      form.elements.performers.value = event.performers.map((p) => p.name).join(", ");
      form.elements.starts_at.value = localInput(event.starts_at);
      form.elements.onsale_at.value = localInput(event.onsale_at);
      form.elements.currency.value = event.currency;
      form.elements.buyer_limit.value = event.buyer_limit;
      form.elements.hold_minutes.value = Math.round(event.hold_ttl_seconds / 60);
      event.price_tiers.forEach((tier, i) => tiers.append(tierRow(tier, i)));
      if (published) {
        setState("form-state", "Published: venue, prices, currency, buyer limit and hold time are fixed now; name, description, category, performers and dates can change.");
        for (const name of ["venue_id", "currency", "buyer_limit", "hold_minutes"]) form.elements[name].disabled = true;
        for (const input of tiers.querySelectorAll("input")) input.disabled = true;
        document.getElementById("tier-add").hidden = true;
      }
    } else {
      const wanted = new URLSearchParams(location.search).get("venue_id");
      if (wanted) venueSelect.value = wanted;
      if (venueSelect.value) venueSelect.dispatchEvent(new Event("change"));
    }

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      errors.replaceChildren();
      for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
      const f = form.elements;
      const body = {
        name: f.name.value, description: f.description.value, category: f.category.value,
        performers: f.performers.value.split(",").map((p) => p.trim()).filter(Boolean),
        starts_at: f.starts_at.value ? new Date(f.starts_at.value).toISOString() : null,
        onsale_at: f.onsale_at.value ? new Date(f.onsale_at.value).toISOString() : null,
      };
      if (!published) {
        Object.assign(body, {
          venue_id: Number(f.venue_id.value), currency: f.currency.value.toUpperCase(),
          buyer_limit: Number(f.buyer_limit.value), hold_ttl_seconds: Number(f.hold_minutes.value) * 60,
          price_tiers: [...tiers.querySelectorAll(".tier")].map((row) => {
            const [category, name, price] = row.querySelectorAll("input");
            const tier = { category: category.value, price_cents: Math.round(Number(price.value) * 100) };
            if (name.value) tier.name = name.value;
            return tier;
          }),
        });
      }
      try {
        const saved = eventId
          ? await api(`/events/${eventId}`, { method: "PATCH", body })
          : await api("/events", { method: "POST", body });
        location.assign(`/organizer/events/${saved.event_id}`);
      } catch (failure) {
        const field = failure.details.field || "";
        errors.append(el("li", { class: "error", text: failure.message }));
        const tierMatch = field.match(/^price_tiers\[(\d+)\]\.(\w+)/);
        let input = null;
        if (tierMatch) {
          const row = tiers.querySelectorAll(".tier")[Number(tierMatch[1])];
          const at = { category: 0, name: 1, price_cents: 2 }[tierMatch[2]];
          input = row && at !== undefined ? row.querySelectorAll("input")[at] : null;
        } else if (field === "hold_ttl_seconds") {
          input = f.hold_minutes;
        } else if (f[field.split(/[.[]/)[0]]) {
          input = f[field.split(/[.[]/)[0]];
        }
        if (input && input.setAttribute) { input.setAttribute("aria-invalid", "true"); input.focus(); }
      }
    });
  }

  // ------------------------------------------------------------ event dashboard

  async function eventDashboard() {
    const eventId = document.querySelector("main").dataset.eventId;
    let event;
    try {
      event = await api(`/events/${eventId}`);
    } catch (failure) {
      setState("dash-state", failure.status === 404 ? "No such event of yours." : failure.message, "error");
      return;
    }
    document.getElementById("ev-title").textContent = event.name;
    document.title = `${event.name} · organizer · onsale`;
    document.getElementById("ev-where").textContent = `${when(event.starts_at)} · ${event.venue.name}, ${event.venue.city} · ${event.status}` +
      (event.status === "published" ? ` · on sale from ${when(event.onsale_at)}` : "");

    const publish = document.getElementById("ev-publish");
    publish.hidden = event.status !== "draft";
    publish.addEventListener("click", async () => {
      try {
        await api(`/events/${eventId}/publish`, { method: "POST" });
        location.reload();
      } catch (failure) { setState("dash-state", failure.message, "error"); }
    });
    const cancel = document.getElementById("ev-cancel");
    const warning = document.getElementById("cancel-warning");
    cancel.hidden = event.status === "cancelled";
    cancel.addEventListener("click", () => { warning.hidden = false; document.getElementById("cancel-keep").focus(); });
    document.getElementById("cancel-keep").addEventListener("click", () => { warning.hidden = true; cancel.focus(); });
    document.getElementById("cancel-confirm").addEventListener("click", async () => {
      try {
        await api(`/events/${eventId}/cancel`, { method: "POST" });
        location.reload();
      } catch (failure) { setState("dash-state", failure.message, "error"); }
    });

    async function sales() {
      const report = await api(`/organizer/events/${eventId}/sales`);
      const body = document.getElementById("sales").tBodies[0];
      body.replaceChildren(...report.tiers.map((t) => el("tr", {},
        el("td", { text: `${t.name} (${t.category})` }), el("td", { class: "num", text: money(t.price_cents, report.currency) }),
        el("td", { class: "num", text: t.sold }), el("td", { class: "num", text: t.held }),
        el("td", { class: "num", text: t.blocked }), el("td", { class: "num", text: t.available }),
        el("td", { class: "num", text: money(t.revenue_cents, report.currency) }))));
      const totals = report.totals;
      document.getElementById("sales").tFoot.replaceChildren(el("tr", {},
        el("th", { scope: "row", text: "Total" }), el("td"),
        el("td", { class: "num", text: totals.sold }), el("td", { class: "num", text: totals.held }),
        el("td", { class: "num", text: totals.blocked }), el("td", { class: "num", text: totals.available }),
        el("td", { class: "num", text: money(totals.revenue_cents, report.currency) })));
      document.getElementById("sales-note").textContent =
        `${totals.paid_orders} paid order(s), ${totals.refunded_orders} refunded (${money(totals.refunded_cents, report.currency)}), ${totals.checked_in} ticket(s) scanned in. Updates every few seconds.`;
    }
    await sales().catch((failure) => setState("dash-state", failure.message, "error"));
    setInterval(() => { if (!document.hidden) sales().catch(() => {}); }, REFRESH_MS);

    // Holdbacks on the seat map.
    const selected = new Map();
    const blockButton = document.getElementById("hb-block");
    const unblockButton = document.getElementById("hb-unblock");
    let circles = new Map();
    function updateSelection() {
      const states = [...selected.values()];
      blockButton.disabled = !states.length || states.some((s) => s !== "available");
      unblockButton.disabled = !states.length || states.some((s) => s !== "blocked");
      document.getElementById("hb-selected").textContent = states.length ? `${states.length} seat(s) selected` : "";
    }
    async function drawHoldbacks() {
      if (event.status !== "published") {
        document.getElementById("holdback-map").textContent = "Publish the event to hold seats back.";
        return;
      }
      const map = await api(`/events/${eventId}/seats`);
      const fields = map.seat_fields;
      const at = (name) => fields.indexOf(name);
      const sections = Object.fromEntries(map.sections.map((s) => [s.section_id, s.name]));
      const seats = map.seats.map((row) => {
        const state = row[at("state")];
        return { key: row[at("seat_id")], x: row[at("x")], y: row[at("y")], state,
                 title: `${sections[row[at("section_id")]]} row ${row[at("row")]} seat ${row[at("label")]}: ${state === "blocked" ? "held back" : state}`,
                 className: state === "blocked" ? "blocked" : (state === "available" ? "" : "taken") };
      });
      selected.clear();
      circles = drawSeatMap(document.getElementById("holdback-map"), map.venue, seats, (seat, circle) => {
        if (seat.state !== "available" && seat.state !== "blocked") return;
        if (selected.has(seat.key)) { selected.delete(seat.key); circle.classList.remove("selected"); circle.setAttribute("aria-checked", "false"); }
        else { selected.set(seat.key, seat.state); circle.classList.add("selected"); circle.setAttribute("aria-checked", "true"); }
        updateSelection();
      });
      updateSelection();
    }
    async function holdback(path, verb) {
      const seatIds = [...selected.keys()];
      blockButton.disabled = unblockButton.disabled = true;
      try {
        const accepted = await api(path, { method: "POST", body: { seat_ids: seatIds } });
        setState("hb-state", "Sent: waiting for the decision…");
        const decided = await waitForDecision(accepted.status_url);
        if (decided.status === "done") setState("hb-state", `${seatIds.length} seat(s) ${verb}.`, "ok");
        else setState("hb-state", `Refused: ${decided.error.message}`, "error");
      } catch (failure) {
        setState("hb-state", failure.message, "error");
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
      await drawHoldbacks().catch(() => {});
      sales().catch(() => {});
    }
    blockButton.addEventListener("click", () => holdback(`/organizer/events/${eventId}/holdbacks`, "held back"));
    unblockButton.addEventListener("click", () => holdback(`/organizer/events/${eventId}/holdbacks/release`, "on sale again"));
    await drawHoldbacks().catch((failure) => setState("hb-state", failure.message, "error"));

    // Attendees, refunds of single orders, and the CSV export.
    const refundButtons = new Map();
    async function refund(orderId, button) {
      if (!window.confirm(`Refund order ${orderId}? Its tickets stop scanning, its seats go back on sale and the buyer gets the money back.`)) return;
      button.disabled = true;
      try {
        const accepted = await api(`/organizer/events/${eventId}/refunds`, { method: "POST", body: { order_id: orderId } });
        const decided = await waitForDecision(accepted.status_url);
        button.textContent = decided.status === "refunded" ? "Refunded" : `Refused: ${decided.error.message}`;
        sales().catch(() => {});
      } catch (failure) {
        button.textContent = `Refused: ${failure.message}`;
      }
    }
    let cursor = null;
    const more = document.getElementById("attendees-more");
    async function attendees() {
      const page = await api(`/organizer/events/${eventId}/attendees${cursor ? `?cursor=${encodeURIComponent(cursor)}` : ""}`);
      for (const a of page.attendees) {
        const orderCell = el("td", { text: `${a.order_id} (${a.order_status})` });
        if (a.order_status === "paid" && !refundButtons.has(a.order_id)) {
          const button = el("button", { type: "button", class: "secondary", text: "Refund order",
                                        "aria-label": `Refund order ${a.order_id}` });
          button.addEventListener("click", () => refund(a.order_id, button));
          refundButtons.set(a.order_id, button);
          orderCell.append(el("br"), button);
        }
        document.getElementById("attendees").tBodies[0].append(el("tr", {},
          el("td", { text: a.ticket_id }), el("td", {}, a.name, el("br"), el("span", { class: "muted", text: a.email })),
          el("td", { text: a.place }), orderCell, el("td", { text: a.ticket_status })));
      }
      cursor = page.next_cursor;
      more.hidden = !cursor;
    }
    more.addEventListener("click", attendees);
    await attendees().catch(() => {});
    document.getElementById("csv").addEventListener("click", async () => {
      const response = await api(`/organizer/events/${eventId}/attendees.csv`, { raw: true });
      const link = el("a", { href: URL.createObjectURL(await response.blob()), download: `event-${eventId}-attendees.csv` });
      document.body.append(link);
      link.click();
      link.remove();
    });

    const refunds = await api(`/organizer/events/${eventId}/refunds`).catch(() => ({ refunds: [] }));
    for (const r of refunds.refunds) {
      document.getElementById("refunds").tBodies[0].append(el("tr", {},
        el("td", { text: r.order_id }), el("td", { text: r.email }), el("td", { class: "num", text: r.quantity }),
        el("td", { class: "num", text: money(r.total_cents, event.currency) }), el("td", { text: when(r.refunded_at) })));
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    if (!onsale.requireSignIn()) return;
    const page = document.querySelector("main").dataset.page;
    const run = { organizer: organizerHome, "venue-new": venueNew, "event-form": eventForm,
                  "event-dashboard": eventDashboard }[page];
    if (run) Promise.resolve().then(run).catch((failure) => onsale.announce(failure.message));
  });
})();
