"""Conversions (issue 7): tracked links, contacts, the inbox, attribution and channel health.

Public entry points: ``links.tracked_link_for`` (the dispatcher calls it when building what a
publication sends), ``inbox.poll_x_dms`` (a job polls X DMs), ``attribution.report``.
"""
