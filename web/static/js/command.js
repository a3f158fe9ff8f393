/* Command-centre live map: every worker's newest position, coloured by state, moved by server-sent events.
 * Config comes from the JSON block #cm-config (URLs, the Folium map's variable name, texts, stale limit).
 * Every text from the server is inserted with textContent, never as HTML (names are people's input).
 * window.gridmapCommand exposes the map and markers to kiosk integrations and the browser tests.
 */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("cm-config").textContent);
  var msg = config.messages || {};
  var map = window[config.map];
  var COLOURS = { inside: "#2e7d32", outside: "#ef6c00", stale: "#757575" };
  var STATES = ["inside", "outside", "stale"];
  var workers = {};  // worker_id -> {marker, props}
  var layer = L.layerGroup().addTo(map);
  var trackLayer = L.layerGroup().addTo(map);
  var statusEl = document.getElementById("cm-status");
  var listEl = document.getElementById("cm-workers");
  var alertsEl = document.getElementById("cm-alerts");
  var areaEl = document.getElementById("cm-area");
  var area = config.area || "";

  function t(key, params) {
    var text = msg[key] || key;
    Object.keys(params || {}).forEach(function (k) { text = text.split("{" + k + "}").join(String(params[k])); });
    return text;
  }
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }
  function say(key) { statusEl.textContent = t(key); }

  function stateOf(props) {
    var age = (Date.now() - Date.parse(props.fix_time)) / 1000;
    if (!isFinite(age) || age > config.stale_after_s) { return "stale"; }
    return props.in_own_grid ? "inside" : "outside";
  }
  function inArea(props) { return !area || String(props.home_grid || "").indexOf(area) === 0; }

  function card(props) {
    var box = el("div", { "class": "cm-card-popup", "data-testid": "worker-popup" });
    box.appendChild(el("strong", {}, props.name));
    var dl = el("dl");
    function row(label, value) { dl.appendChild(el("dt", {}, t(label))); dl.appendChild(el("dd", {}, value)); }
    row("card.role", props.role ? t("role." + props.role) : "");
    row("card.phone", props.phone || "");
    row("card.home_grid", props.home_grid || "");
    row("card.grid_now", props.grid_code || t("card.outside_grid"));
    row("card.state", t("state." + stateOf(props)));
    row("card.fix_time", new Date(props.fix_time).toLocaleString());
    if (props.battery_pct !== null && props.battery_pct !== undefined) {
      row("card.battery", Math.round(props.battery_pct) + "%");
    }
    box.appendChild(dl);
    var trackButton = el("button", { type: "button", "data-testid": "show-track" }, t("card.track"));
    trackButton.addEventListener("click", function () { showTrack(props.worker_id); });
    box.appendChild(trackButton);
    box.appendChild(document.createTextNode(" "));
    box.appendChild(el("a", { href: config.worker.replace("__ID__", encodeURIComponent(props.worker_id)) },
                        t("card.details")));
    return box;
  }

  function showTrack(workerId) {
    fetch(config.track.replace("__ID__", encodeURIComponent(workerId)), { headers: { Accept: "application/geo+json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (feature) {
        trackLayer.clearLayers();
        if (!feature || !feature.geometry || feature.geometry.type !== "LineString") {
          say("card.track_none");
          return;
        }
        var line = L.polyline(feature.geometry.coordinates.map(function (c) { return [c[1], c[0]]; }),
                              { color: "#1d6fa5", weight: 3, className: "cm-track" });
        trackLayer.addLayer(line);
      });
  }

  function paint(entry) {
    var state = stateOf(entry.props);
    entry.marker.setStyle({ fillColor: COLOURS[state] });
    var node = entry.marker.getElement && entry.marker.getElement();
    if (node) {
      node.setAttribute("class", "leaflet-interactive cm-worker cm-state-" + state);
      node.setAttribute("data-worker-id", entry.props.worker_id);
      node.setAttribute("data-state", state);
    }
    entry.marker.setPopupContent(card(entry.props));
    return state;
  }

  function upsert(props, lon, lat) {
    var entry = workers[props.worker_id];
    if (entry && Date.parse(entry.props.fix_time) > Date.parse(props.fix_time)) { return; }  // older news
    if (!entry) {
      var marker = L.circleMarker([lat, lon], { radius: 9, color: "#ffffff", weight: 2, fillOpacity: 1,
                                                fillColor: COLOURS.inside, pane: "markerPane" });
      marker.bindPopup("");
      entry = workers[props.worker_id] = { marker: marker, props: props };
    } else {
      entry.props = Object.assign({}, entry.props, props);
      entry.marker.setLatLng([lat, lon]);
    }
    place(entry);
    paint(entry);
  }

  function place(entry) {
    if (inArea(entry.props)) {
      if (!layer.hasLayer(entry.marker)) { layer.addLayer(entry.marker); }
    } else if (layer.hasLayer(entry.marker)) {
      layer.removeLayer(entry.marker);
    }
  }

  function refreshList() {
    var counts = { inside: 0, outside: 0, stale: 0 };
    listEl.textContent = "";
    Object.keys(workers).sort().forEach(function (id) {
      var entry = workers[id];
      place(entry);
      if (!inArea(entry.props)) { return; }
      var state = paint(entry);
      counts[state] += 1;
      var item = el("li", { "data-worker-id": id, "data-state": state });
      item.appendChild(el("span", { "class": "cm-dot cm-state-" + state, title: t("state." + state) }));
      var button = el("button", { type: "button" }, entry.props.name);
      button.addEventListener("click", function () {
        map.panTo(entry.marker.getLatLng());
        entry.marker.openPopup();
      });
      item.appendChild(button);
      listEl.appendChild(item);
    });
    STATES.forEach(function (s) {
      var node = document.querySelector('[data-testid="count-' + s + '"]');
      if (node) { node.textContent = String(counts[s]); }
    });
  }

  function load() {
    var url = config.positions + (area ? "?area=" + encodeURIComponent(area) : "");
    return fetch(url, { headers: { Accept: "application/geo+json" } })
      .then(function (r) { return r.ok ? r.json() : { features: [] }; })
      .then(function (body) {
        (body.features || []).forEach(function (f) {
          upsert(f.properties, f.geometry.coordinates[0], f.geometry.coordinates[1]);
        });
        refreshList();
      });
  }

  function addAlert(data) {
    var empty = alertsEl.querySelector(".cm-empty");
    if (empty) { alertsEl.removeChild(empty); }
    var item = el("li", { "data-worker-id": data.worker_id },
                  t("command.alert", { name: data.name, minutes: Math.round(data.minutes_outside || 0) }));
    alertsEl.insertBefore(item, alertsEl.firstChild);
    while (alertsEl.children.length > 50) { alertsEl.removeChild(alertsEl.lastChild); }
  }

  function addIncident(data) {
    var lat = Number(data.lat), lon = Number(data.lon);
    if (!isFinite(lat) || !isFinite(lon)) { return; }
    L.circleMarker([lat, lon], { radius: 6, color: "#922b21", weight: 2, fillColor: "#e74c3c", fillOpacity: 0.85,
                                 className: "gm-incident gm-incident-live", pane: "markerPane" })
      .bindPopup(el("code", {}, data.incident_id || "")).addTo(map);
  }

  function parse(event) { try { return JSON.parse(event.data); } catch (e) { return null; } }

  function connect() {
    if (!config.events || !window.EventSource) { return; }
    var source = new EventSource(config.events);
    source.onopen = function () { say("command.live_connected"); };
    source.onerror = function () { say("command.live_disconnected"); };
    source.addEventListener("position.updated", function (event) {
      var data = parse(event);
      if (data) { upsert(data, Number(data.lon), Number(data.lat)); refreshList(); }
    });
    source.addEventListener("tracking.alert", function (event) {
      var data = parse(event);
      if (data && inArea({ home_grid: data.grid_code })) { addAlert(data); }
    });
    source.addEventListener("incident.created", function (event) {
      var data = parse(event);
      if (data) { addIncident(data); }
    });
    source.addEventListener("gap", function () { say("command.live_gap"); load(); });
    window.addEventListener("pagehide", function () { source.close(); });
  }

  if (areaEl) {
    areaEl.addEventListener("change", function () {
      area = areaEl.value;
      var url = new URL(window.location.href);
      if (area) { url.searchParams.set("area", area); } else { url.searchParams.delete("area"); }
      window.history.replaceState(null, "", url.toString());
      trackLayer.clearLayers();
      load();
    });
  }
  window.setInterval(refreshList, 15000);  // a worker turns stale without any event
  window.gridmapCommand = { map: map, workers: workers, reload: load };
  load().then(connect);
})();
