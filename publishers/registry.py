"""Publishers by platform name. Adapters register themselves in publishers/__init__.py."""

from __future__ import annotations

from publishers.base import Publisher

_registry: dict[str, Publisher] = {}


class UnknownPlatform(KeyError):
    pass


def register(publisher: Publisher) -> Publisher:
    _registry[publisher.platform] = publisher
    return publisher


def get_publisher(platform: str) -> Publisher:
    try:
        return _registry[platform]
    except KeyError:
        raise UnknownPlatform(f"no publisher for platform {platform!r}") from None


def platforms() -> list[str]:
    return sorted(_registry)
