// The ops dashboard: a thin client of /ops/* (JSON + a server-sent-event stream).
// The session token lives in sessionStorage; every call sends it as a bearer token,
// and the server decides who may see what: a 403 shows the refusal on the page.
"use strict";

(function () {
  const TOKEN_KEY = "onsale.ops.sessionToken";
  const KEEP_SECONDS = 600;
  const SIDE_REFRESH_MS = 5000;

  const $ = (selector) => document.querySelector(selector);
  const state = {
    token: sessionStorage.getItem(TOKEN_KEY),
    eventId: null,
    stream: null,
    charts: {},
    series: null,
    last: null,
    sideTimer: null,
    editing: false,
  };

  class HttpError extends Error {
    constructor(status, body) {
      const error = (body && body.error) || {};
      super(error.message || `HTTP ${status}`);
      this.status = status;
      this.code = error.code || `http_${status}`;
      this.details = error.details || {};
    }
  }

  async function api(path, options = {}) {
    const headers = Object.assign({ Accept: "application/json" }, options.headers || {});
    if (state.token) headers.Authorization = `Bearer ${state.token}`;
    if (options.json !== undefined) {
      headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(options.json);
    }
    const response = await fetch(path, Object.assign({}, options, { headers }));
    const body = (response.headers.get("Content-Type") || "").includes("json")
      ? await response.json()
      : null;
    if (!response.ok) {
      const error = new HttpError(response.status, body);
      if (response.status === 401) showSignIn("Your session ended; sign in again.");
      if (response.status === 403) showRefused(error.message);
      throw error;
    }
    return body;
  }

  // ------------------------------------------------------------------ who is this

  function show(id) {
    for (const section of ["#sign-in", "#refused", "#dashboard"]) {
      $(section).hidden = section !== id;
    }
  }

  function showSignIn(message) {
    stopStream();
    state.token = null;
    sessionStorage.removeItem(TOKEN_KEY);
    $("#who").hidden = true;
    $("#sign-in-error").textContent = message || "";
    show("#sign-in");
  }

  function showRefused(message) {
    stopStream();
    $("#refused-text").textContent =
      `${message || "Forbidden."} You are signed in as ${$("#who-email").textContent || "someone"}` +
      " without the ops role, so the dashboard stays closed.";
    show("#refused");
  }

  async function boot() {
    if (!state.token) return showSignIn();
    let me;
    try {
      me = await api("/me");
    } catch (error) {
      return;
    }
    $("#who-email").textContent = `${me.email} (${me.role})`;
    $("#who").hidden = false;
    show("#dashboard");
    try {
      await loadEvents();
    } catch (error) {
      /* a refusal (403) or the sign-in form (401) is on screen now */
    }
  }

  $("#sign-in-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    try {
      const body = await api("/auth/login", {
        method: "POST",
        json: { email: form.get("email"), password: form.get("password") },
      });
      state.token = body.token;
      sessionStorage.setItem(TOKEN_KEY, body.token);
      await boot();
    } catch (error) {
      $("#sign-in-error").textContent = error.message;
    }
  });

  async function signOut() {
    try {
      if (state.token) await api("/auth/logout", { method: "POST" });
    } catch (error) {
      /* signed out either way */
    }
    showSignIn();
  }
  $("#sign-out").addEventListener("click", signOut);
  $("#refused-sign-out").addEventListener("click", signOut);

  // ------------------------------------------------------------------ events

  async function loadEvents() {
    const { events } = await api("/ops/events");
    const select = $("#event");
    select.replaceChildren();
    for (const event of events) {
      const option = document.createElement("option");
      option.value = event.event_id;
      const room = event.has_room ? `${event.sale_state}` : "no waiting room";
      option.textContent = `#${event.event_id} ${event.name} (${room})`;
      select.append(option);
    }
    const wanted = Number(new URLSearchParams(location.hash.slice(1)).get("event"));
    const chosen = events.find((e) => e.event_id === wanted) || events[0];
    if (chosen) {
      select.value = chosen.event_id;
      await selectEvent(chosen.event_id);
    }
  }

  $("#event").addEventListener("change", (event) => selectEvent(Number(event.target.value)));

  async function selectEvent(eventId) {
    stopStream();
    state.eventId = eventId;
    history.replaceState(null, "", `#event=${eventId}`);
    state.editing = false;
    const stats = await api(`/ops/events/${eventId}/stats?history_seconds=${KEEP_SECONDS}`);
    resetSeries(stats.history);
    render(stats, true);
    startStream(eventId);
    refreshSide();
    clearInterval(state.sideTimer);
    state.sideTimer = setInterval(refreshSide, SIDE_REFRESH_MS);
  }

  // ------------------------------------------------------------------ live stream

  function stopStream() {
    if (state.stream) state.stream.abort();
    state.stream = null;
  }

  async function startStream(eventId) {
    const controller = new AbortController();
    state.stream = controller;
    const live = $("#live");
    while (!controller.signal.aborted && state.eventId === eventId) {
      try {
        const response = await fetch(`/ops/events/${eventId}/stream`, {
          headers: { Authorization: `Bearer ${state.token}`, Accept: "text/event-stream" },
          signal: controller.signal,
        });
        if (response.status === 401) return showSignIn("Your session ended; sign in again.");
        if (response.status === 403) return showRefused("Forbidden.");
        live.textContent = "live";
        live.classList.remove("stale");
        await readEvents(response.body, (name, data) => {
          if (name === "stats" && state.eventId === eventId) render(data, false);
        });
      } catch (error) {
        if (controller.signal.aborted) return;
      }
      live.textContent = "reconnecting…";
      live.classList.add("stale");
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }

  async function readEvents(body, onEvent) {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let name = "message";
        const data = [];
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) name = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).trim());
        }
        if (data.length) onEvent(name, JSON.parse(data.join("\n")));
      }
    }
  }

  // ------------------------------------------------------------------ figures

  const fmt = {
    int: (v) => (v === null || v === undefined ? "–" : Math.round(v).toLocaleString("en")),
    num: (v, d = 1) => (v === null || v === undefined ? "–" : Number(v).toFixed(d)),
    ms: (v) => (v === null || v === undefined ? "–" : `${(v * 1000).toFixed(v < 0.01 ? 1 : 0)} ms`),
    pct: (v) => (v === null || v === undefined ? "–" : `${(v * 100).toFixed(2)}%`),
  };

  function tile(name, main, sub, alarm) {
    const element = document.querySelector(`[data-figure="${name}"]`);
    element.querySelector("b").textContent = main;
    if (sub !== undefined) element.querySelector("small").textContent = sub;
    element.classList.toggle("alarm", Boolean(alarm));
  }

  function render(stats, initial) {
    if (stats.error) {
      $("#live").textContent = stats.error;
      $("#live").classList.add("stale");
      return;
    }
    state.last = stats;
    const p = stats.point;
    const room = stats.room;
    const inventory = stats.inventory || {};
    const autopilot = stats.autopilot || {};
    $("#sale-state").textContent = room
      ? `${room.sale_state.replace("_", " ")}${room.paused ? " · paused" : ""}${autopilot.enabled ? " · autopilot" : ""}`
      : "no waiting room";
    tile("waiting", fmt.int(p.waiting));
    tile("joins", fmt.num(p.joins_per_second));
    tile("admitted", fmt.int(p.admitted_per_minute), `per minute vs setting ${fmt.int(p.rate_setting)}`);
    tile("active", fmt.int(p.active), `vs cap ${fmt.int(p.max_active)}`,
      p.max_active && p.active >= p.max_active);
    tile("queue", fmt.int(stats.partition.queue_depth), `partition ${stats.partition.name}`,
      autopilot.target_queue_depth && stats.partition.queue_depth > autopilot.target_queue_depth);
    tile("decisions", fmt.num(p.decisions_per_second));
    tile("latency", `${fmt.ms(p.latency_p50_seconds)} / ${fmt.ms(p.latency_p99_seconds)}`, "p50 / p99",
      autopilot.target_p99_seconds && p.latency_p99_seconds > autopilot.target_p99_seconds);
    tile("holds", fmt.int(inventory.holds_open));
    tile("sold", fmt.int(inventory.sold), `of ${fmt.int(inventory.capacity)} (${inventory.capacity
      ? ((100 * inventory.sold) / inventory.capacity).toFixed(1) : "0"}%)`);
    tile("expiries", fmt.num(p.expiries_per_minute));
    tile("declines", fmt.num(p.declines_per_minute));
    tile("errors", `${fmt.num(p.http_5xx_per_second)} · ${fmt.num(p.http_429_per_second)}`,
      `5xx/s · 429/s · ${fmt.pct(p.error_ratio)} errors`, p.http_5xx_per_second > 0);
    if (!initial) appendPoint(p);
    fillControls(room, autopilot);
  }

  // ------------------------------------------------------------------ charts (uPlot)

  const CHARTS = {
    room: {
      el: "#chart-room",
      series: [
        ["waiting", "waiting", "#2563eb"],
        ["active", "active", "#16a34a"],
      ],
    },
    admissions: {
      el: "#chart-admissions",
      series: [
        ["admitted_per_minute", "admitted/min", "#16a34a"],
        ["rate_setting", "setting", "#f59e0b", [4, 4]],
      ],
    },
    latency: {
      el: "#chart-latency",
      series: [
        ["latency_p50_seconds", "p50", "#2563eb"],
        ["latency_p99_seconds", "p99", "#dc2626"],
        ["target_p99", "target p99", "#9ca3af", [4, 4]],
      ],
    },
    booking: {
      el: "#chart-booking",
      series: [
        ["decisions_per_second", "decisions/s", "#7c3aed"],
        ["queue_depth", "queue", "#f59e0b"],
      ],
    },
    inventory: {
      el: "#chart-inventory",
      series: [
        ["holds_open", "holds open", "#f59e0b"],
        ["sold", "sold", "#16a34a"],
      ],
    },
    errors: {
      el: "#chart-errors",
      series: [
        ["http_5xx_per_second", "5xx/s", "#dc2626"],
        ["http_429_per_second", "429/s", "#f97316"],
        ["expiries_per_minute", "expiries/min", "#6b7280"],
        ["declines_per_minute", "declines/min", "#a21caf"],
      ],
    },
  };

  function value(point, name) {
    if (name === "target_p99") {
      const autopilot = (state.last && state.last.autopilot) || {};
      return autopilot.enabled ? autopilot.target_p99_seconds : null;
    }
    const v = point[name];
    return v === undefined ? null : v;
  }

  function resetSeries(points) {
    state.series = { t: [] };
    for (const spec of Object.values(CHARTS)) {
      for (const [name] of spec.series) state.series[name] = [];
    }
    for (const point of points) appendPoint(point, true);
    drawCharts();
  }

  function appendPoint(point, quiet) {
    const s = state.series;
    const t = s.t;
    if (t.length && point.t <= t[t.length - 1]) return;
    t.push(point.t);
    for (const key of Object.keys(s)) {
      if (key !== "t") s[key].push(value(point, key));
    }
    if (t.length > KEEP_SECONDS) {
      for (const key of Object.keys(s)) s[key].shift();
    }
    if (!quiet) {
      for (const [id, chart] of Object.entries(state.charts)) chart.setData(dataFor(id));
    }
  }

  function dataFor(id) {
    return [state.series.t, ...CHARTS[id].series.map(([name]) => state.series[name])];
  }

  function chartWidth(element) {
    return Math.max(260, element.parentElement.clientWidth - 24);
  }

  function drawCharts() {
    for (const chart of Object.values(state.charts)) chart.destroy();
    state.charts = {};
    for (const [id, spec] of Object.entries(CHARTS)) {
      const element = $(spec.el);
      const options = {
        width: chartWidth(element),
        height: 170,
        legend: { live: false },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true } },
        axes: [{}, { size: 50 }],
        series: [
          {},
          ...spec.series.map(([, label, stroke, dash]) => ({
            label, stroke, width: 1.5, dash, spanGaps: false, points: { show: false },
          })),
        ],
      };
      state.charts[id] = new uPlot(options, dataFor(id), element);
    }
  }

  window.addEventListener("resize", () => {
    for (const [id, chart] of Object.entries(state.charts)) {
      chart.setSize({ width: chartWidth($(CHARTS[id].el)), height: 170 });
    }
  });

  // ------------------------------------------------------------------ controls

  const controls = $("#controls");
  controls.addEventListener("input", () => { state.editing = true; });

  function fillControls(room, autopilot) {
    const config = room && room.config;
    $("#pause").textContent = config && config.paused ? "Resume admission" : "Pause admission";
    $("#pause").disabled = !config;
    $("#autopilot-state").textContent = autopilot.enabled
      ? `On · last step: ${autopilot.last_step.driver || "–"}, pressure ${
        fmt.num(autopilot.last_step.pressure, 2)}, rate ${fmt.int(autopilot.last_step.rate)}/min`
      : "Off";
    if (state.editing) return;
    if (config) {
      for (const name of ["new_users_per_minute", "max_active_users", "pow_difficulty_bits"]) {
        controls.elements[name].value = config[name];
      }
    }
    controls.elements.enabled.checked = Boolean(autopilot.enabled);
    for (const name of ["target_p99_seconds", "target_queue_depth",
      "min_new_users_per_minute", "max_new_users_per_minute"]) {
      controls.elements[name].value = autopilot[name];
    }
  }

  function message(text, isError) {
    const element = $("#controls-message");
    element.textContent = text;
    element.classList.toggle("error", Boolean(isError));
  }

  async function change(body) {
    try {
      const result = await api(`/ops/events/${state.eventId}/waiting-room`, {
        method: "PATCH", json: body,
      });
      const what = result.changes.map((c) => `${c.field} ${show_(c.old)} → ${show_(c.new)}`);
      message(what.length ? `Applied: ${what.join(", ")}` : "Nothing changed.");
      state.editing = false;
      refreshSide();
    } catch (error) {
      message(`${error.code}: ${error.message}`, true);
    }
  }

  function show_(v) {
    if (v === null || v === undefined) return "–";
    if (typeof v === "number" && v > 1e9) return new Date(v * 1000).toISOString().slice(0, 19) + "Z";
    return String(v);
  }

  controls.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = {};
    const config = (state.last && state.last.room && state.last.room.config) || {};
    for (const name of ["new_users_per_minute", "max_active_users", "pow_difficulty_bits"]) {
      const raw = controls.elements[name].value;
      if (raw !== "" && Number(raw) !== config[name]) body[name] = Number(raw);
    }
    if (!Object.keys(body).length) return message("Nothing changed.");
    change(body);
  });
  $("#pause").addEventListener("click", () => {
    const config = state.last && state.last.room && state.last.room.config;
    change({ paused: !(config && config.paused) });
  });
  $("#open-sale").addEventListener("click", () => change({ sale: "open" }));
  $("#close-sale").addEventListener("click", () => {
    if (confirm("Close the sale? Nobody can join and nobody is admitted until it reopens.")) {
      change({ sale: "closed" });
    }
  });
  $("#autopilot-apply").addEventListener("click", async () => {
    const body = { enabled: controls.elements.enabled.checked };
    for (const name of ["target_p99_seconds", "target_queue_depth",
      "min_new_users_per_minute", "max_new_users_per_minute"]) {
      const raw = controls.elements[name].value;
      if (raw !== "") body[name] = Number(raw);
    }
    try {
      const result = await api(`/ops/events/${state.eventId}/autopilot`, {
        method: "POST", json: body,
      });
      const what = result.changes.map((c) => `${c.field} ${show_(c.old)} → ${show_(c.new)}`);
      message(what.length ? `Autopilot: ${what.join(", ")}` : "Autopilot unchanged.");
      state.editing = false;
      refreshSide();
    } catch (error) {
      message(`${error.code}: ${error.message}`, true);
    }
  });

  // ------------------------------------------------------------------ audit and partitions

  async function refreshSide() {
    if (!state.eventId || $("#dashboard").hidden) return;
    try {
      const [audit, partitions] = await Promise.all([
        api(`/ops/audit?event_id=${state.eventId}&limit=50`),
        api("/ops/partitions"),
      ]);
      renderAudit(audit.entries);
      renderPartitions(partitions.partitions, state.last && state.last.partition.name);
    } catch (error) {
      /* shown by api() when it matters (401/403) */
    }
  }

  function cell(row, text, className) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    row.append(td);
  }

  function renderAudit(entries) {
    const body = $("#audit");
    body.replaceChildren();
    for (const entry of entries) {
      const row = document.createElement("tr");
      cell(row, new Date(entry.at).toLocaleTimeString());
      cell(row, entry.actor, entry.actor === "autopilot" ? "autopilot" : "");
      cell(row, entry.field);
      cell(row, `${show_(entry.old)} → ${show_(entry.new)}`);
      body.append(row);
    }
    if (!entries.length) {
      const row = document.createElement("tr");
      cell(row, "No changes yet.", "hint");
      row.firstChild.colSpan = 4;
      body.append(row);
    }
  }

  function renderPartitions(partitions, current) {
    const body = $("#partitions");
    body.replaceChildren();
    for (const p of partitions) {
      const row = document.createElement("tr");
      if (p.partition === current) row.className = "current";
      cell(row, p.partition);
      cell(row, p.holder || "none", p.holder ? "" : "alarm");
      cell(row, p.fencing_token === null ? "–" : String(p.fencing_token));
      cell(row, p.lease_expires_in_ms === null ? "–" : `${p.lease_expires_in_ms} ms`);
      cell(row, p.holder_heartbeat_age_seconds === null ? "–"
        : `${p.holder_heartbeat_age_seconds.toFixed(1)} s ago`);
      cell(row, String(p.queue_depth));
      cell(row, String(p.in_flight));
      cell(row, String(p.decisions_total));
      cell(row, p.last_batch_age_seconds === null ? "–"
        : `${p.last_batch_age_seconds.toFixed(1)} s ago`);
      body.append(row);
    }
  }

  boot();
})();
