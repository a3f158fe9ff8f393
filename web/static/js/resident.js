/* Resident page: find my grid by address, location or a tap on the map.
 * Every string from the server is inserted with textContent / attributes, never as HTML.
 */
(function () {
  "use strict";

  function readJson(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent || "null") : null;
  }

  var config = readJson("rs-config") || {};
  var msg = readJson("rs-messages") || {};
  var initial = readJson("rs-initial");
  var statusEl = document.getElementById("rs-status");
  var resultEl = document.getElementById("rs-result");
  var candidatesEl = document.getElementById("rs-candidates");
  var matchedEl = document.getElementById("rs-matched");

  function t(key, params) {
    var text = msg[key] || key;
    Object.keys(params || {}).forEach(function (k) {
      text = text.split("{" + k + "}").join(String(params[k]));
    });
    return text;
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function setStatus(text, isError) {
    statusEl.textContent = text || "";
    statusEl.classList.toggle("rs-error", !!isError);
  }

  // ---- map -------------------------------------------------------------------------------
  var map = L.map("rs-map", { zoomControl: true, attributionControl: true });
  window.gridmapResidentMap = map;  // for kiosk integrations and the browser tests (pixel <-> lon/lat)
  document.getElementById("rs-map").style.background = config.background || "#eef1f3";
  (config.tiles || []).forEach(function (tile) {
    L.tileLayer(tile.url, { attribution: tile.attribution, subdomains: tile.subdomains, maxZoom: tile.maxZoom })
      .addTo(map);
  });
  if (config.bounds) { map.fitBounds(config.bounds); } else { map.setView([35.75, 114.3], 12); }
  var gridLayer = L.geoJSON(null, { style: {
    color: "#b71c1c", weight: 3, fillColor: "#b71c1c", fillOpacity: 0.08, className: "rs-grid" } })
    .addTo(map);
  var marker = null;
  // Community outlines for orientation; not interactive, so taps reach the map. For a city they come from
  // the vector tiles (config.contextTiles, the page loads js/tiled.js then: drawn in the tile pane, under the
  // grid), else from one GeoJSON request (config.contextUrl). The server scopes both alike.
  var CONTEXT_STYLE = { color: "#78909c", weight: 1, dashArray: "4 3", fill: false, className: "rs-context" };
  if (config.contextTiles) {
    window.gridmapTiled.outlines(config.contextTiles, "communities", CONTEXT_STYLE).addTo(map);
  } else if (config.contextUrl) {
    fetch(config.contextUrl, { headers: { Accept: "application/geo+json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (data) {
          L.geoJSON(data, { interactive: false, style: CONTEXT_STYLE }).addTo(map);
          gridLayer.bringToFront();
        }
      })
      .catch(function () { /* orientation only: the page works without it */ });
  }

  function placeMarker(lat, lon) {
    if (marker) { marker.setLatLng([lat, lon]); } else { marker = L.circleMarker([lat, lon], {
      radius: 7, color: "#1d6fa5", weight: 2, fillColor: "#fff", fillOpacity: 1 }).addTo(map); }
  }

  // ---- rendering ---------------------------------------------------------------------------
  function photoSrc(photo) {
    // The API sends /photos/<name> (served by the portal) or an http(s) URL; null means no photo.
    if (photo && (photo.indexOf("/photos/") === 0 || /^https?:\/\//.test(photo))) { return photo; }
    return "/static/img/worker-placeholder.svg";
  }

  function telHref(phone) { return "tel:" + String(phone).replace(/[^0-9+]/g, ""); }

  function workerCard(worker) {
    var card = el("div", { "class": "rs-worker", "data-testid": "worker-card" });
    var img = el("img", { src: photoSrc(worker.photo), alt: t("resident.photo_alt", { name: worker.name }),
                          width: "60", height: "80" });
    img.addEventListener("error", function () { img.src = "/static/img/worker-placeholder.svg"; }, { once: true });
    card.appendChild(img);
    var body = el("div");
    var name = el("div", { "class": "rs-worker-name", "data-testid": "worker-name" }, worker.name);
    name.appendChild(el("span", { "class": "rs-worker-role" }, t("resident.role." + worker.role)));
    body.appendChild(name);
    if (worker.phone) {
      body.appendChild(el("a", { href: telHref(worker.phone), "data-testid": "worker-phone" }, worker.phone));
    }
    if (worker.duties) { body.appendChild(el("p", { "class": "rs-duties" }, t("resident.duties") + ": " + worker.duties)); }
    card.appendChild(body);
    return card;
  }

  function metaList(result) {
    var dl = el("dl", { "class": "rs-meta" });
    [["resident.code", result.grid.code], ["resident.community", result.community && result.community.name],
     ["resident.street", result.street && result.street.name], ["resident.district", result.district && result.district.name]]
      .forEach(function (pair) {
        if (!pair[1]) { return; }
        dl.appendChild(el("dt", {}, t(pair[0])));
        dl.appendChild(el("dd", {}, pair[1]));
      });
    return dl;
  }

  function centreBlock(centre) {
    var box = el("div", { "class": "rs-centre", "data-testid": "centre" });
    box.appendChild(el("div", {}, centre.name));
    if (centre.address) { box.appendChild(el("div", {}, t("resident.centre_address") + ": " + centre.address)); }
    if (centre.phone) {
      var line = el("div", {}, t("resident.phone") + ": ");
      line.appendChild(el("a", { href: telHref(centre.phone) }, centre.phone));
      box.appendChild(line);
    }
    if (centre.opening_hours) { box.appendChild(el("div", {}, t("resident.hours") + ": " + centre.opening_hours)); }
    return box;
  }

  function showResult(result) {
    resultEl.replaceChildren();
    resultEl.appendChild(el("h2", { "data-testid": "grid-name" }, result.grid.name));
    resultEl.appendChild(metaList(result));
    var people = (result.leader ? [result.leader] : []).concat(result.workers || []);
    resultEl.appendChild(el("h3", { "class": "rs-section-title" }, t("resident.workers")));
    if (!people.length) { resultEl.appendChild(el("p", {}, t("resident.no_workers"))); }
    people.forEach(function (w) { resultEl.appendChild(workerCard(w)); });
    if (result.overlays && result.overlays.length) {
      resultEl.appendChild(el("p", { "class": "rs-meta" }, t("resident.overlays") + ": " +
        result.overlays.map(function (o) { return o.name; }).join("、")));
    }
    if (result.service_centre) {
      resultEl.appendChild(el("h3", { "class": "rs-section-title" }, t("resident.centre")));
      resultEl.appendChild(centreBlock(result.service_centre));
    }
    resultEl.hidden = false;
    gridLayer.clearLayers();
    if (result.grid.geometry) {
      gridLayer.addData(result.grid.geometry);
      map.fitBounds(gridLayer.getBounds(), { maxZoom: 17, padding: [20, 20], animate: false });
    }
    placeMarker(result.lat, result.lon);
    setStatus("");
  }

  function showError(body) {
    resultEl.hidden = true;
    gridLayer.clearLayers();
    var error = (body && body.error) || {};
    var details = error.details || {};
    if (error.code === "not_found" && details.nearest_grid) {
      setStatus(t("resident.outside", { name: details.nearest_grid.name, distance: Math.round(details.distance_m) }), true);
    } else if (error.code === "swapped_coordinates") {
      setStatus(t("resident.swapped"), true);
    } else if (error.code === "not_found" && details.address !== undefined) {
      setStatus(t("resident.no_match"), true);
    } else if (error.code === "not_found") {
      setStatus(t("resident.outside_far"), true);
    } else {
      setStatus(t("resident.error") + (error.message ? ": " + error.message : ""), true);
    }
  }

  // ---- requests ----------------------------------------------------------------------------
  function request(params) {
    var query = new URLSearchParams(params);
    query.set("geometry", "1");
    return fetch(config.lookupUrl + "?" + query.toString(), { headers: { Accept: "application/json" } })
      .then(function (response) { return response.json(); });
  }

  function lookupPoint(lat, lon, keepMatch) {
    if (!keepMatch) { candidatesEl.hidden = true; showMatched(""); }
    placeMarker(lat, lon);
    setStatus(t("resident.searching"));
    request({ lon: lon.toFixed(7), lat: lat.toFixed(7) })
      .then(function (body) { if (body.ok) { showResult(body); } else { showError(body); } })
      .catch(function () { setStatus(t("resident.error"), true); });
  }

  function showCandidates(candidates) {
    candidatesEl.replaceChildren();
    var others = candidates.slice(1);
    if (others.length) {
      candidatesEl.appendChild(el("h3", { "class": "rs-section-title" }, t("resident.candidates")));
      var list = el("ol");
      others.forEach(function (c) {
        var item = el("li");
        var button = el("button", { type: "button", "data-testid": "candidate" }, c.label);
        button.addEventListener("click", function () { showMatched(c.label); lookupPoint(c.lat, c.lon, true); });
        item.appendChild(button);
        list.appendChild(item);
      });
      candidatesEl.appendChild(list);
    }
    candidatesEl.hidden = !others.length;
  }

  function showMatched(label) {
    matchedEl.textContent = label ? t("resident.matched") + ": " + label : "";
    matchedEl.hidden = !label;
  }

  function lookupAddress(text) {
    setStatus(t("resident.searching"));
    request({ address: text })
      .then(function (body) {
        if (!body.ok) { candidatesEl.hidden = true; showMatched(""); showError(body); return; }
        showCandidates(body.candidates || []);
        var best = (body.candidates || [])[0];
        showMatched(best ? best.label : "");
        if (body.result) { showResult(body.result); } else if (best) { lookupPoint(best.lat, best.lon, true); }
      })
      .catch(function () { setStatus(t("resident.error"), true); });
  }

  document.getElementById("rs-search").addEventListener("submit", function (event) {
    event.preventDefault();
    var text = document.getElementById("rs-address").value.trim();
    if (text) { lookupAddress(text); }
  });

  document.getElementById("rs-locate").addEventListener("click", function () {
    if (!navigator.geolocation) { setStatus(t("resident.geo_unsupported"), true); return; }
    setStatus(t("resident.locating"));
    navigator.geolocation.getCurrentPosition(
      function (pos) { lookupPoint(pos.coords.latitude, pos.coords.longitude); },
      function () { setStatus(t("resident.geo_denied"), true); },
      { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 }
    );
  });

  map.on("click", function (event) { lookupPoint(event.latlng.lat, event.latlng.lng); });

  if (initial && initial.ok) { showResult(initial); }
})();
