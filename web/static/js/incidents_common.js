/* Shared helpers of the incident pages. Every server string goes into the page with textContent or
 * setAttribute, never as HTML, so markup typed by a reporter stays text (also inside map popups). */
(function () {
  "use strict";

  function readJson(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent || "null") : null;
  }

  var messages = readJson("ic-messages") || {};

  function t(key, params) {
    var text = messages[key] || key;
    Object.keys(params || {}).forEach(function (k) { text = text.split("{" + k + "}").join(String(params[k])); });
    return text;
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function csrfHeaders(headers) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta && meta.getAttribute("content")) { headers["X-CSRF-Token"] = meta.getAttribute("content"); }
    return headers;
  }

  /* How the context grids look, whether they come as one GeoJSON or as vector tiles. */
  var GRID_OUTLINE = { color: "#78909c", weight: 1, fill: false, className: "ic-grid-outline" };

  /* The caller's grids as context: from vector tiles for a city (config.gridTiles, the page loads
   * Leaflet.VectorGrid and js/tiled.js then), else from one GeoJSON request (config.gridsUrl).
   * Both are scoped by the server. */
  function addGrids(map, config) {
    var tiles = config.gridTiles;
    if (tiles) {
      window.gridmapTiled.outlines(tiles, "grids", GRID_OUTLINE).addTo(map);
      return;
    }
    if (!config.gridsUrl) { return; }
    fetch(config.gridsUrl, { headers: { Accept: "application/geo+json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        L.geoJSON(data, { interactive: false, style: GRID_OUTLINE }).addTo(map);
      })
      .catch(function () { /* context only */ });
  }

  /* A Leaflet map in #ic-map from the page config: tiles (if any), the active grids as context. */
  function makeMap(config, options) {
    var map = L.map("ic-map", { zoomControl: true, attributionControl: true });
    document.getElementById("ic-map").style.background = config.background || "#eef1f4";
    (config.tiles || []).forEach(function (tile) {
      L.tileLayer(tile.url, { attribution: tile.attribution, subdomains: tile.subdomains, maxZoom: tile.maxZoom })
        .addTo(map);
    });
    if (config.bounds) { map.fitBounds(config.bounds); } else { map.setView([35.75, 114.3], 12); }
    if (!(options && options.noGrids)) { addGrids(map, config); }
    return map;
  }

  window.gridmapIncidents = { readJson: readJson, t: t, el: el, makeMap: makeMap, csrfHeaders: csrfHeaders };
})();
