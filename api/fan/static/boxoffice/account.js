// Account pages: sign up, sign in, sign out, my orders, my tickets (with QR images), and
// the printable ticket. Every figure comes from the JSON API with the session token.
"use strict";

(() => {
  const { api, el, money, when } = onsale;

  function safeNext() {
    const next = new URLSearchParams(location.search).get("next") || "";
    return next.startsWith("/") && !next.startsWith("//") ? next : "/me/tickets";
  }

  function accountForm(mode) {
    const form = document.getElementById("account-form");
    const error = document.getElementById("account-error");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.textContent = "";
      const data = Object.fromEntries(new FormData(form));
      if (!data.email || !data.password) {
        error.textContent = "Enter your email and password.";
        return;
      }
      const body = { email: data.email, password: data.password };
      if (mode === "signup" && data.display_name) body.display_name = data.display_name;
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      try {
        const answer = await api(mode === "signup" ? "/auth/register" : "/auth/login",
                                 { method: "POST", body });
        onsale.signIn(answer.token);
        location.assign(safeNext());
      } catch (failure) {
        error.textContent = failure.code === "email_taken"
          ? "An account with this email exists: sign in instead."
          : failure.message;
        button.disabled = false;
      }
    });
  }

  async function signOut() {
    const state = document.getElementById("signout-state");
    try {
      if (onsale.token()) await api("/auth/logout", { method: "POST" });
    } catch (failure) { /* the session is dropped here either way */ }
    onsale.signOut();
    state.textContent = "You are signed out.";
    for (const node of document.querySelectorAll("[data-signed-in]")) node.hidden = true;
    for (const node of document.querySelectorAll("[data-signed-out]")) node.hidden = false;
  }

  function orderSeats(order) {
    return order.lines.map((line) => line.seat_id
      ? `${line.section} ${line.row}-${line.seat}` : `${line.quantity} × ${line.zone}`).join(", ");
  }

  async function orders() {
    if (!onsale.requireSignIn()) return;
    const state = document.getElementById("orders-state");
    const table = document.getElementById("orders");
    const more = document.getElementById("orders-more");
    let cursor = null;
    async function load() {
      const page = await api(`/me/orders${cursor ? `?cursor=${encodeURIComponent(cursor)}` : ""}`);
      for (const order of page.orders) {
        table.tBodies[0].append(el("tr", {},
          el("td", {}, el("a", { href: `/events/${order.event.event_id}`, text: order.event.name }),
            el("br"), el("span", { class: "muted", text: when(order.event.starts_at) })),
          el("td", { text: orderSeats(order) }),
          el("td", {}, el("span", { class: `badge ${order.status === "paid" ? "available" : "sold_out"}`, text: order.status })),
          el("td", { class: "num", text: money(order.total_cents, order.currency) })));
      }
      cursor = page.next_cursor;
      more.hidden = !cursor;
      table.hidden = !table.tBodies[0].rows.length;
      state.textContent = table.hidden ? "You have no orders yet." : "";
    }
    more.addEventListener("click", load);
    try { await load(); } catch (failure) { state.textContent = failure.message; }
  }

  async function qrImage(ticket) {
    const response = await api(`/me/tickets/${ticket.ticket_id}/qr.svg`, { raw: true });
    const url = URL.createObjectURL(await response.blob());
    return el("img", { src: url, width: "200", height: "200",
                       alt: `QR code of ticket ${ticket.ticket_id}, ${ticket.place || ""}` });
  }

  function place(ticket) {
    return ticket.seat ? `${ticket.section}, row ${ticket.row}, seat ${ticket.seat}`
                       : `${ticket.zone}, standing`;
  }

  async function tickets() {
    if (!onsale.requireSignIn()) return;
    const state = document.getElementById("tickets-state");
    const list = document.getElementById("tickets");
    const more = document.getElementById("tickets-more");
    let cursor = null;
    async function load() {
      const page = await api(`/me/tickets${cursor ? `?cursor=${encodeURIComponent(cursor)}` : ""}`);
      for (const ticket of page.tickets) {
        ticket.place = place(ticket);
        const card = el("li", { class: "card", "data-ticket-id": ticket.ticket_id },
          el("p", { class: "kicker", text: `Ticket ${ticket.ticket_id}` }),
          el("h2", { class: "h3", text: ticket.event.name }),
          el("p", { text: when(ticket.event.starts_at) }),
          el("p", { class: "muted", text: `${ticket.event.venue}, ${ticket.event.city}` }),
          el("p", {}, el("strong", { text: ticket.place })),
          el("p", {}, el("span", { class: `badge ${ticket.status === "valid" ? "available" : "sold_out"}`, text: ticket.status })));
        if (ticket.status !== "void") {
          card.append(await qrImage(ticket));
          card.append(el("p", {}, el("a", { href: `/me/tickets/${ticket.ticket_id}/print`, text: "Printable ticket" })));
        }
        list.append(card);
      }
      cursor = page.next_cursor;
      more.hidden = !cursor;
      state.textContent = list.children.length ? "" : "You have no tickets yet.";
    }
    more.addEventListener("click", load);
    try { await load(); } catch (failure) { state.textContent = failure.message; }
  }

  async function printable() {
    if (!onsale.requireSignIn()) return;
    const main = document.querySelector("main");
    const state = document.getElementById("print-state");
    try {
      const ticket = await api(`/me/tickets/${main.dataset.ticketId}`);
      const fields = { ...ticket, when: when(ticket.starts_at),
                       where: `${ticket.venue}, ${ticket.city}` };
      for (const node of document.querySelectorAll("[data-field]")) {
        node.textContent = fields[node.dataset.field] ?? "";
      }
      document.getElementById("ticket-qr").append(await qrImage(ticket));
      document.getElementById("ticket").hidden = false;
      document.title = `Ticket ${ticket.ticket_id}: ${ticket.event_name} · onsale`;
      state.textContent = "";
    } catch (failure) {
      state.textContent = failure.status === 404 ? "No such ticket of yours." : failure.message;
    }
    document.getElementById("print").addEventListener("click", () => window.print());
  }

  document.addEventListener("DOMContentLoaded", () => {
    const page = document.querySelector("main").dataset.page;
    if (page === "signin" || page === "signup") accountForm(page);
    else if (page === "signout") signOut();
    else if (page === "orders") orders();
    else if (page === "tickets") tickets();
    else if (page === "print") printable();
  });
})();
