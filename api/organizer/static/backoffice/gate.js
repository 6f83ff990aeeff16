// The gate scanner: camera frames are decoded by jsQR (vendored), or a code is typed; each
// code is posted to POST /events/{id}/scans, and the answer is shown large. The running
// count is kept per event in sessionStorage (this device's gate, this shift).
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const main = document.querySelector("main[data-event-id]");
  if (!main || !onsale.requireSignIn()) return;
  const eventId = main.dataset.eventId;
  const countsKey = `onsale.gate.${eventId}`;
  const counts = JSON.parse(sessionStorage.getItem(countsKey) || '{"admitted":0,"refused":0}');
  const verdict = document.getElementById("verdict");
  const word = document.getElementById("verdict-word");
  const reason = document.getElementById("verdict-reason");
  const REASONS = {
    ticket_already_used: (d) => `Already used${d.used_at ? ` at ${new Date(d.used_at).toLocaleTimeString()}` : ""}.`,
    ticket_void: () => "Void: its order was refunded.",
    ticket_not_found: () => "Not a ticket for this event.",
    invalid_request: () => "Not a ticket code.",
    forbidden: () => "You may not scan for this event.",
  };
  let busy = false;
  let lastCode = "";
  let lastAt = 0;

  function showCounts() {
    document.getElementById("count-admitted").textContent = counts.admitted;
    document.getElementById("count-refused").textContent = counts.refused;
    sessionStorage.setItem(countsKey, JSON.stringify(counts));
  }

  function place(ticket) {
    if (!ticket) return "";
    return ticket.seat ? `${ticket.section}, row ${ticket.row}, seat ${ticket.seat}` : `${ticket.zone || "Standing"}`;
  }

  async function check(code) {
    code = code.trim();
    if (!code || busy) return;
    busy = true;
    try {
      const answer = await onsale.api(`/events/${eventId}/scans`, { method: "POST", body: { qr: code } });
      counts.admitted += 1;
      verdict.className = "verdict admitted";
      word.textContent = "Admitted";
      reason.textContent = place(answer.ticket);
    } catch (failure) {
      if (failure.status === 401) { onsale.requireSignIn(); return; }
      counts.refused += 1;
      verdict.className = "verdict refused";
      word.textContent = "Refused";
      const why = REASONS[failure.code];
      reason.textContent = why ? why(failure.details || {}) : failure.message;
      if (failure.details && failure.details.ticket) reason.textContent += ` ${place(failure.details.ticket)}`;
    } finally {
      busy = false;
      showCounts();
    }
  }

  document.getElementById("manual").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = document.getElementById("manual-code");
    check(input.value);
    input.select();
  });

  const video = document.getElementById("camera");
  const canvas = document.getElementById("frame");
  const note = document.getElementById("camera-note");
  const start = document.getElementById("camera-start");
  const stop = document.getElementById("camera-stop");
  let stream = null;

  function scanFrame() {
    if (!stream) return;
    if (video.readyState === video.HAVE_ENOUGH_DATA && !busy) {
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      const context = canvas.getContext("2d", { willReadFrequently: true });
      context.drawImage(video, 0, 0, canvas.width, canvas.height);
      const image = context.getImageData(0, 0, canvas.width, canvas.height);
      const found = window.jsQR(image.data, image.width, image.height, { inversionAttempts: "dontInvert" });
      // The same code in front of the camera is checked once, not every frame.
      if (found && found.data && (found.data !== lastCode || Date.now() - lastAt > 4000)) {
        lastCode = found.data;
        lastAt = Date.now();
        check(found.data);
      }
    }
    requestAnimationFrame(scanFrame);
  }

  start.addEventListener("click", async () => {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      note.textContent = "This browser cannot use a camera here (it needs https or localhost). Type codes below.";
      return;
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
    } catch (failure) {
      note.textContent = `No camera: ${failure.message}. Type codes below.`;
      return;
    }
    video.srcObject = stream;
    video.hidden = false;
    await video.play();
    start.hidden = true;
    stop.hidden = false;
    note.textContent = "Hold the code inside the frame.";
    requestAnimationFrame(scanFrame);
  });

  stop.addEventListener("click", () => {
    for (const track of stream ? stream.getTracks() : []) track.stop();
    stream = null;
    video.hidden = true;
    start.hidden = false;
    stop.hidden = true;
    note.textContent = "";
  });

  showCounts();
});
