// The box office's shared helpers: the session (shared with the waiting and booking pages),
// API calls with the session token, the header's signed-in links, countdowns, search as
// you type. Plain JS, no build step.
"use strict";

const onsale = (() => {
  const SESSION_KEY = "onsale.sessionToken";
  const ME_KEY = "onsale.me";

  function token() { return localStorage.getItem(SESSION_KEY); }

  function signIn(sessionToken) {
    localStorage.setItem(SESSION_KEY, sessionToken);
    sessionStorage.removeItem(ME_KEY);
  }

  function signOut() {
    localStorage.removeItem(SESSION_KEY);
    sessionStorage.removeItem(ME_KEY);
  }

  class ApiFailure extends Error {
    constructor(status, error) {
      super(error && error.message ? error.message : `HTTP ${status}`);
      this.status = status;
      this.code = error && error.code;
      this.details = (error && error.details) || {};
    }
  }

  async function api(path, options = {}) {
    const headers = { Accept: "application/json", ...(options.headers || {}) };
    const current = token();
    if (current) headers.Authorization = `Bearer ${current}`;
    let body = options.body;
    if (body !== undefined && typeof body !== "string" && !(body instanceof Blob)) {
      body = JSON.stringify(body);
      headers["Content-Type"] = "application/json";
    }
    const response = await fetch(path, { ...options, headers, body });
    if (options.raw) {
      if (!response.ok) throw new ApiFailure(response.status, null);
      return response;
    }
    const text = await response.text();
    const data = text ? JSON.parse(text) : null;
    if (!response.ok) {
      if (response.status === 401) signOut();
      throw new ApiFailure(response.status, data && data.error);
    }
    return data;
  }

  async function me() {
    if (!token()) return null;
    const cached = sessionStorage.getItem(ME_KEY);
    if (cached) return JSON.parse(cached);
    try {
      const account = await api("/me");
      sessionStorage.setItem(ME_KEY, JSON.stringify(account));
      return account;
    } catch (failure) {
      return null;
    }
  }

  function requireSignIn() {
    if (token()) return true;
    location.assign(`/signin?next=${encodeURIComponent(location.pathname + location.search)}`);
    return false;
  }

  function money(cents, currency) {
    if (cents === null || cents === undefined) return "–";
    const whole = Math.trunc(cents / 100).toLocaleString("en");
    return `${whole}.${String(Math.abs(cents % 100)).padStart(2, "0")} ${currency || ""}`.trim();
  }

  const WHEN = new Intl.DateTimeFormat("en-GB", {
    timeZone: "UTC", weekday: "short", day: "2-digit", month: "short", year: "numeric",
    hour: "2-digit", minute: "2-digit", hour12: false,
  });

  function when(iso) {
    return iso ? `${WHEN.format(new Date(iso)).replace(" at ", ", ")} UTC` : "";
  }

  function announce(text) {
    const announcer = document.getElementById("announcer");
    if (announcer) announcer.textContent = text;
  }

  function el(tag, attributes = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "text") node.textContent = value;
      else if (name === "html") node.innerHTML = value; // only server-escaped highlights
      else node.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  }

  function countdownText(seconds) {
    if (seconds <= 0) return "now: reload the page";
    const days = Math.floor(seconds / 86400);
    const hours = Math.floor((seconds % 86400) / 3600);
    const minutes = Math.floor((seconds % 3600) / 60);
    const rest = Math.floor(seconds % 60);
    if (days > 0) return `${days} d ${hours} h ${minutes} min`;
    if (hours > 0) return `${hours} h ${minutes} min`;
    return `${minutes} min ${String(rest).padStart(2, "0")} s`;
  }

  function startCountdowns() {
    const nodes = document.querySelectorAll("[data-countdown]");
    if (!nodes.length) return;
    const tick = () => {
      for (const node of nodes) {
        const at = Date.parse(node.dataset.countdown);
        node.textContent = countdownText((at - Date.now()) / 1000);
      }
    };
    tick();
    setInterval(tick, 1000);
  }

  async function showAccountLinks() {
    const signedIn = Boolean(token());
    for (const node of document.querySelectorAll("[data-signed-in]")) node.hidden = !signedIn;
    for (const node of document.querySelectorAll("[data-signed-out]")) node.hidden = signedIn;
    if (!signedIn) return;
    const account = await me();
    if (!account) return;
    for (const node of document.querySelectorAll("[data-roles]")) {
      node.hidden = !node.dataset.roles.split(" ").includes(account.role);
    }
  }

  function suggestions(input) {
    const list = document.getElementById(input.getAttribute("aria-controls"));
    let timer = null;
    let latest = 0;
    const close = () => { list.hidden = true; };
    const show = (results, query) => {
      list.replaceChildren();
      for (const [index, item] of results.entries()) {
        const name = item.highlights && item.highlights.name;
        const link = el("a", { href: item.url, id: `suggest-${index}` },
          el("span", name ? { html: name } : { text: item.name }),
          el("br"),
          el("span", { class: "muted", text: `${when(item.starts_at)} · ${item.venue.name}, ${item.venue.city}` }));
        list.append(el("li", {}, link));
      }
      if (!results.length) list.append(el("li", {}, el("span", { class: "muted", text: `No event matches “${query}”.` })));
      list.hidden = false;
      announce(`${results.length} suggestion${results.length === 1 ? "" : "s"}`);
    };
    input.addEventListener("input", () => {
      clearTimeout(timer);
      const query = input.value.trim();
      if (query.length < 2) { close(); return; }
      timer = setTimeout(async () => {
        const asked = ++latest;
        try {
          const found = await api(`/search?q=${encodeURIComponent(query)}&limit=8`);
          if (asked === latest) show(found.results, query);
        } catch (failure) { close(); }
      }, 150);
    });
    input.addEventListener("keydown", (event) => {
      const links = [...list.querySelectorAll("a")];
      if (event.key === "ArrowDown" && links.length) { event.preventDefault(); links[0].focus(); }
      if (event.key === "Escape") close();
    });
    list.addEventListener("keydown", (event) => {
      const links = [...list.querySelectorAll("a")];
      const at = links.indexOf(document.activeElement);
      if (event.key === "ArrowDown" && at < links.length - 1) { event.preventDefault(); links[at + 1].focus(); }
      if (event.key === "ArrowUp") { event.preventDefault(); (at > 0 ? links[at - 1] : input).focus(); }
      if (event.key === "Escape") { close(); input.focus(); }
    });
    document.addEventListener("click", (event) => {
      if (!list.contains(event.target) && event.target !== input) close();
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    showAccountLinks();
    startCountdowns();
    for (const input of document.querySelectorAll("[data-suggest]")) suggestions(input);
  });

  return { token, signIn, signOut, api, me, requireSignIn, money, when, announce, el, ApiFailure };
})();
