import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import MultiPolygon, box

from gridmap import schema
from gridmap.auth import PUBLIC, Principal, require_area, require_role
from gridmap.auth.accounts import (
    add_account,
    authenticate,
    create_token,
    list_accounts,
    principal_from_api_key,
    revoke_token,
)
from gridmap.auth.passwords import hash_password, verify_password
from gridmap.errors import AuthenticationError, ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from gridmap.model import Role


def _seed_areas(store):
    rows = [
        ("410611", "淇滨区", "district", None, box(114.0, 35.6, 114.4, 35.9)),
        ("410611001", "金山街道", "street", "410611", box(114.0, 35.6, 114.2, 35.9)),
        ("410611001001", "黎阳社区", "community", "410611001", box(114.0, 35.6, 114.1, 35.9)),
        ("410611001002", "淇河社区", "community", "410611001", box(114.1, 35.6, 114.2, 35.9)),
    ]
    frame = gpd.GeoDataFrame(
        {"code": [r[0] for r in rows], "name": [r[1] for r in rows], "level": [r[2] for r in rows],
         "parent_code": [r[3] for r in rows]},
        geometry=[MultiPolygon([r[4]]) for r in rows], crs=4326,
    )
    with store.transaction() as tx:
        tx.insert(schema.AREAS, frame)


def test_password_hash_round_trip_and_salting():
    h1, h2 = hash_password("correct horse"), hash_password("correct horse")
    assert h1 != h2  # salted
    assert verify_password("correct horse", h1)
    assert not verify_password("correct hors", h1)
    assert not verify_password("correct horse", "garbage")
    with pytest.raises(ValidationError, match="at least 8"):
        hash_password("short")


def test_scope_is_a_code_prefix():
    community = Principal("li", Role.COMMAND, "410611001001")
    assert community.covers("410611001001003")  # its grid
    assert not community.covers("410611001002003")  # the neighbour's grid
    assert not community.covers("410611001")  # its parent street: would leak siblings
    assert community.overlaps("410611001")
    require_area(community, "410611001001003")
    with pytest.raises(PermissionDeniedError, match="outside your area"):
        require_area(community, "410611001002003")
    with pytest.raises(AuthenticationError):
        require_area(PUBLIC, "410611001001003")
    with pytest.raises(PermissionDeniedError, match="needs planner"):
        require_role(community, Role.PLANNER)
    require_role(Principal("root", Role.ADMIN, ""), Role.PLANNER)


def test_accounts_in_store(store):
    _seed_areas(store)
    add_account(store, "Li.Wei", role="command", area_code="410611001001", password="s3cret-pass", actor="admin")
    principal = authenticate(store, "li.wei", "s3cret-pass")
    assert principal == Principal("li.wei", Role.COMMAND, "410611001001")
    for user, pw in [("li.wei", "wrong-pass"), ("nobody", "s3cret-pass")]:
        with pytest.raises(AuthenticationError, match="wrong username or password"):
            authenticate(store, user, pw)
    with pytest.raises(ConflictError):
        add_account(store, "li.wei", role="planner", area_code="410611001001", password="another-pass")
    with pytest.raises(NotFoundError, match="410611009009"):
        add_account(store, "x", role="planner", area_code="410611009009", password="another-pass")
    with pytest.raises(ValidationError, match="unknown role"):
        add_account(store, "y", role="mayor", area_code="410611", password="another-pass")
    listed = list_accounts(store)
    assert list(listed["username"]) == ["li.wei"] and "password_hash" not in listed.columns
    audit = store.read(schema.AUDIT_LOG)
    assert list(audit["action"]) == ["account.add"] and audit.iloc[0]["detail"]["area_code"] == "410611001001"


def test_api_tokens(store):
    _seed_areas(store)
    issued = create_token(store, role="worker", area_code="410611001002", label="hotline", actor="admin")
    stored = store.read(schema.API_TOKENS)
    assert issued.secret not in set(stored.astype(str).to_numpy().ravel())  # only the hash is kept
    principal = principal_from_api_key(store, issued.api_key)
    assert principal.role is Role.WORKER and principal.area_code == "410611001002" and principal.via == "token"
    for bad in ["", "gm_x", f"gm_{issued.token_id}_wrong", "nope_a_b"]:
        with pytest.raises(AuthenticationError):
            principal_from_api_key(store, bad)
    revoke_token(store, issued.token_id, actor="admin")
    with pytest.raises(AuthenticationError, match="revoked"):
        principal_from_api_key(store, issued.api_key)
    with pytest.raises(NotFoundError):
        revoke_token(store, issued.token_id)
    assert pd.Series(store.read(schema.AUDIT_LOG)["action"]).tolist() == ["token.create", "token.revoke"]


def test_get_account_reads_what_the_portal_needs_on_both_stores(store):
    """Every AccountInfo field as stored, the display name falling back to the username, None for no account."""
    from gridmap.auth.manage import get_account

    _seed_areas(store)
    add_account(store, "Li.Wei", role="command", area_code="410611001001", password="pw-123456789",
                display_name="李伟", actor="test")
    add_account(store, "zhao", role="analyst", area_code="410611", password="pw-123456789", actor="test")
    li = get_account(store, "  LI.WEI ")
    assert li is not None
    assert (li.username, li.display_name, li.role, li.area_code, li.active, li.lang) == (
        "li.wei", "李伟", Role.COMMAND, "410611001001", True, None)
    zhao = get_account(store, "zhao")
    assert zhao is not None and zhao.display_name == "zhao" and zhao.role is Role.ANALYST
    assert get_account(store, "nobody") is None
