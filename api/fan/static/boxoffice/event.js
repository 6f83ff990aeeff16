// The event page: per-section availability kept live (the event's JSON, served from the
// API's seat-map cache, every few seconds while the tab is visible).
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const main = document.querySelector("main[data-event-id]");
  if (!main) return;
  const eventId = main.dataset.eventId;
  const REFRESH_MS = 5000;

  async function refresh() {
    if (document.hidden) return;
    let event;
    try {
      event = await onsale.api(`/events/${eventId}`);
    } catch (failure) { return; }
    const total = document.getElementById("avail-total");
    const status = document.getElementById("avail-status");
    total.textContent = event.availability.tickets_left;
    status.textContent = event.availability.status.replace("_", " ");
    status.className = `badge ${event.availability.status}`;
    for (const section of event.availability.sections) {
      const key = section.section_id || `zone-${section.zone_id}`;
      const cell = document.querySelector(`#sections tr[data-key="${key}"] [data-available]`);
      if (cell) cell.textContent = section.available;
    }
  }
  setInterval(refresh, REFRESH_MS);
});
