"""Images attached to posts: type checked by content (not by name), size capped, stored under
the media directory with a random name so uploads can never overwrite or traverse."""

from __future__ import annotations

import uuid
from pathlib import Path

from planner.errors import Invalid
from planner.settings import get_settings

# Magic numbers of the image types every platform here accepts.
SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"GIF87a", "image/gif", "gif"),
    (b"GIF89a", "image/gif", "gif"),
)


def sniff(data: bytes) -> tuple[str, str] | None:
    for magic, mime, ext in SIGNATURES:
        if data.startswith(magic):
            return mime, ext
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", "webp"
    return None


def store_image(*, workspace_id: int, data: bytes, filename: str = "") -> tuple[str, str]:
    """Save an uploaded image; returns (path relative to the media dir, mime type)."""
    settings = get_settings()
    if not data:
        raise Invalid.at("media", "The uploaded file is empty.")
    if len(data) > settings.media_max_bytes:
        limit_mb = settings.media_max_bytes / 1024 / 1024
        raise Invalid.at("media", f"{filename or 'The image'} is {len(data) / 1024 / 1024:.1f} "
                         f"MB; the limit is {limit_mb:.0f} MB.")
    kind = sniff(data)
    if kind is None:
        raise Invalid.at("media", f"{filename or 'The file'} is not a PNG, JPEG, GIF or WebP "
                         "image.")
    mime, ext = kind
    relative = Path(str(workspace_id)) / f"{uuid.uuid4().hex}.{ext}"
    target = settings.media_dir / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return str(relative), mime


def absolute_path(relative: str) -> Path:
    return get_settings().media_dir / relative
