/* The grid editor: select/merge, move a block, split along a drawn line; every edit is replayed and
 * certified by the server (/preview) before "save" is enabled. The edit list is the planner's work:
 * it is sent whole on every preview and save, and kept by the server as a draft on a 409.
 * Every value from data reaches the page through textContent (tooltips are DOM nodes), never HTML. */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("pl-config").textContent || "{}");
  var $ = function (id) { return document.getElementById(id); };
  var state = { base: null, edits: [], selected: [], mode: "select", block: null, line: [], savable: false };
  var layers = { community: null, grids: null, labels: null, blocks: null, line: null, violations: null };
  var busy = false;

  function t(key, params) {
    var text = (config.texts || {})[key] || key;
    Object.keys(params || {}).forEach(function (k) { text = text.split("{" + k + "}").join(String(params[k])); });
    return text;
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function call(method, url, body) {
    var headers = { Accept: "application/json" };
    if (body !== undefined) { headers["Content-Type"] = "application/json"; }
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta && method !== "GET") { headers["X-CSRF-Token"] = meta.getAttribute("content"); }
    return fetch(url, { method: method, headers: headers, credentials: "same-origin",
                        body: body === undefined ? undefined : JSON.stringify(body) })
      .then(function (r) { return r.json().then(function (d) { return { ok: r.ok, status: r.status, data: d }; }); });
  }

  function setStatus(text, good) {
    $("pl-status").textContent = text;
    $("pl-status").className = "pl-status " + (good === undefined ? "" : good ? "pl-ok" : "pl-bad");
  }

  function errorText(res) { return ((res.data || {}).error || {}).message || String(res.status); }

  var map = L.map("pl-map", { zoomControl: true, doubleClickZoom: false });
  map.setView([35.75, 114.3], 14);

  function outOfBand(props) {
    return (props.flags || []).some(function (f) { return f === "under_min" || f === "over_max"; });
  }

  function gridStyle(feature) {
    var p = feature.properties;
    var selected = state.selected.indexOf(p.code) >= 0;
    var bad = outOfBand(p);
    var share = Math.max(0, Math.min(1, (p.households || 0) / (config.band.max || 1)));
    return { color: selected ? "#0d47a1" : bad ? "#c62828" : "#37474f", weight: selected ? 4 : bad ? 3 : 1.5,
             dashArray: bad ? "6 4" : null, fillColor: bad ? "#ef9a9a" : "rgb(" + Math.round(255 - 170 * share) + ","
             + Math.round(250 - 90 * share) + "," + Math.round(200 - 20 * share) + ")", fillOpacity: 0.55,
             className: "pl-grid pl-grid-" + p.code + (bad ? " pl-out-of-band" : "") + (selected ? " pl-selected" : "") };
  }

  function tooltipNode(p) {
    var node = el("div", { "class": "pl-tip" });
    node.appendChild(el("strong", {}, p.code));
    node.appendChild(el("div", {}, p.name));
    node.appendChild(el("div", {}, t("editor.households", { n: p.households === null ? "—" : p.households })));
    return node;
  }

  function labelNode(p) {
    var node = el("div", { "class": "pl-label", "data-code": p.code });
    node.appendChild(el("div", {}, String(p.code).slice(-3)));
    node.appendChild(el("div", {}, t("editor.households", { n: p.households === null ? "—" : p.households })));
    return node;
  }

  function drawLabels() {
    if (layers.labels) { map.removeLayer(layers.labels); }
    layers.labels = L.layerGroup().addTo(map);
    layers.grids.eachLayer(function (layer) {
      var icon = L.divIcon({ html: labelNode(layer.feature.properties), className: "pl-label-icon", iconSize: null });
      L.marker(layer.getBounds().getCenter(), { icon: icon, interactive: false, keyboard: false }).addTo(layers.labels);
    });
  }

  function drawGrids(fc) {
    if (layers.grids) { map.removeLayer(layers.grids); }
    layers.grids = L.geoJSON(fc, {
      style: gridStyle,
      onEachFeature: function (feature, layer) {
        layer.bindTooltip(tooltipNode(feature.properties), { sticky: true });
        layer.on("click", function (e) { L.DomEvent.stopPropagation(e); onGridClick(feature.properties.code, e); });
      }
    }).addTo(map);
    drawLabels();
    if (layers.blocks && state.mode === "move") { layers.blocks.bringToFront(); }
  }

  function drawBlocks(fc) {
    if (layers.blocks) { map.removeLayer(layers.blocks); }
    layers.blocks = L.geoJSON(fc, { style: { color: "#607d8b", weight: 1, fill: true, fillOpacity: 0.01,
                                             dashArray: "2 3", className: "pl-block" },
      onEachFeature: function (feature, layer) {
        layer.on("click", function (e) {
          if (state.mode !== "move") { return; }
          L.DomEvent.stopPropagation(e);
          state.block = [e.latlng.lng, e.latlng.lat];
          setStatus(t("editor.hint.move"));
          layers.blocks.eachLayer(function (l) { l.setStyle({ fillOpacity: l === layer ? 0.45 : 0.01 }); });
          layers.grids.bringToFront();
        });
      } });
  }

  function showMode() {
    $("pl-hint").textContent = t("editor.hint." + state.mode);
    if (!layers.blocks) { return; }
    if (state.mode === "move") { layers.blocks.addTo(map); layers.blocks.bringToFront(); }
    else { map.removeLayer(layers.blocks); }
  }

  function renderSelection() {
    $("pl-selected").textContent = state.selected.length ? t("editor.selected", { codes: state.selected.join(", ") }) : "";
    $("pl-merge").disabled = busy || state.selected.length !== 2;
    if (layers.grids) { layers.grids.setStyle(gridStyle); }
  }

  function describe(edit) {
    if (edit.op === "merge") { return t("editor.op.merge", { a: edit.grids[0], b: edit.grids[1] }); }
    if (edit.op === "move_block") { return t("editor.op.move", { to: edit.to }); }
    return t("editor.op.split", { grid: edit.grid });
  }

  function renderEdits() {
    var list = $("pl-edits");
    list.textContent = "";
    if (!state.edits.length) { list.appendChild(el("li", { "class": "pl-empty" }, t("editor.no_edits"))); }
    state.edits.forEach(function (edit) { list.appendChild(el("li", {}, describe(edit))); });
    $("pl-undo").disabled = busy || !state.edits.length;
    $("pl-clear").disabled = busy || !state.edits.length;
    $("pl-save").disabled = busy || !state.savable || !state.edits.length;
  }

  function renderCertificate(data) {
    var box = $("pl-certificate");
    box.textContent = "";
    if (layers.violations) { map.removeLayer(layers.violations); }
    layers.violations = L.layerGroup().addTo(map);
    if (!data) { $("pl-problems").textContent = ""; return; }
    var cert = data.certificate;
    box.appendChild(el("p", { "class": cert.ok ? "pl-ok" : "pl-bad", "data-testid": "certificate-verdict" },
                       cert.ok ? t("editor.cert_ok") : t("editor.cert_fail")));
    var list = el("ul");
    cert.checks.forEach(function (check) {
      var label = t("check." + check.name) + ": " + (check.ok ? t("check.ok") : t("check.fail"))
        + (check.ok ? "" : " — " + check.message);
      list.appendChild(el("li", { "class": "pl-check", "data-ok": String(check.ok), "data-check": check.name,
                                  "data-testid": "check-" + check.name }, label));
      (check.issues || []).forEach(function (issue) {
        if (issue.geometry) {
          L.geoJSON(issue.geometry, { interactive: false, style: { color: "#d50000", weight: 3, dashArray: "4 4",
                                                                   className: "pl-violation" } }).addTo(layers.violations);
        }
      });
    });
    box.appendChild(list);
    var problems = $("pl-problems");
    problems.textContent = "";
    state.savable = !!data.savable;
    if (!state.edits.length) { return; }  // the base as it is: nothing to save yet, the checks say the rest
    (data.problems || []).forEach(function (p) { problems.appendChild(el("li", {}, p)); });
    setStatus(data.savable ? t("editor.savable") : t("editor.not_savable", { problems: (data.problems || []).join("; ") }),
              data.savable);
  }

  function setBusy(flag) { busy = flag; renderEdits(); renderSelection(); }

  function preview() {
    if (!state.edits.length) { load(state.base.generation_id); return; }
    setBusy(true);
    setStatus(t("editor.checking"));
    call("POST", config.previewUrl, { generation_id: state.base.generation_id, edits: state.edits }).then(function (res) {
      setBusy(false);
      if (!res.ok) {
        state.edits.pop();  // the last edit broke a rule: drop it, say why
        renderEdits();
        setStatus(t("editor.error", { message: errorText(res) }), false);
        return;
      }
      drawGrids(res.data.grids);
      renderCertificate(res.data);
      renderEdits();
    }).catch(function (e) { setBusy(false); setStatus(t("editor.error", { message: String(e) }), false); });
  }

  function addEdit(edit) {
    state.edits.push(edit);
    state.selected = [];
    state.block = null;
    state.savable = false;
    renderEdits();
    renderSelection();
    preview();
  }

  function onGridClick(code) {
    if (busy) { return; }
    if (state.mode === "move") {
      if (state.block) { addEdit({ op: "move_block", point: state.block, to: code }); }
      return;
    }
    if (state.mode === "split") { state.selected = [code]; state.line = []; renderSelection(); return; }
    var at = state.selected.indexOf(code);
    if (at >= 0) { state.selected.splice(at, 1); }
    else { state.selected = state.selected.slice(-1).concat([code]); }
    renderSelection();
  }

  map.on("click", function (e) {
    if (state.mode !== "split" || !state.selected.length) { return; }
    state.line.push([e.latlng.lng, e.latlng.lat]);
    if (layers.line) { map.removeLayer(layers.line); }
    layers.line = L.polyline(state.line.map(function (p) { return [p[1], p[0]]; }),
                             { color: "#0d47a1", weight: 3, className: "pl-split-line" }).addTo(map);
  });

  map.on("dblclick", function () {
    if (state.mode !== "split" || state.line.length < 2 || !state.selected.length) { return; }
    var edit = { op: "split", grid: state.selected[0], line: state.line.slice() };
    state.line = [];
    if (layers.line) { map.removeLayer(layers.line); layers.line = null; }
    addEdit(edit);
  });

  function renderDrafts(drafts) {
    var list = $("pl-drafts");
    list.textContent = "";
    (drafts || []).forEach(function (d) {
      var item = el("li", { "data-testid": "draft-" + d.draft_id }, d.created_at.slice(0, 19) + " · "
                    + d.edits.map(describe).join(", ") + " ");
      var apply = el("button", { type: "button", "data-testid": "apply-draft" }, t("editor.apply_draft"));
      apply.addEventListener("click", function () { state.edits = d.edits.slice(); renderEdits(); preview(); });
      item.appendChild(apply);
      list.appendChild(item);
    });
  }

  function load(generationId) {
    var url = config.stateUrl + (generationId ? "?generation=" + generationId : "");
    setBusy(true);
    return call("GET", url).then(function (res) {
      setBusy(false);
      if (!res.ok) { setStatus(t("editor.error", { message: errorText(res) }), false); return; }
      var d = res.data;
      state.base = d.base;
      state.edits = [];
      state.savable = false;
      state.selected = [];
      state.savable = false;
      $("pl-base").textContent = t("editor.base", { id: d.base.generation_id, version: d.base.version,
                                                   status: t("gen." + d.base.status) });
      $("pl-base").setAttribute("data-generation", String(d.base.generation_id));
      if (layers.community) { map.removeLayer(layers.community); }
      layers.community = L.geoJSON(d.community, { interactive: false,
        style: { color: "#b71c1c", weight: 3, fill: false, className: "pl-community" } }).addTo(map);
      drawBlocks(d.blocks);
      drawGrids(d.grids);
      map.fitBounds(layers.community.getBounds(), { padding: [20, 20] });
      renderDrafts(d.drafts);
      setStatus("");
      renderCertificate(d);
      renderEdits();
      renderSelection();
      showMode();
    });
  }

  function save() {
    setBusy(true);
    setStatus(t("editor.saving"));
    call("POST", config.saveUrl, { generation_id: state.base.generation_id, token: state.base.token,
                                   edits: state.edits, note: $("pl-note").value || null }).then(function (res) {
      setBusy(false);
      if (res.status === 409) {
        var draft = (((res.data || {}).error || {}).details || {}).draft_id || "?";
        setStatus(t("editor.conflict", { draft: draft }), false);
        $("pl-reload").hidden = false;
        return;
      }
      if (!res.ok) { setStatus(t("editor.error", { message: errorText(res) }), false); return; }
      load(res.data.generation_id).then(function () {
        setStatus(t("editor.saved", { id: res.data.generation_id, version: res.data.version }), true);
      });
    }).catch(function (e) { setBusy(false); setStatus(t("editor.error", { message: String(e) }), false); });
  }

  document.querySelectorAll('input[name="mode"]').forEach(function (input) {
    input.addEventListener("change", function () {
      state.mode = input.value; state.selected = []; state.block = null; state.line = [];
      renderSelection(); showMode();
    });
  });
  $("pl-merge").addEventListener("click", function () {
    if (state.selected.length === 2) { addEdit({ op: "merge", grids: state.selected.slice() }); }
  });
  $("pl-undo").addEventListener("click", function () { state.edits.pop(); state.savable = false; renderEdits(); preview(); });
  $("pl-clear").addEventListener("click", function () { load(state.base.generation_id); });
  $("pl-save").addEventListener("click", save);
  $("pl-reload").addEventListener("click", function () { $("pl-reload").hidden = true; load(null); });

  load(null);
})();
