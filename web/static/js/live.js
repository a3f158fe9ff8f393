// Live events on the dashboard map (server-sent events from /api/v1/events).
// Config comes from the JSON block #gm-live-config (URL, the Folium map's variable name, messages).
// Every text from an event is inserted with textContent or escaped for Leaflet popups: never as HTML.
(function () {
  "use strict";
  var configEl = document.getElementById("gm-live-config");
  if (!configEl || !window.EventSource) { return; }
  var config = JSON.parse(configEl.textContent);
  var status = document.getElementById("gm-live-status");
  var list = document.getElementById("gm-live-list");
  var MAX_ITEMS = 50;
  var lang = (document.documentElement.lang || "zh").slice(0, 2);

  function categoryName(data) {
    var names = data.category_names || {};
    return names[lang] || names.zh || data.category || "";
  }

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;"}[c];
    });
  }
  function say(text) { if (status) { status.textContent = text; } }
  function format(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, k) { return values[k] === undefined ? "" : String(values[k]); });
  }
  function addToList(text, id) {
    if (!list) { return; }
    var item = document.createElement("li");
    item.textContent = text;
    if (id) { item.setAttribute("data-incident-id", id); }
    list.insertBefore(item, list.firstChild);
    while (list.children.length > MAX_ITEMS) { list.removeChild(list.lastChild); }
  }
  function addMarker(data) {
    var map = window[config.map];
    var lat = Number(data.lat), lon = Number(data.lon);
    if (!map || !window.L || !isFinite(lat) || !isFinite(lon)) { return; }
    var marker = L.circleMarker([lat, lon], {radius: 8, color: "#922b21", weight: 2, fillColor: "#f39c12",
                                              fillOpacity: 0.9, className: "gm-incident gm-incident-live",
                                              pane: "markerPane"});
    marker.bindPopup("<b>" + escapeHtml(categoryName(data)) + "</b><br><code>"
                     + escapeHtml(data.incident_id || "") + "</code>");
    marker.addTo(map);
    if (marker.getElement && marker.getElement()) {
      marker.getElement().setAttribute("data-incident-id", String(data.incident_id || ""));
    }
  }
  function onIncident(event) {
    var data;
    try { data = JSON.parse(event.data); } catch (e) { return; }
    if (event.type === "incident.created") { addMarker(data); }
    var template = event.type === "incident.created" ? config.messages.incident : config.messages.update;
    addToList(format(template, {category: categoryName(data), status: (data.status_names || {})[lang] || data.status || ""})
              + " · " + (data.incident_id || ""), data.incident_id);
  }

  // EventSource retries by itself after a dropped connection, but gives up for good after an HTTP error
  // (429 when every stream slot is taken, 503 during a restart): then we reconnect ourselves, with back-off,
  // and ask for what we missed with last_event_id.
  var source = null, lastId = null, delayMs = 2000, MAX_DELAY_MS = 60000;
  function remember(event) { if (event.lastEventId) { lastId = event.lastEventId; } }
  function connect() {
    var url = config.url + (lastId ? (config.url.indexOf("?") < 0 ? "?" : "&") + "last_event_id="
                                      + encodeURIComponent(lastId) : "");
    source = new EventSource(url);
    source.onopen = function () { delayMs = 2000; say(config.messages.connected); };
    source.onerror = function () {
      say(config.messages.disconnected);
      if (source.readyState === EventSource.CLOSED) {
        window.setTimeout(connect, delayMs);
        delayMs = Math.min(delayMs * 2, MAX_DELAY_MS);
      }
    };
    source.addEventListener("incident.created", function (e) { remember(e); onIncident(e); });
    source.addEventListener("incident.updated", function (e) { remember(e); onIncident(e); });
    source.addEventListener("gap", function () { say(config.messages.gap); });
  }
  connect();
  window.addEventListener("pagehide", function () { if (source) { source.close(); } });
})();
