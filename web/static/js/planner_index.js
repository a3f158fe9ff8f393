/* Planner index: approve, activate and rebalance through the planner API, then reload the list.
 * Server strings go into the page with textContent only. */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("pl-config").textContent || "{}");
  var status = document.getElementById("pl-status");

  function t(key, params) {
    var text = (config.texts || {})[key] || key;
    Object.keys(params || {}).forEach(function (k) { text = text.split("{" + k + "}").join(String(params[k])); });
    return text;
  }

  function post(url, body) {
    var headers = { "Content-Type": "application/json", Accept: "application/json" };
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta) { headers["X-CSRF-Token"] = meta.getAttribute("content"); }
    return fetch(url, { method: "POST", headers: headers, credentials: "same-origin", body: JSON.stringify(body) })
      .then(function (r) { return r.json().then(function (data) { return { ok: r.ok, data: data }; }); });
  }

  function fail(res) {
    var err = (res.data && res.data.error) || {};
    status.textContent = t("editor.error", { message: err.message || "?" });
    status.className = "pl-status pl-bad";
  }

  document.querySelectorAll(".pl-act").forEach(function (button) {
    button.addEventListener("click", function () {
      var action = button.getAttribute("data-action");
      var id = button.getAttribute("data-id");
      var code = button.getAttribute("data-code");
      button.disabled = true;
      var request;
      if (action === "approve" || action === "activate") {
        request = post(config.api + "/generations/" + id + "/" + action,
                       { version: Number(button.getAttribute("data-version")) });
      } else {
        request = post(config.api + "/communities/" + code + "/rebalance", { commit: action === "rebalance-commit" });
      }
      request.then(function (res) {
        button.disabled = false;
        if (!res.ok) { fail(res); return; }
        var d = res.data;
        status.className = "pl-status pl-ok";
        if (action === "approve") { status.textContent = t("done.approved", { id: id }); }
        else if (action === "activate") {
          var counts = (d.relink && d.relink.counts) || { incidents: 0, workers: 0 };
          status.textContent = t("done.activated", { id: id, incidents: counts.incidents, workers: counts.workers });
        } else {
          status.textContent = t("done.rebalance", { blocks: d.blocks_moved, households: d.households_moved,
            "new": (d.codes_new || []).join(", ") || "—", retired: (d.codes_retired || []).join(", ") || "—" })
            + (d.generation_id ? " · " + t("done.rebalance_saved", { id: d.generation_id }) : "");
        }
        if (action !== "rebalance") { window.setTimeout(function () { window.location.reload(); }, 1500); }
      }).catch(function (e) { button.disabled = false; status.textContent = t("editor.error", { message: String(e) }); });
    });
  });
})();
