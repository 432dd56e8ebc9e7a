"""Every file of the hostile corpus (tests/uploads/make_corpus.py) is refused with a 400 and a message a
person can act on, through the API and through the upload form, and leaves no row and no file behind."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation
from django.utils.html import escape

from config.errors import ApplicationError
from reimbursement import services
from reimbursement.models import Attachment
from tests.races.harness import client_for
from tests.reimbursement.factories import make_claim
from tests.uploads.make_corpus import corpus

pytestmark = pytest.mark.django_db

CORPUS = corpus()


def test_the_corpus_has_at_least_thirty_distinct_hostile_files():
    assert len(CORPUS) >= 30
    assert len({name for name, _data, _message in CORPUS}) == len(CORPUS)


@pytest.fixture
def place(demo_company, settings, tmp_path):
    """A claim line of zhangwei's to upload to; files go to an empty media directory; 1 MB limit."""
    settings.MEDIA_ROOT = tmp_path
    settings.BAOXIAO_MAX_UPLOAD_MB = 1
    zhang = demo_company["zhangwei"]
    line = make_claim(zhang).lines.get()
    return zhang, line, tmp_path


def stored_files(root) -> list:
    return [p for p in root.rglob("*") if p.is_file()]


def check_nothing_stored(root) -> None:
    assert not Attachment.objects.exists()
    assert stored_files(root) == []


def test_the_service_refuses_every_hostile_file(place):
    zhang, line, root = place
    wrong = []
    with translation.override("en"):
        for name, data, message in CORPUS:
            try:
                services.attachment_add(line_id=line.pk, actor=zhang.user, upload=SimpleUploadedFile(name, data))
            except ApplicationError as exc:
                if exc.status != 400 or message not in exc.message or not exc.fields.get("file"):
                    wrong.append((name, exc.status, exc.message))
            else:
                wrong.append((name, "accepted", ""))
    assert wrong == []
    check_nothing_stored(root)


def test_the_api_answers_400_with_the_reason_for_every_hostile_file(place):
    zhang, line, root = place
    client = client_for(zhang.user)
    url = f"/api/v1/claims/{line.claim_id}/lines/{line.pk}/attachments/"
    wrong = []
    for name, data, message in CORPUS:
        response = client.post(
            url, {"file": SimpleUploadedFile(name, data)}, format="multipart", HTTP_ACCEPT_LANGUAGE="en"
        )
        error = response.json().get("error", {}) if response.status_code < 500 else {}
        # The reason is in the message, or for the file field (DRF's own check of an empty file).
        reasons = " ".join([error.get("message", ""), *error.get("fields", {}).get("file", [])])
        if response.status_code != 400 or message not in reasons:
            wrong.append((name, response.status_code, error))
    assert wrong == []
    check_nothing_stored(root)


def test_the_upload_form_shows_the_reason_for_every_hostile_file(place, client):
    zhang, line, root = place
    client.force_login(zhang.user)
    url = f"/claims/{line.claim_id}/lines/{line.pk}/files/"
    wrong = []
    for name, data, message in CORPUS:
        response = client.post(
            url, {"file": SimpleUploadedFile(name, data)}, HTTP_HX_REQUEST="true", HTTP_ACCEPT_LANGUAGE="en"
        )
        # The message is HTML-escaped in the page; compare with the escaped fragment.
        if response.status_code != 400 or escape(message) not in response.content.decode():
            wrong.append((name, response.status_code))
    assert wrong == []
    check_nothing_stored(root)


def test_writing_the_corpus_to_a_directory(tmp_path):
    from tests.uploads.make_corpus import main

    main(str(tmp_path / "corpus"))
    assert len(list((tmp_path / "corpus").iterdir())) == len(CORPUS)
