// The event dashboard's presales and waiting list: create a presale (window, tiers it
// unlocks, quota), issue access codes in bulk and download them as CSV, watch accounts let in
// against the quota; and the sold-out waiting list by status. A client of the organizer API.
"use strict";

(() => {
  const { api, el, when } = onsale;
  const MAX_CODES = 100000;

  function state(id, text, kind) {
    const node = document.getElementById(id);
    node.textContent = text;
    node.className = kind || "";
  }

  async function download(presale) {
    const response = await api(`/organizer/presales/${presale.id}/codes.csv`, { raw: true });
    const link = el("a", { href: URL.createObjectURL(await response.blob()),
                           download: `presale-${presale.id}-codes.csv` });
    document.body.append(link);
    link.click();
    link.remove();
  }

  function codesCell(presale, refresh) {
    const id = `codes-${presale.id}`;
    const count = el("input", { id, type: "number", min: "1", max: String(MAX_CODES), value: "100",
                                class: "narrow" });
    const issue = el("button", { type: "button", class: "secondary", text: "Issue codes" });
    const csv = el("button", { type: "button", class: "secondary", text: "Download CSV" });
    issue.addEventListener("click", async () => {
      try {
        const made = await api(`/organizer/presales/${presale.id}/codes`, {
          method: "POST", body: { kind: "single_use", count: Number(count.value) } });
        state("presales-state", `${made.codes.length} single-use codes issued for ${presale.name}.`, "ok");
        await refresh();
      } catch (failure) {
        state("presales-state", failure.message, "error");
      }
    });
    csv.addEventListener("click", () => download(presale).catch(
      (failure) => state("presales-state", failure.message, "error")));
    return el("td", {},
      el("label", { for: id, class: "visually-hidden", text: `Codes to issue for ${presale.name}` }),
      count, " ", issue, " ", csv);
  }

  async function presales(eventId, tiers) {
    const body = document.getElementById("presales").tBodies[0];
    async function refresh() {
      const listed = await api(`/organizer/events/${eventId}/presales`);
      body.replaceChildren(...listed.presales.map((p) => el("tr", {},
        el("td", { text: p.name }),
        el("td", { text: `${when(p.starts_at)} – ${when(p.ends_at)}` }),
        el("td", { text: p.tier_codes.map((code) => tiers.get(code) || code).join(", ") || "none" }),
        el("td", { class: "num", text: `${p.redeemed} / ${p.quota}` }),
        codesCell(p, refresh))));
      if (!listed.presales.length) state("presales-state", "No presale yet.");
    }
    const form = document.getElementById("presale-form");
    const box = document.getElementById("ps-tiers");
    for (const [code, name] of tiers) {
      const id = `ps-tier-${code}`;
      box.append(el("div", { class: "choice" }, el("input", { id, type: "checkbox", name: "tier", value: code }),
                 " ", el("label", { for: id, text: `${name} (${code})` })));
    }
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const f = form.elements;
      if (!f.starts_at.value || !f.ends_at.value) {
        state("presale-form-state", "Give the window: when it opens and when it closes.", "error");
        return;
      }
      try {
        const made = await api(`/organizer/events/${eventId}/presales`, { method: "POST", body: {
          name: f.name.value.trim(),
          starts_at: new Date(f.starts_at.value).toISOString(),
          ends_at: new Date(f.ends_at.value).toISOString(),
          tier_codes: [...form.querySelectorAll("input[name=tier]:checked")].map((i) => i.value),
          quota: Number(f.quota.value),
        } });
        state("presale-form-state", `Presale “${made.name}” created. Issue its codes above.`, "ok");
        form.reset();
        await refresh();
      } catch (failure) {
        const field = failure.details && failure.details.field;
        state("presale-form-state", field ? `${field}: ${failure.message}` : failure.message, "error");
      }
    });
    await refresh();
  }

  async function waitingList(eventId) {
    const report = await api(`/organizer/events/${eventId}/waiting-list`);
    const labels = { waiting: "Waiting", offering: "Offer being made", standing: "Offer waiting for seats",
                     offered: "Offered now", taken: "Bought", lapsed: "Lapsed", left: "Left" };
    document.getElementById("waitlist").replaceChildren(...Object.entries(labels).flatMap(
      ([status, label]) => [el("dt", { text: label }),
                            el("dd", { id: `wl-${status}`, text: String(report.entries[status] || 0) })]));
  }

  document.addEventListener("DOMContentLoaded", () => {
    const main = document.querySelector("main");
    if (main.dataset.page !== "event-dashboard" || !onsale.token()) return;
    const eventId = main.dataset.eventId;
    api(`/events/${eventId}`).then(async (event) => {
      const tiers = new Map(event.price_tiers.map((t) => [t.code, t.name]));
      await presales(eventId, tiers);
      await waitingList(eventId);
    }).catch((failure) => state("presales-state", failure.message, "error"));
  });
})();
