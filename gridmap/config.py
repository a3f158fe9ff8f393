"""Settings: one frozen dataclass, built once from defaults < TOML file < ``GRIDMAP_*`` env, passed down.

Nothing reads the environment after :func:`load_settings`; every component receives the
``Settings`` it needs. That keeps tests independent and avoids global mutable state.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

from gridmap.errors import ValidationError

DEFAULT_STORE_URL = "gpkg://./data/gridmap.gpkg"


@dataclass(frozen=True)
class HouseholdBand:
    """A target size band for grids, in households (户)."""

    name: str
    min_households: int
    max_households: int
    target_households: int

    def __post_init__(self) -> None:
        if self.min_households <= 0 or self.max_households <= 0:
            raise ValidationError(f"band {self.name!r}: households must be positive")
        if self.min_households > self.max_households:
            raise ValidationError(
                f"band {self.name!r}: min ({self.min_households}) is greater than max ({self.max_households})"
            )


#: Presets named after the settings in the requirements (P-1…P-5).
BAND_PRESETS: dict[str, HouseholdBand] = {
    "urban": HouseholdBand("urban", 300, 500, 400),  # P-1, 300–500户 (default)
    "urban-hebi": HouseholdBand("urban-hebi", 200, 500, 350),  # P-5, 鹤壁 社区每200-500户
    "urban-taian": HouseholdBand("urban-taian", 150, 300, 225),  # P-3, 泰安 150–300户
    "rural": HouseholdBand("rural", 100, 300, 200),  # P-5, 农村每100-300户
    "rural-150": HouseholdBand("rural-150", 120, 180, 150),  # P-2, 每个基础网格150户左右
}


@dataclass(frozen=True)
class Settings:
    """All configuration of a gridmap process. Units are in the names."""

    store_url: str = DEFAULT_STORE_URL
    #: Storage CRS of every layer: 4326 (WGS84) or 4490 (CGCS2000).
    storage_epsg: int = 4326
    #: A child area may stick out of its parent by this much (digitising noise), metres.
    within_tolerance_m: float = 1.0
    #: Household estimate from footprints: gross floor area / this = dwellings (m² per dwelling).
    dwelling_area_m2: float = 90.0
    #: Share of gross floor area that is dwellings (rest: stairs, walls, shops).
    residential_floor_ratio: float = 0.75
    #: Floors assumed when a building has no levels attribute.
    default_floors: int = 3
    #: Persons per household, for population estimates where no count is given.
    persons_per_household: float = 2.8
    band: str = "urban"
    #: Band of villages (村, community codes 200-399 in the statistical division scheme), P-5.
    rural_band: str = "rural"
    #: Blocks smaller than this are merged into the neighbour with the longest shared edge (m²).
    sliver_area_m2: float = 200.0
    # Portal
    secret_key: str = ""
    basemap: str = "none"  # none | osm | tianditu | amap
    #: Above this many grids visible to the caller (or in the analysed area), the portal's maps (home,
    #: dashboard, command centre, incidents, analysis, the resident page) draw streets, communities and
    #: grids from /tiles (vector tiles fetched per view) instead of embedding or downloading them whole:
    #: a city's 10,000 grids embedded are megabytes of HTML. Not with the AMap basemap (its overlays
    #: need the GCJ-02 shift).
    tiled_map_min_grids: int = 2000
    tianditu_key: str = ""
    tile_url_osm: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    allow_anonymous_reports: bool = False
    #: Open311 GET for anonymous callers: requests of public categories, redacted (no description,
    #: media or reporter; location rounded to 3 decimals, about 100 m). False = staff only.
    open311_public_requests: bool = True
    #: Folder of worker photos: relative ``photo`` values resolve here and the portal serves it at /photos/
    #: ("" = a ``photos`` folder beside a GeoPackage store; none for PostGIS). See gridmap.photos.
    photo_dir: str = ""
    # Portal accounts, limits and live updates (gridmap.portal.auth, .ratelimit, .live)
    #: A signed-in session ends this many minutes after login, and after as long without a request.
    session_lifetime_min: int = 480
    #: Reverse proxies in front of the portal whose X-Forwarded-For is trusted (0: the socket peer is the client).
    trusted_proxy_hops: int = 0
    #: Login attempts per client IP per minute (token bucket, burst = this many); 0 = no limit.
    rate_limit_login_per_min: float = 10.0
    #: Anonymous reads per client IP per second (burst = 2 s worth); 0 = no limit.
    rate_limit_public_read_per_s: float = 300.0
    #: Anonymous writes (reports, batch lookups) per client IP per minute (burst = this many); 0 = no limit.
    rate_limit_public_write_per_min: float = 60.0
    #: Seconds between heartbeats on /api/v1/events (idle proxies and dead clients are noticed).
    live_heartbeat_s: float = 15.0
    #: Event streams (/api/v1/events) open at once. Each holds one waitress thread, so 0 (the default) means
    #: "the server's threads minus 2" (``gridmap serve --workers 8``: 6 screens), keeping two threads for pages.
    live_max_subscribers: int = 0
    # Incidents (gridmap.incidents)
    #: TOML or JSON file with incident categories, deadlines, card and score rules ("" = built-in defaults).
    incidents_config: str = ""
    #: Seconds between escalation sweeps inside the portal server; 0 = off (use ``gridmap escalate`` from cron).
    escalation_interval_s: float = 0.0
    public_base_url: str = "http://127.0.0.1:8000"
    # Tracking (gridmap.tracking)
    position_retention_days: int = 90
    stale_position_minutes: int = 10
    outside_grid_alert_minutes: int = 30
    #: IANA time zone of patrol days and reports; positions are stored in UTC.
    tracking_timezone: str = "Asia/Shanghai"
    #: A street or building counts as patrolled when a track passes within this distance, metres.
    patrol_distance_m: float = 30.0
    #: Minutes in the worker's own grid that make a day count as patrolled (R-16).
    patrol_min_minutes: float = 30.0
    #: A fix stamped more than this many seconds ahead of the server clock is refused (bad device clock).
    max_fix_future_s: float = 300.0
    # Field work (gridmap.field): inspection points, check-ins, home visits, worker logs
    #: A check-in is accepted only this close to its inspection point, metres (measured in the metric working CRS).
    checkin_max_distance_m: float = 50.0
    #: Days between two self-checks of an inspection point when the import gives none (E-42: every two days).
    inspection_interval_days: int = 2
    #: Largest photo file accepted by the check-in and visit APIs, bytes (phones resize before upload).
    field_photo_max_bytes: int = 8 * 1024 * 1024
    #: The field page resizes photos so their longest side is at most this many pixels before queueing.
    field_photo_max_px: int = 1600
    #: Folder of check-in and visit photos, served only to staff covering the grid ("" = ``field_photos/``
    #: beside a GeoPackage store; PostGIS installations must set it).
    field_photo_dir: str = ""
    #: Monthly field assessment (A-5, A-13, G-31): relative weights of diary days, home visits and
    #: inspection-point coverage, and the monthly targets that count as 100 %.
    field_weight_diaries: float = 30.0
    field_weight_visits: float = 30.0
    field_weight_inspection: float = 40.0
    field_diary_days_target: int = 20
    field_visits_target: int = 20
    # Extra free-form settings for plug-ins.
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def household_band(self) -> HouseholdBand:
        try:
            return BAND_PRESETS[self.band]
        except KeyError:
            raise ValidationError(
                f"unknown band preset {self.band!r}; choose one of {', '.join(sorted(BAND_PRESETS))}"
            ) from None

    @property
    def rural_household_band(self) -> HouseholdBand:
        try:
            return BAND_PRESETS[self.rural_band]
        except KeyError:
            raise ValidationError(
                f"unknown rural band preset {self.rural_band!r}; choose one of {', '.join(sorted(BAND_PRESETS))}"
            ) from None

    def band_for_community(self, code: str | None) -> HouseholdBand:
        """The band of a community or grid code: ``rural_band`` for villages (村), else ``band`` (P-1, P-5)."""
        from gridmap.codes import is_village_code

        return self.rural_household_band if code and is_village_code(code) else self.household_band

    def replace(self, **changes: Any) -> Settings:
        """A copy with some fields changed (the dataclass stays frozen)."""
        return dataclasses.replace(self, **changes)


def _coerce(name: str, raw: Any, typ: Any) -> Any:
    if typ is bool or typ == "bool":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"0", "false", "no", "off", ""}:
            return False
        raise ValidationError(f"setting {name}: expected true/false, got {raw!r}")
    try:
        if typ is int or typ == "int":
            return int(raw)
        if typ is float or typ == "float":
            return float(raw)
    except (TypeError, ValueError):
        raise ValidationError(f"setting {name}: expected a number, got {raw!r}") from None
    return raw if not isinstance(raw, str) or typ is not str else str(raw)


def load_settings(
    config_file: str | Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Build Settings from defaults < TOML file (``[gridmap]`` table or top level) < env < overrides.

    Environment variables are ``GRIDMAP_<FIELD>`` in upper case, e.g. ``GRIDMAP_STORE_URL``.
    ``config_file`` defaults to ``$GRIDMAP_CONFIG`` when set.
    """
    env = os.environ if env is None else env
    hints = get_type_hints(Settings)
    fields = {f.name for f in dataclasses.fields(Settings)} - {"extra"}
    values: dict[str, Any] = {}
    path = config_file or env.get("GRIDMAP_CONFIG")
    if path:
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ValidationError(f"config file {p} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ValidationError(f"config file {p} is not valid TOML: {exc}") from None
        table = data.get("gridmap", data)
        unknown = set(table) - fields
        if unknown:
            raise ValidationError(f"config file {p}: unknown settings {', '.join(sorted(unknown))}")
        values.update(table)
    for name in fields:
        key = f"GRIDMAP_{name.upper()}"
        if key in env:
            values[name] = env[key]
    values.update({k: v for k, v in overrides.items() if v is not None})
    coerced = {k: _coerce(k, v, hints[k]) for k, v in values.items()}
    settings = Settings(**coerced)
    settings.household_band  # noqa: B018 - validates the preset names early
    settings.rural_household_band  # noqa: B018
    return settings
