"""English messages. Same keys as ``messages_zh.py`` (a test checks the two catalogues match)."""

from __future__ import annotations

MESSAGES: dict[str, str] = {
    # Product and layout
    "app.name": "Grid-based community service management",
    "app.title": "Grid service management · gridmap",
    "app.tagline": "Community grid map portal",
    "nav.home": "Grid map",
    "nav.main": "Main navigation",
    "lang.label": "Language",
    "lang.zh": "中文",
    "lang.en": "English",
    "footer.synthetic": "Demo data is synthetic, for testing only.",
    # Counts in the header
    "count.districts": "Districts",
    "count.streets": "Streets",
    "count.communities": "Communities",
    "count.grids": "Grids",
    "count.households": "Households",
    "count.summary": "Summary",
    # Map layers
    "layer.district": "District boundary",
    "layer.street": "Street boundaries",
    "layer.community": "Community boundaries",
    "layer.grid": "Grids",
    "layer.professional": "Professional grids",
    "map.empty": "No boundaries yet. Import data or generate the demo first.",
    "map.aria": "Map of districts, streets, communities and grids",
    # Popup and tooltip fields
    "field.code": "Code",
    "field.name": "Name",
    "field.level": "Level",
    "field.households": "Households",
    "field.kind": "Kind",
    "field.band": "Household band",
    "value.unknown": "—",
    # Levels and kinds
    "level.district": "District",
    "level.street": "Street",
    "level.community": "Community",
    "level.grid": "Grid",
    "kind.base": "Base grid",
    "kind.dedicated": "Dedicated grid",
    "kind.professional": "Professional grid",
    "kind.micro": "Micro-grid",
    # Band checks
    "band.in": "In band ({min}–{max} households)",
    "band.below": "Below band (min {min} households)",
    "band.above": "Above band (max {max} households)",
    "band.none": "No band set",
    # Legend
    "legend.title": "Households per grid",
    "legend.range": "{low}–{high} households",
    "legend.below": "Below band",
    "legend.above": "Above band",
    "legend.violation": "Outside the household band (red dashes)",
    "legend.dedicated": "Dedicated grid",
    "legend.no_data": "No household data",
    # Errors
    "error.title": "Something went wrong",
    "error.not_found": "Page not found",
    "error.method_not_allowed": "Method not allowed",
    "error.internal": "Internal server error; it has been logged.",
    "error.store_unavailable": "The data store is unavailable; please try again shortly.",
    "error.back_home": "Back to the map",
    "error.code": "Error code",
}
