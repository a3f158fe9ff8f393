/* Outlines drawn from the portal's vector tiles (/tiles/{layer}/{z}/{x}/{y}.mvt) on the hand-written
 * Leaflet pages (the incident pages, the resident page); the Folium maps use gridmap.portal.maps.tiled.
 * Needs Leaflet and the vendored Leaflet.VectorGrid, loaded before this file.
 * `source` is the page config from gridmap.portal.maps.tiled.tile_source: { url, maxNativeZoom, className }.
 * The layer is not interactive, so taps and clicks reach the map under it. */
(function () {
  "use strict";

  /* A VectorGrid layer drawing the features of tile layer `layer` with the Leaflet path `style`. */
  function outlines(source, layer, style) {
    var styles = {};
    styles[layer] = style;
    return L.vectorGrid.protobuf(source.url, { vectorTileLayerStyles: styles, interactive: false,
                                               maxNativeZoom: source.maxNativeZoom, className: source.className });
  }

  window.gridmapTiled = { outlines: outlines };
})();
