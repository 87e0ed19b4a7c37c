"""Contract tests: the adapters against the request and response examples of the platforms'
own documentation (fixtures in ``contracts/``, each with its source URL), not against our
fake. The adapter's request must have the documented shape; it must parse the documented
answers and classify the documented error bodies.

The documented answers are served by a tiny loopback server (real HTTP), so the adapter's
whole path runs: headers, body, status and parsing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from cannedserver import Canned, load

from publishers import base, x
from publishers.base import AccountRef, Content, MediaFile, PublishContext
from publishers.linkedin import LinkedInPublisher, _version_problem
from publishers.x import XPublisher


@pytest.fixture
def canned() -> Iterator[Canned]:
    server = Canned()
    yield server
    server.close()


def ctx() -> PublishContext:
    return PublishContext(idempotency_key="k", fingerprint="f", timeout_seconds=5)


# --- X ---------------------------------------------------------------------------------------

class TestXContract:
    def test_create_post_request_and_response(self, canned: Canned, jpeg: Path) -> None:
        doc = load("x_create_post.json")
        canned.answers[("POST", "/2/tweets")] = (doc["response"]["status"],
                                                 doc["response"]["body"], {})
        canned.answers[("POST", "/2/media/upload")] = (200, {"data": {
            "id": "1455952740635586573", "media_key": "3_1455952740635586573"}}, {})
        account = AccountRef("x", "poise", canned.base, {"access_token": "t"}, "1")
        content = Content(text="Hello World!",
                          media=(MediaFile(str(jpeg), "image/jpeg"),))
        result = XPublisher().publish(content, account, ctx())
        assert result.remote_id == doc["response"]["body"]["data"]["id"]
        [sent] = [json.loads(raw) for method, path, _, raw in canned.seen
                  if path == "/2/tweets"]
        documented = doc["request"]["body"]
        assert sent["text"] == documented["text"]
        assert sent["media"] == documented["media"]
        assert set(sent) <= {"text", "media", "direct_message_deep_link"}

    @pytest.mark.parametrize("case", load("x_errors.json")["cases"],
                             ids=lambda case: case["name"])
    def test_documented_errors_are_classified(self, case: dict[str, Any]) -> None:
        resp = requests.Response()
        resp.status_code = case["status"]
        resp._content = json.dumps(case["body"]).encode()
        error = x.error_for(resp, creates=True, duplicate_means="rejected")
        assert type(error).__name__ == case["outcome"], error.reason


# --- LinkedIn --------------------------------------------------------------------------------

class TestLinkedInContract:
    def test_create_text_post_request_and_response(self, canned: Canned) -> None:
        doc = load("linkedin_posts.json")["create_text"]
        canned.answers[("POST", "/rest/images")] = (200, load("linkedin_posts.json")[
            "initialize_upload"]["response"], {})
        canned.answers[("POST", "/rest/posts")] = (doc["response"]["status"], None,
                                                   doc["response"]["headers"])
        account = AccountRef("linkedin", "poise", canned.base, {"access_token": "t"},
                             "urn:li:organization:5515715")
        result = LinkedInPublisher().publish(Content(text="Sample text Post"), account, ctx())
        assert result.remote_id == doc["response"]["headers"]["x-restli-id"]
        [(_, _, headers, raw)] = [s for s in canned.seen if s[1] == "/rest/posts"]
        assert json.loads(raw) == doc["body"]
        assert headers["x-restli-protocol-version"] == "2.0.0"
        assert len(headers["linkedin-version"]) == 6 and headers["linkedin-version"].isdigit()

    def test_image_post_follows_the_images_api(self, canned: Canned, jpeg: Path) -> None:
        doc = load("linkedin_posts.json")
        init = doc["initialize_upload"]["response"]
        # The documented upload URL points at linkedin.com; ours serves it on loopback.
        upload_path = "/dms-uploads/C4E10AQFoyyAjHPMQuQ/uploaded-image/0"
        answer = {"value": {**init["value"], "uploadUrl": canned.base + upload_path}}
        canned.answers[("POST", "/rest/images")] = (200, answer, {})
        canned.answers[("PUT", upload_path)] = (201, None, {})
        canned.answers[("POST", "/rest/posts")] = (201, None, {
            "x-restli-id": "urn:li:share:6844785523593134080"})
        account = AccountRef("linkedin", "poise", canned.base, {"access_token": "t"},
                             "urn:li:organization:2414183")
        LinkedInPublisher().publish(Content(text="pic", media=(
            MediaFile(str(jpeg), "image/jpeg", alt_text="testing for alt tags"),)), account, ctx())
        init_body = json.loads(next(s[3] for s in canned.seen if s[1].startswith("/rest/images")))
        assert init_body == {"initializeUploadRequest": {"owner": "urn:li:organization:2414183"}}
        assert any(s[0] == "PUT" and s[1] == upload_path for s in canned.seen)
        post = json.loads(next(s[3] for s in canned.seen if s[1] == "/rest/posts"))
        documented = doc["create_image"]["content"]
        assert post["content"] == {"media": {**documented["media"],
                                             "id": init["value"]["image"]}}

    @pytest.mark.parametrize("case", load("linkedin_posts.json")["errors"],
                             ids=lambda case: case["name"])
    def test_documented_errors_are_classified(self, canned: Canned,
                                              case: dict[str, Any]) -> None:
        canned.answers[("POST", "/rest/posts")] = (case["status"], case["body"], {})
        account = AccountRef("linkedin", "poise", canned.base, {"access_token": "t"},
                             "urn:li:person:abc")
        outcome = getattr(base, case["outcome"])
        with pytest.raises(outcome):
            LinkedInPublisher().publish(Content(text="x"), account, ctx())

    def test_a_426_names_the_setting(self) -> None:
        resp = requests.Response()
        resp.status_code = 426
        resp._content = json.dumps({"status": 426, "code": "NONEXISTENT_VERSION",
                                    "message": "Requested version 20240901 is not active"}
                                   ).encode()
        held = _version_problem(resp, "202409")
        assert held is not None and "POISE_LINKEDIN_VERSION" in held.reason

