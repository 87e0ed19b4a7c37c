"""Helpers for tests that drive the web app through its forms."""

import re

from fastapi.testclient import TestClient

PASSWORD = "correct horse battery"


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)


def login(client: TestClient, email: str, password: str = PASSWORD) -> TestClient:
    token = csrf_from(client.get("/login").text)
    response = client.post("/login", data={"email": email, "password": password,
                                           "csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return client


def page_csrf(client: TestClient, path: str) -> str:
    return csrf_from(client.get(path).text)
