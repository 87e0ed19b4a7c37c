"""Conversions (issue 7): tracked links, contacts, the inbox, attribution and channel health.

Public entry points: ``links.tracked_links_for`` (the dispatcher calls it when building what a
publication sends), ``dm_poll.poll_due`` (the worker polls X DMs), ``attribution.report``.
"""
