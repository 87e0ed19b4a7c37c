"""Uploaded images are served at /media (Instagram and Threads fetch them by URL), and
nothing else under the var dir is reachable through that route."""

from fastapi.testclient import TestClient

from planner.settings import get_settings
from planner.web.app import create_app


def test_media_served_and_nothing_else():
    settings = get_settings()
    image = settings.media_dir / "1" / "0f6c1a2e.png"
    image.parent.mkdir(parents=True, exist_ok=True)
    image.write_bytes(b"\x89PNG\r\n\x1a\nfake")
    settings.effective_secret_key()  # writes <var_dir>/secret_key
    client = TestClient(create_app(settings))

    r = client.get("/media/1/0f6c1a2e.png")
    assert r.status_code == 200 and r.content.startswith(b"\x89PNG")
    assert r.headers["content-type"] == "image/png"
    for path in ("/media/", "/media/1/", "/media/../secret_key", "/media/%2e%2e/secret_key",
                 "/media/1/missing.png"):
        assert client.get(path).status_code == 404, path
