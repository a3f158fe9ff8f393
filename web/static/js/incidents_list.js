/* Incident list: one marker per listed incident; the popup is built from DOM nodes (escaped text). */
(function () {
  "use strict";
  var gi = window.gridmapIncidents;
  var config = gi.readJson("ic-config") || {};
  var points = gi.readJson("ic-points") || [];
  var map = gi.makeMap(config);
  window.gridmapIncidentMap = map;
  var colours = { reported: "#c0392b", case_opened: "#e67e22", assigned: "#f39c12", in_progress: "#2980b9",
                  handled: "#16a085", verified: "#27ae60", closed: "#7f8c8d", evaluated: "#7f8c8d",
                  rejected: "#95a5a6" };
  var bounds = [];
  points.forEach(function (p) {
    if (p.lat === null || p.lon === null) { return; }
    var marker = L.circleMarker([p.lat, p.lon], {
      radius: p.overdue ? 8 : 6, color: p.overdue ? "#8e0000" : "#ffffff", weight: 2,
      fillColor: colours[p.status] || "#34495e", fillOpacity: 0.9, className: "ic-marker" }).addTo(map);
    var box = gi.el("div", { "class": "ic-popup" });
    var link = gi.el("a", { href: "/incidents/" + encodeURIComponent(p.id) }, p.id);
    box.appendChild(link);
    box.appendChild(gi.el("div", {}, p.category));
    box.appendChild(gi.el("div", {}, gi.t("status." + p.status)));
    marker.bindPopup(box);
    bounds.push([p.lat, p.lon]);
  });
  if (bounds.length) { map.fitBounds(bounds, { maxZoom: 16, padding: [24, 24] }); }
})();
