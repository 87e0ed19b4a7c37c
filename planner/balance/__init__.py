"""The glue between posts and the pure ``compass`` library: each account's value balance, the
approval and composer what-ifs, balance settings and the tag suggester per workspace.
Routes: ``routes`` (the Balance page), ``api`` (``/api/v1`` balance and suggestions).

Other areas use what this module exports; the inner modules are this area's own.
"""

from __future__ import annotations

from planner.balance.service import (
    OVERRIDE_KEYS,
    SCHEDULED_STATES,
    SETTING_LIMITS,
    TARGET_FIELDS,
    UNTAGGED_LISTED,
    WHAT_IF_MAX_POSTS,
    AccountBalance,
    BalanceImpact,
    PageWhatIf,
    account_overrides,
    approval_impacts,
    approval_warnings,
    balance_for_account,
    composer_impacts,
    config_for,
    effective_values,
    items_for_account,
    page_what_if,
    parse_settings,
    post_impacts,
    save_account_settings,
    save_workspace_settings,
    setting_values,
    weekly_trend,
    workspace_balances,
    workspace_settings,
)
from planner.balance.suggestions import (
    CACHED_WORKSPACES,
    EXAMPLES_PER_WORKSPACE,
    clear_suggesters,
    suggest,
    suggester_for,
    warm_up,
)

__all__ = [
    "AccountBalance",
    "BalanceImpact",
    "CACHED_WORKSPACES",
    "EXAMPLES_PER_WORKSPACE",
    "OVERRIDE_KEYS",
    "SCHEDULED_STATES",
    "SETTING_LIMITS",
    "TARGET_FIELDS",
    "UNTAGGED_LISTED",
    "WHAT_IF_MAX_POSTS",
    "PageWhatIf",
    "account_overrides",
    "approval_impacts",
    "approval_warnings",
    "balance_for_account",
    "clear_suggesters",
    "composer_impacts",
    "config_for",
    "effective_values",
    "items_for_account",
    "page_what_if",
    "parse_settings",
    "post_impacts",
    "save_account_settings",
    "save_workspace_settings",
    "setting_values",
    "suggest",
    "suggester_for",
    "warm_up",
    "weekly_trend",
    "workspace_balances",
    "workspace_settings",
]
