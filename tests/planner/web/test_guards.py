"""Body limits before anything is read, and security headers on every response."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlmodel import select
from webhelpers import page_csrf

from planner.db import session_scope
from planner.models import User
from planner.settings import get_settings
from planner.team import users
from planner.web import guards

MIB = 1024 * 1024


def _token(email: str) -> str:
    with session_scope() as s:
        user = s.exec(select(User).where(User.email == email)).one()
        return users.issue_api_token(session=s, user=user, name="test").secret


def _chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    """A body without Content-Length (chunked), as a client that hides its size sends it."""
    sent = 0
    while sent < total:
        yield b"x" * min(size, total - sent)
        sent += size


class TestBodyLimits:
    def test_declared_length_over_the_webhook_limit_is_refused_unread(self, client):
        r = client.post("/hooks/anything/shop", content=b"{}" * (MIB // 2 + 10),
                        headers={"Content-Type": "application/json"})
        assert r.status_code == 413
        assert r.headers["content-type"] == "application/problem+json"
        body = r.json()
        assert body["status"] == 413 and body["title"] == "Request too large"
        assert "1 MiB" in body["detail"]

    def test_a_streamed_body_is_cut_off_at_the_limit(self, client, world):
        r = client.post("/login", content=_chunks(3 * MIB),
                        headers={"Content-Type": "application/x-www-form-urlencoded",
                                 "Accept": "application/json"})
        assert r.status_code == 413 and "1 MiB" in r.json()["detail"]

    def test_json_api_over_one_mib(self, client, world):
        r = client.post(f"/api/v1/workspaces/{world.workspace_id}/posts",
                        content=b" " * (MIB + 1), headers={"Content-Type": "application/json",
                                                          "Authorization": "Bearer x"})
        assert r.status_code == 413 and r.json()["title"] == "Request too large"

    def test_a_streamed_json_body_becomes_a_problem_not_a_parse_error(self, client, world):
        r = client.post(f"/api/v1/workspaces/{world.workspace_id}/posts",
                        content=_chunks(2 * MIB), headers={
                            "Content-Type": "application/json",
                            "Authorization": f"Bearer {_token('admin@acme.test')}"})
        assert r.status_code == 413

    def test_csv_import_over_five_mib(self, make_client, world):
        c = make_client("manager@acme.test")
        token = page_csrf(c, f"/w/{world.slug}/import")
        r = c.post(f"/w/{world.slug}/import", data={"csrf_token": token},
                   files={"file": ("big.csv", b"a" * (7 * MIB), "text/csv")},
                   headers={"Accept": "text/html"})
        assert r.status_code == 413 and "Request too large" in r.text

    def test_image_forms_follow_the_media_setting(self, make_client, world, monkeypatch):
        monkeypatch.setenv("POISE_MEDIA_MAX_BYTES", str(100 * 1024))
        get_settings.cache_clear()
        from fastapi.testclient import TestClient

        from planner.web.app import create_app
        with TestClient(create_app(), raise_server_exceptions=False) as c:
            r = c.post(f"/w/{world.slug}/posts", data={"text": "hi"},
                       files={"image": ("a.jpg", b"\xff" * (2 * MIB), "image/jpeg")})
        assert r.status_code == 413

    def test_a_small_body_passes(self, client):
        r = client.post("/hooks/no-such-workspace/shop", content=b"{}",
                        headers={"Content-Type": "application/json"})
        assert r.status_code != 413

    def test_limits(self):
        assert guards.body_limit("/hooks/a/shop", "application/json", 10) == MIB
        assert guards.body_limit("/w/a/import", "multipart/form-data; b=1", 10) == 6 * MIB
        assert guards.body_limit("/w/a/posts", "multipart/form-data; b=1", 10) == MIB + 10
        assert guards.body_limit("/api/v1/workspaces/1/posts", "application/json", 10) == MIB


class TestHeaders:
    @pytest.mark.parametrize("path", ["/login", "/healthz", "/static/css/app.css",
                                      "/media/1/missing.jpg", "/no-such-page"])
    def test_every_response_carries_them(self, client, path):
        r = client.get(path)
        csp = dict(d.strip().split(" ", 1) for d in r.headers["content-security-policy"]
                   .split(";"))
        assert csp["script-src"] == "'self'" and csp["frame-ancestors"] == "'none'"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["referrer-policy"] == "same-origin"

    def test_uploaded_media_is_not_sniffed(self, client):
        media = get_settings().media_dir / "1"
        media.mkdir(parents=True)
        (media / "x.jpg").write_bytes(b"<html><script>alert(1)</script>")
        r = client.get("/media/1/x.jpg")
        assert r.status_code == 200 and r.headers["x-content-type-options"] == "nosniff"

    def test_no_template_has_inline_script_or_handlers(self):
        import re

        from planner.web.render import TEMPLATE_DIR
        for path in TEMPLATE_DIR.rglob("*.html"):
            text = path.read_text()
            assert not re.search(r"<script(?![^>]*\bsrc=)", text), path
            assert not re.search(r"[^\w-]on[a-z]+\s*=", text), path
            assert "javascript:" not in text, path
