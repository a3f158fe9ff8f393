"""Accounts, API tokens, passwords and the audit log, as the CLI and the portal use them.

One path for both faces: ``gridmap users add`` and the admin page call the same ``add_account``;
``gridmap tokens create`` and the account page the same ``create_token``; sign-in and API-key
checks go through ``authenticate`` / ``principal_from_api_key``. The functions live in
``gridmap.auth`` (accounts, scrypt passwords, management) and ``gridmap.audit``; this module is
the face's entry point to them (tests/test_layering.py).
"""

from __future__ import annotations

from gridmap import audit as audit
from gridmap.auth.accounts import add_account as add_account
from gridmap.auth.accounts import authenticate as authenticate
from gridmap.auth.accounts import create_token as create_token
from gridmap.auth.accounts import list_accounts as list_accounts
from gridmap.auth.accounts import principal_from_api_key as principal_from_api_key
from gridmap.auth.accounts import revoke_token as revoke_token
from gridmap.auth.manage import MAX_PASSWORD_LENGTH as MAX_PASSWORD_LENGTH
from gridmap.auth.manage import MAX_USERNAME_LENGTH as MAX_USERNAME_LENGTH
from gridmap.auth.manage import AccountInfo as AccountInfo
from gridmap.auth.manage import audit_login as audit_login
from gridmap.auth.manage import audit_logout as audit_logout
from gridmap.auth.manage import change_password as change_password
from gridmap.auth.manage import get_account as get_account
from gridmap.auth.manage import set_account_active as set_account_active
from gridmap.auth.passwords import MIN_PASSWORD_LENGTH as MIN_PASSWORD_LENGTH
