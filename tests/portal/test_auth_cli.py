"""``gridmap users add/list/disable/enable`` on a real GeoPackage store (click's runner, no subprocess)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from portal_sample import populate_store

from gridmap import schema
from gridmap.auth.accounts import authenticate
from gridmap.cli.main import cli
from gridmap.config import Settings
from gridmap.errors import AuthenticationError
from gridmap.store.factory import open_store


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    url = f"gpkg://{tmp_path / 'cli.gpkg'}"
    store = open_store(url, Settings())
    populate_store(store)
    store.close()
    return url


def run(*args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), input=stdin, catch_exceptions=False)
    return result.exit_code, result.output


def test_users_add_reads_the_password_from_stdin_and_audits(store_url: str) -> None:
    code, out = run("users", "add", "Li.Ming", "--role", "command", "--area", "410611001001", "--password-stdin",
                    "--display-name", "李明", "--store", store_url, stdin="two words ok\n")
    assert code == 0, out
    assert "added li.ming (command, area 410611001001)" in out
    store = open_store(store_url, Settings())
    try:
        principal = authenticate(store, "li.ming", "two words ok")  # spaces kept, newline dropped
        assert (principal.role.value, principal.area_code) == ("command", "410611001001")
        audit = store.read(schema.AUDIT_LOG)
        assert audit["action"].tolist() == ["account.add"]
        assert audit["actor"].iloc[0].startswith("cli")
        assert "two words ok" not in repr(audit.to_dict("records"))
    finally:
        store.close()


def test_users_list_never_shows_password_hashes(store_url: str) -> None:
    run("users", "add", "root", "--role", "admin", "--password-stdin", "--store", store_url, stdin="rootroot1\n")
    run("users", "add", "wang", "--role", "worker", "--area", "410611002001001", "--password-stdin",
        "--store", store_url, stdin="wangwang1\n")
    code, out = run("users", "list", "--json", "--store", store_url)
    assert code == 0
    rows = json.loads(out)
    assert [(r["username"], r["role"], r["area_code"], r["active"]) for r in rows] == [
        ("root", "admin", "", True), ("wang", "worker", "410611002001001", True)]
    assert all(set(r) == {"username", "display_name", "role", "area_code", "active", "created_at"} for r in rows)
    code, text = run("users", "list", "--store", store_url)
    assert text.splitlines()[0].split() == ["username", "display_name", "role", "area_code", "active", "created_at"]
    assert "scrypt$" not in out + text


def test_users_disable_and_enable(store_url: str) -> None:
    run("users", "add", "wang", "--role", "worker", "--area", "410611002001001", "--password-stdin",
        "--store", store_url, stdin="wangwang1\n")
    assert run("users", "disable", "WANG", "--store", store_url) == (0, "disabled wang\n")
    store = open_store(store_url, Settings())
    try:
        with pytest.raises(AuthenticationError):
            authenticate(store, "wang", "wangwang1")
        assert run("users", "enable", "wang", "--store", store_url)[0] == 0
        assert authenticate(store, "wang", "wangwang1").name == "wang"
        assert store.read(schema.AUDIT_LOG)["action"].tolist() == ["account.add", "account.disable", "account.enable"]
    finally:
        store.close()


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("users", "add", "li", "--role", "command", "--area", "410611001001", "--password-stdin"), "\n",
         "standard input was empty"),
        (("users", "add", "li", "--role", "command", "--area", "410611001001", "--password-stdin"), "short\n",
         "at least 8"),
        (("users", "add", "li", "--role", "command", "--password-stdin"), "longenough\n", "give --area CODE"),
        (("users", "add", "li", "--role", "command", "--area", "410611009009", "--password-stdin"), "longenough\n",
         "does not exist"),
        (("users", "add", "li", "--role", "command", "--area", "12ab", "--password-stdin"), "longenough\n",
         "digits only"),
        (("users", "add", "<b>x</b>", "--role", "worker", "--area", "410611001001", "--password-stdin"),
         "longenough\n", "use 1-64 characters"),
        (("users", "disable", "nobody"), None, "no account nobody"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(store_url: str, args: tuple[str, ...], stdin: str | None,
                                          message: str) -> None:
    code, out = run(*args, "--store", store_url, stdin=stdin)
    assert code == 2
    assert message in out and "Traceback" not in out


def test_duplicate_user_is_a_conflict(store_url: str) -> None:
    args = ("users", "add", "li", "--role", "analyst", "--area", "410611", "--password-stdin", "--store", store_url)
    assert run(*args, stdin="longenough\n")[0] == 0
    code, out = run(*args, stdin="longenough\n")
    assert code == 2 and "already exists" in out


def test_role_must_be_known(store_url: str) -> None:
    code, out = run("users", "add", "li", "--role", "public", "--area", "410611", "--password-stdin",
                    "--store", store_url, stdin="longenough\n")
    assert code == 2 and "'public' is not one of" in out
