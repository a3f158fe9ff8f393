/* Report form: tap the map to place the pin, see open look-alikes nearby, send the report to
 * /open311/v2/requests.json (form-encoded, the GeoReport v2 way) and show its id and tracking code. */
(function () {
  "use strict";
  var gi = window.gridmapIncidents;
  var config = gi.readJson("ic-config") || {};
  var map = gi.makeMap(config);
  window.gridmapReportMap = map;
  var form = document.getElementById("ic-report");
  var pinEl = document.getElementById("ic-pin");
  var resultEl = document.getElementById("ic-result");
  var dupEl = document.getElementById("ic-duplicates");
  var marker = null;
  var pin = null;
  var timer = null;

  function showDuplicates(list) {
    dupEl.textContent = "";
    if (!list || !list.length) { dupEl.appendChild(gi.el("li", { "class": "ic-hint" }, gi.t("form.no_duplicates"))); return; }
    list.forEach(function (d) {
      var li = gi.el("li", { "data-testid": "duplicate" });
      li.appendChild(gi.el("strong", {}, d.service_request_id));
      li.appendChild(document.createTextNode(" · " + gi.t("form.distance", { m: Math.round(d.distance_m) }) + " · "));
      li.appendChild(gi.el("span", {}, d.description || ""));
      dupEl.appendChild(li);
    });
  }

  function checkDuplicates() {
    if (!pin) { return; }
    var q = new URLSearchParams({ service_code: form.elements.service_code.value, lat: pin.lat, long: pin.lng });
    fetch(config.duplicatesUrl + "?" + q.toString(), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) { if (body) { showDuplicates(body.duplicates); } })
      .catch(function () { /* a suggestion only */ });
  }

  function later() { clearTimeout(timer); timer = setTimeout(checkDuplicates, 300); }

  map.on("click", function (e) {
    pin = e.latlng;
    if (marker) { marker.setLatLng(pin); } else {
      marker = L.marker(pin, { keyboard: false, title: "pin" }).addTo(map);
    }
    pinEl.textContent = gi.t("form.pinned", { lon: pin.lng.toFixed(6), lat: pin.lat.toFixed(6) });
    pinEl.classList.add("ic-pinned");
    later();
  });
  form.elements.service_code.addEventListener("change", later);

  function showResult(item) {
    resultEl.textContent = "";
    resultEl.classList.remove("ic-error");
    resultEl.appendChild(gi.el("p", { "data-testid": "report-id" }, gi.t("form.success", { id: item.service_request_id })));
    resultEl.appendChild(gi.el("p", { "class": "ic-token" }, gi.t("form.token", { token: item.token })));
    var href = "/incidents/" + encodeURIComponent(item.service_request_id) + "?token=" + encodeURIComponent(item.token);
    resultEl.appendChild(gi.el("a", { href: href, "data-testid": "report-link" }, gi.t("form.view")));
    showDuplicates(item.duplicates);
  }

  function showError(text) {
    resultEl.textContent = gi.t("form.error", { message: text });
    resultEl.classList.add("ic-error");
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    if (!pin) { showError(gi.t("form.need_pin")); return; }
    var data = new URLSearchParams(new FormData(form));
    data.set("lat", pin.lat.toFixed(7));
    data.set("long", pin.lng.toFixed(7));
    if (!data.get("api_key")) { data.delete("api_key"); }
    resultEl.textContent = gi.t("form.sending");
    fetch(config.postUrl, { method: "POST", body: data, credentials: "same-origin",
                            headers: gi.csrfHeaders({ Accept: "application/json" }) })
      .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
      .then(function (res) {
        if (res.ok) { showResult(res.body[0]); form.reset(); return; }
        var first = Array.isArray(res.body) ? res.body[0] : (res.body && res.body.error);
        showError(first ? (first.description || first.message) : "?");
      })
      .catch(function (err) { showError(String(err)); });
  });
})();
