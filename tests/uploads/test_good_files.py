"""Real receipts are accepted, stored under a generated name, and always come back as a download that the
browser will not sniff, under a name Baoxiao makes (never the uploader's)."""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from reimbursement.models import Attachment
from tests.races.harness import client_for
from tests.reimbursement.factories import make_claim

pytestmark = pytest.mark.django_db

HOSTILE_NAME = "../../<img src=x onerror=alert(1)> evil receipt"


def image(kind: str) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buffer, kind)
    return buffer.getvalue()


def real_pdf() -> bytes:
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    page = canvas.Canvas(buffer)
    page.drawString(72, 720, "Invoice 24312000000012345678, 120.00 CNY")
    page.save()
    return buffer.getvalue()


def real_ofd() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "OFD.xml", "<?xml version='1.0' encoding='UTF-8'?><ofd:OFD xmlns:ofd='http://www.ofdspec.org/2016'/>"
        )
        archive.writestr("Doc_0/Document.xml", "<ofd:Document xmlns:ofd='http://www.ofdspec.org/2016'/>")
    return buffer.getvalue()


GOOD = [
    (".jpg", lambda: image("JPEG"), "image/jpeg"),
    (".png", lambda: image("PNG"), "image/png"),
    (".webp", lambda: image("WEBP"), "image/webp"),
    (".pdf", real_pdf, "application/pdf"),
    (".ofd", real_ofd, "application/ofd"),
    (".xml", lambda: "<?xml version='1.0' encoding='UTF-8'?><发票><号码>1</号码></发票>".encode(), "application/xml"),
]


@pytest.fixture
def owner(demo_company, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    zhang = demo_company["zhangwei"]
    return zhang, make_claim(zhang).lines.get(), tmp_path


def test_real_receipts_are_accepted_stored_under_generated_names_and_downloaded_safely(owner, client):
    zhang, line, root = owner
    api = client_for(zhang.user)
    client.force_login(zhang.user)
    base = f"/api/v1/claims/{line.claim_id}/lines/{line.pk}/attachments/"
    for extension, make, content_type in GOOD:
        data = make()
        response = api.post(base, {"file": SimpleUploadedFile(HOSTILE_NAME + extension, data)}, format="multipart")
        assert response.status_code == 201, (extension, response.content)
        attachment = Attachment.objects.get(pk=response.json()["id"])
        assert attachment.content_type == content_type
        # Stored under receipts/YYYY/MM/<uuid><ext>: nothing of the uploaded name reaches the disk.
        assert re.fullmatch(rf"receipts/\d{{4}}/\d{{2}}/{attachment.uuid.hex}\{extension}", attachment.file.name)
        assert (root / attachment.file.name).read_bytes() == data
        for url in (f"{base}{attachment.pk}/download/", f"/claims/attachments/{attachment.pk}/"):
            download = (api if url.startswith("/api/") else client).get(url)
            assert download.status_code == 200, url
            disposition = download["Content-Disposition"]
            assert disposition.startswith("attachment;"), disposition
            assert "evil" not in disposition and "<" not in disposition and ".." not in disposition
            assert re.search(rf'filename="[\w-]+\{extension}"', disposition), disposition
            assert download["X-Content-Type-Options"] == "nosniff"
            assert download["Content-Type"] == content_type
            assert b"".join(download.streaming_content) == data
    assert Attachment.objects.filter(line=line).count() == len(GOOD)


def test_only_an_image_preview_is_inline_and_a_pdf_stays_a_download(owner, client):
    zhang, line, _root = owner
    api = client_for(zhang.user)
    client.force_login(zhang.user)
    base = f"/api/v1/claims/{line.claim_id}/lines/{line.pk}/attachments/"
    png = api.post(base, {"file": SimpleUploadedFile("a.png", image("PNG"))}, format="multipart").json()["id"]
    pdf = api.post(base, {"file": SimpleUploadedFile("a.pdf", real_pdf())}, format="multipart").json()["id"]
    preview = client.get(f"/claims/attachments/{png}/?preview=1")
    assert preview["Content-Disposition"].startswith("inline") and preview["X-Content-Type-Options"] == "nosniff"
    assert client.get(f"/claims/attachments/{pdf}/?preview=1")["Content-Disposition"].startswith("attachment;")
