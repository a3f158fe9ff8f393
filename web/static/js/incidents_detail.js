/* Incident detail: the map (point and grid) and the action panel. The panel asks the API which
 * actions the caller may take (session, an API key typed here, or the reporter's tracking code) and
 * posts the chosen one; a 409 says someone else changed the case meanwhile. */
(function () {
  "use strict";
  var gi = window.gridmapIncidents;
  var config = gi.readJson("ic-config") || {};
  var map = gi.makeMap(config, { noGrids: true });
  window.gridmapIncidentMap = map;
  if (config.grid) {
    var outline = L.geoJSON(config.grid, { interactive: false, style: { color: "#b71c1c", weight: 2, fillOpacity: 0.05 } })
      .addTo(map);
    map.fitBounds(outline.getBounds(), { padding: [20, 20] });
  }
  if (config.point && config.point[0] !== null) {
    L.circleMarker(config.point, { radius: 8, color: "#ffffff", weight: 2, fillColor: "#c0392b", fillOpacity: 1,
                                   className: "ic-marker" }).addTo(map);
    if (!config.grid) { map.setView(config.point, 16); }
  }

  var keyInput = document.getElementById("ic-api-key");
  var buttons = document.getElementById("ic-buttons");
  var form = document.getElementById("ic-action-form");
  var statusEl = document.getElementById("ic-action-status");
  var FIELDS = { assign: ["assigned_to", "department", "note"], reject: ["note", "duplicate_of"],
                 handle: ["note"], fail_verification: ["note"], supervise: ["note"], comment: ["note"],
                 evaluate: ["satisfaction", "note"] };
  var chosen = null;
  keyInput.value = sessionStorage.getItem("gridmap.apiKey") || "";

  function headers() {
    var h = { Accept: "application/json", "Content-Type": "application/json" };
    if (keyInput.value) { h.Authorization = "Bearer " + keyInput.value; }
    return gi.csrfHeaders(h);
  }

  function loadActions() {
    var url = config.apiUrl + (config.token ? "?token=" + encodeURIComponent(config.token) : "");
    fetch(url, { headers: headers(), credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        buttons.textContent = "";
        var actions = body ? body.actions : [];
        if (!actions.length) { buttons.appendChild(gi.el("p", { "class": "ic-hint" }, gi.t("detail.no_actions"))); }
        actions.forEach(function (name) {
          var b = gi.el("button", { type: "button", "data-action": name }, gi.t("action." + name));
          b.addEventListener("click", function () { choose(name); });
          buttons.appendChild(b);
        });
      });
  }

  function choose(name) {
    chosen = name;
    form.hidden = false;
    document.getElementById("ic-action-name").textContent = gi.t("action." + name);
    var wanted = FIELDS[name] || [];
    form.querySelectorAll("[data-field]").forEach(function (label) {
      label.hidden = wanted.indexOf(label.getAttribute("data-field")) < 0;
    });
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var body = { action: chosen };
    (FIELDS[chosen] || []).forEach(function (f) { if (form.elements[f].value) { body[f] = form.elements[f].value; } });
    if (config.token) { body.token = config.token; }
    fetch(config.apiUrl + "/actions", { method: "POST", headers: headers(), credentials: "same-origin",
                                        body: JSON.stringify(body) })
      .then(function (r) { return r.json().then(function (b) { return { status: r.status, body: b }; }); })
      .then(function (res) {
        if (res.status === 200) { statusEl.textContent = gi.t("detail.done", { action: gi.t("action." + chosen) });
                                  window.location.reload(); return; }
        statusEl.textContent = res.status === 409 ? gi.t("detail.conflict")
          : (res.body && res.body.error ? res.body.error.message : String(res.status));
      });
  });

  keyInput.addEventListener("change", function () {
    sessionStorage.setItem("gridmap.apiKey", keyInput.value);
    loadActions();
  });
  loadActions();
})();
