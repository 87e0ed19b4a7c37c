"""Social accounts: connecting them (forms and OAuth), their encrypted credentials, token
refresh and status. Routes: ``routes`` (the Accounts page and OAuth callbacks).

Other areas use what this module exports; the inner modules are this area's own.
"""

from __future__ import annotations

from planner.accounts import apiversions, connections, crypto, oauth, tokens
from planner.accounts.apiversions import held_platforms, notify_sunsets
from planner.accounts.crypto import CredentialsUnreadable, decrypt_credentials, encrypt_credentials
from planner.accounts.service import (
    PLATFORMS,
    WHATSAPP_NUMBER,
    account_ref,
    clean_whatsapp_number,
    create_account,
    get_account,
    list_accounts,
    live_post_url,
    set_status,
    set_whatsapp_number,
    text_details,
    whatsapp_number,
)
from planner.accounts.tokens import refresh_expiring

__all__ = [
    "CredentialsUnreadable",
    "PLATFORMS",
    "WHATSAPP_NUMBER",
    "account_ref",
    "apiversions",
    "clean_whatsapp_number",
    "connections",
    "create_account",
    "crypto",
    "decrypt_credentials",
    "encrypt_credentials",
    "get_account",
    "held_platforms",
    "list_accounts",
    "live_post_url",
    "notify_sunsets",
    "oauth",
    "refresh_expiring",
    "set_status",
    "set_whatsapp_number",
    "text_details",
    "tokens",
    "whatsapp_number",
]
