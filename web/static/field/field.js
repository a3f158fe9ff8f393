/* The grid worker's field page: today's tasks, a small map, and forms that work offline.
 *
 * Every entry (check-in, home visit, log) goes the same way, online or not:
 *   1. the phone makes its UUID, takes the position, resizes the photos in a canvas (longest side
 *      config.max_px; re-encoding also drops EXIF) and puts entry + photo blobs into IndexedDB;
 *   2. flush() uploads the queue in order when online; an entry leaves the queue only when the
 *      server answered 2xx (stored, or "replayed": already stored under that UUID), so a lost answer
 *      just means one more upload the server recognises: each entry is stored exactly once;
 *   3. a 4xx answer (too far from the point, bad photo...) marks the entry refused with the
 *      server's message; 5xx or no network keeps it waiting for the next try.
 * The page shows how many entries wait. User text is only ever set with textContent.
 */
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("fd-config").textContent);
  const T = config.texts;
  const DB_NAME = "gridmap-field";
  const STORE = "queue";
  const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  let position = null;
  let flushing = null;
  let flushAgain = false;
  let map = null;
  let meMarker = null;

  function t(key, params) {
    let text = T[key] || key;
    Object.entries(params || {}).forEach(([k, v]) => { text = text.split("{" + k + "}").join(String(v)); });
    return text;
  }

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  // The day of a log is the patrol day in the server's zone (settings.tracking_timezone), not the
  // phone's: a phone left on another zone (or UTC) would otherwise write "yesterday" for hours.
  function localDay() {
    const now = new Date();
    try {
      const parts = new Intl.DateTimeFormat("en-US", { timeZone: config.time_zone, year: "numeric",
        month: "2-digit", day: "2-digit" }).formatToParts(now);
      const part = (type) => parts.find((p) => p.type === type).value;
      return `${part("year")}-${part("month")}-${part("day")}`;
    } catch (e) {  // a browser without that zone's data: the phone's own day
      const z = (n) => String(n).padStart(2, "0");
      return `${now.getFullYear()}-${z(now.getMonth() + 1)}-${z(now.getDate())}`;
    }
  }

  // -- IndexedDB queue ----------------------------------------------------------------------------

  function openDb() {
    return new Promise((resolve, reject) => {
      const req = indexedDB.open(DB_NAME, 1);
      req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: "id" });
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }

  async function tx(mode, work) {
    const db = await openDb();
    return new Promise((resolve, reject) => {
      const t = db.transaction(STORE, mode);
      const result = work(t.objectStore(STORE));
      t.oncomplete = () => { db.close(); resolve(result && "result" in result ? result.result : undefined); };
      t.onerror = () => { db.close(); reject(t.error); };
    });
  }

  const queueAll = () => tx("readonly", (s) => s.getAll());
  const queuePut = (entry) => tx("readwrite", (s) => s.put(entry));
  const queueDelete = (id) => tx("readwrite", (s) => s.delete(id));

  async function showQueue() {
    const all = await queueAll();
    const waiting = all.filter((e) => e.state === "waiting").length;
    const refused = all.filter((e) => e.state === "refused").length;
    const el = document.getElementById("fd-queue");
    el.textContent = waiting ? t("queue", { n: waiting }) : t("queue.none");
    if (refused) el.textContent += " · " + t("queue.failed", { n: refused });
    el.dataset.waiting = String(waiting);
    el.dataset.refused = String(refused);
  }

  function showNetwork() {
    const el = document.getElementById("fd-network");
    el.textContent = navigator.onLine ? t("online") : t("offline");
    el.classList.toggle("fd-offline", !navigator.onLine);
  }

  function say(text, isError) {
    const el = document.getElementById("fd-message");
    el.textContent = text;
    el.classList.toggle("fd-error", !!isError);
  }

  // -- photos -------------------------------------------------------------------------------------

  async function resized(file) {
    const bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
    const scale = Math.min(1, config.max_px / Math.max(bitmap.width, bitmap.height));
    const canvas = document.createElement("canvas");
    canvas.width = Math.max(1, Math.round(bitmap.width * scale));
    canvas.height = Math.max(1, Math.round(bitmap.height * scale));
    canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    bitmap.close();
    return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.85));
  }

  async function photosOf(form) {
    const input = form.querySelector('input[type="file"]');
    const files = input ? Array.from(input.files) : [];
    return Promise.all(files.map(resized));
  }

  // -- position and map ---------------------------------------------------------------------------

  function locate() {
    return new Promise((resolve, reject) => {
      if (!navigator.geolocation) { reject(new Error("geolocation unavailable")); return; }
      navigator.geolocation.getCurrentPosition((p) => {
        position = { lon: p.coords.longitude, lat: p.coords.latitude, accuracy: p.coords.accuracy };
        showPosition();
        resolve(position);
      }, (err) => reject(err), { enableHighAccuracy: true, timeout: 15000, maximumAge: 0 });
    });
  }

  function showPosition() {
    if (!position) return;
    const text = t("map.me", { acc: Math.round(position.accuracy || 0) });
    const el = document.getElementById("fd-position");
    el.textContent = `${text}: ${position.lat.toFixed(6)}, ${position.lon.toFixed(6)}`;
    el.dataset.lon = String(position.lon);
    el.dataset.lat = String(position.lat);
    if (!map) return;
    const ll = [position.lat, position.lon];
    if (!meMarker) meMarker = L.circleMarker(ll, { radius: 8, color: "#e6503c", fillOpacity: 0.9 }).addTo(map);
    meMarker.setLatLng(ll);
  }

  function initMap() {
    if (!window.L) return;
    map = L.map("fd-map", { zoomControl: true, attributionControl: false });
    const outline = L.geoJSON({ type: "FeatureCollection", features: config.grids.map((g) => (
      { type: "Feature", geometry: g, properties: {} })) }, { style: { color: "#1d6fa5", weight: 2, fillOpacity: 0.05 } });
    outline.addTo(map);
    const bounds = outline.getBounds();
    if (bounds.isValid()) map.fitBounds(bounds); else map.setView([35.74, 114.3], 15);
  }

  // -- tasks --------------------------------------------------------------------------------------

  function item(list, text, cls) {
    const li = document.createElement("li");
    li.textContent = text;
    if (cls) li.className = cls;
    list.appendChild(li);
    return li;
  }

  function renderTasks(data) {
    const patrol = document.getElementById("fd-patrol");
    patrol.textContent = data.patrol_done === null ? t("tasks.patrol.unknown")
      : t(data.patrol_done ? "tasks.patrol.done" : "tasks.patrol.todo");
    document.getElementById("fd-diary-state").textContent = t(data.diary_written ? "tasks.diary.done"
      : "tasks.diary.todo");
    const points = document.getElementById("fd-points");
    const select = document.getElementById("fd-point");
    const chosen = select.value;
    points.replaceChildren();
    select.replaceChildren();
    data.points.forEach((p) => {
      const li = item(points, `${p.name} · ${p.due ? t("tasks.points.due") : t("tasks.points.ok", { day: p.due_on })}`,
        p.due ? "fd-due" : "");
      li.dataset.pointId = p.point_id;
      const option = document.createElement("option");
      option.value = p.point_id;
      option.textContent = p.name;
      select.appendChild(option);
      if (map) L.circleMarker([p.lat, p.lon], { radius: 6, color: p.due ? "#b00020" : "#2e7d32" })
        .bindTooltip(p.name).addTo(map);
    });
    if (chosen) select.value = chosen;
    const visits = document.getElementById("fd-visits");
    visits.replaceChildren();
    data.visits_planned.forEach((v) => item(visits, `${v.building_id} ${v.household || ""} · ${v.follow_up || ""}`));
    if (!data.visits_planned.length) item(visits, t("tasks.visits.none"));
    const incidents = document.getElementById("fd-incidents");
    incidents.replaceChildren();
    data.incidents.forEach((i) => item(incidents, `${i.incident_id} · ${i.category} · ${i.status}` +
      (i.deadline_at ? " · " + t("tasks.deadline", { at: new Date(i.deadline_at).toLocaleString() }) : "")));
    if (!data.incidents.length) item(incidents, t("tasks.incidents.none"));
  }

  async function loadTasks() {
    try {
      const response = await fetch(config.urls.today, { credentials: "same-origin" });
      if (!response.ok) return;
      const data = await response.json();
      localStorage.setItem("gridmap-field-today", JSON.stringify(data));
      renderTasks(data);
    } catch (err) {
      const cached = localStorage.getItem("gridmap-field-today");
      if (cached) renderTasks(JSON.parse(cached));
    }
  }

  // -- upload -------------------------------------------------------------------------------------

  async function send(entry) {
    let body;
    const headers = { "X-CSRF-Token": csrf, Accept: "application/json" };
    if (entry.method === "PUT") {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(entry.data);
    } else {
      body = new FormData();
      body.append("data", JSON.stringify(entry.data));
      entry.photos.forEach((blob, i) => body.append("photo", blob, `photo-${i + 1}.jpg`));
    }
    return fetch(entry.url, { method: entry.method, body, headers, credentials: "same-origin" });
  }

  async function flushOnce() {
    const entries = (await queueAll()).filter((e) => e.state === "waiting").sort((a, b) => a.created - b.created);
    let sent = 0;
    for (const entry of entries) {
      let response;
      try {
        response = await send(entry);
      } catch (err) {
        break; // no network: keep everything, try again later
      }
      if (response.ok) {
        await queueDelete(entry.id);
        sent += 1;
        continue;
      }
      if (response.status >= 500 || response.status === 408 || response.status === 429) break;
      let message = String(response.status);
      try { message = (await response.json()).error.message; } catch (err) { /* not JSON */ }
      entry.state = "refused";
      entry.message = message;
      await queuePut(entry);
      say(t("msg.refused", { message }), true);
    }
    await showQueue();
    if (sent) { say(t("msg.sent")); await loadTasks(); }
  }

  function flush() {
    // One upload loop at a time; an entry queued while it runs makes it go round once more.
    if (flushing) { flushAgain = true; return flushing; }
    flushing = (async () => {
      do { flushAgain = false; await flushOnce(); } while (flushAgain && navigator.onLine);
    })().finally(() => { flushing = null; });
    return flushing;
  }

  async function enqueue(kind, method, url, data, photos) {
    await queuePut({ id: data.id || uuid(), kind, method, url, data, photos, state: "waiting", created: Date.now() });
    await showQueue();
    say(t("msg.queued"));
    if (navigator.onLine) await flush();
  }

  // -- forms --------------------------------------------------------------------------------------

  async function withPosition() {
    try { return await locate(); } catch (err) {
      if (position) return position;
      say(t("msg.no_position", { message: err.message || String(err) }), true);
      return null;
    }
  }

  async function onCheckin(event) {
    event.preventDefault();
    const form = event.target;
    const photos = await photosOf(form);
    if (!photos.length) { say(t("msg.photo_needed"), true); return; }
    const where = await withPosition();
    if (!where) return;
    const data = { id: uuid(), point_id: form.point_id.value, lon: where.lon, lat: where.lat,
      accuracy: where.accuracy, at: new Date().toISOString(), note: form.note.value };
    form.reset();
    await enqueue("checkin", "POST", config.urls.checkins, data, photos);
  }

  async function onVisit(event) {
    event.preventDefault();
    const form = event.target;
    const photos = await photosOf(form);
    const where = position || null;
    const data = { id: uuid(), building_id: form.building_id.value, household: form.household.value,
      purpose: form.purpose.value, outcome: form.outcome.value, follow_up: form.follow_up.value,
      follow_up_on: form.follow_up_on.value || null, at: new Date().toISOString() };
    if (where) { data.lon = where.lon; data.lat = where.lat; }
    if (form.incident_category.value.trim()) {
      data.incident = { category: form.incident_category.value.trim(),
        description: form.incident_description.value.trim() || form.outcome.value };
    }
    form.reset();
    await enqueue("visit", "POST", config.urls.visits, data, photos);
  }

  async function onDiary(event) {
    event.preventDefault();
    const form = event.target;
    const day = localDay();
    const data = { id: `diary-${day}`, text: form.text.value,
      tags: form.tags.value.split(/[,，]/).map((s) => s.trim()).filter(Boolean) };
    await enqueue("diary", "PUT", config.urls.diary.replace("__DAY__", day), data, []);
  }

  // -- start --------------------------------------------------------------------------------------

  document.getElementById("fd-checkin").addEventListener("submit", onCheckin);
  document.getElementById("fd-visit").addEventListener("submit", onVisit);
  document.getElementById("fd-diary").addEventListener("submit", onDiary);
  window.addEventListener("online", () => { showNetwork(); flush(); });
  window.addEventListener("offline", showNetwork);
  setInterval(() => { if (navigator.onLine) flush(); }, 15000);
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register(config.urls.sw, { scope: config.urls.scope }).catch(() => {});
  }
  initMap();
  showNetwork();
  showQueue().then(flush);
  loadTasks();
  locate().catch(() => {});
})();
