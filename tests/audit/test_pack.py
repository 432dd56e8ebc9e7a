"""The auditor's pack of a claim: a PDF (the claim, its approvals and audit timeline, then every receipt) and a
ZIP of the original files with their SHA-256, each download audited; and the audit timeline on the detail page."""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image
from pypdf import PdfReader

from audit.models import AuditEvent
from audit.pack import PackFile, archive_names, sanitise_name
from reimbursement import services
from reimbursement.auditor import auditor_grant
from reimbursement.models import Attachment, Claim
from tests.finance.conftest import approve
from tests.reimbursement.factories import make_claim, submit

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.BAOXIAO_OUTBOX_DELIVER_ON_COMMIT = False


def receipt_pdf(name: str, pages: int) -> SimpleUploadedFile:
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    page = canvas.Canvas(buffer)
    for n in range(1, pages + 1):
        page.drawString(72, 720, f"TAXI-RECEIPT-PAGE-{n}")
        page.showPage()
    page.save()
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="application/pdf")


def receipt_image(name: str, kind: str) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (400, 300), (200, 40, 40)).save(buffer, format=kind)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type=f"image/{kind.lower()}")


@pytest.fixture
def claim(people) -> Claim:
    """Zhang Wei's approved claim: line 1 with a two-page PDF and a PNG, line 2 with a JPEG."""
    zhangwei = people["zhangwei"]
    claim = make_claim(zhangwei, lines=2)
    first, second = claim.lines.order_by("position")
    for line, upload in (
        (first, receipt_pdf("../出租车 发票?.pdf", 2)),
        (first, receipt_image("photo.png", "PNG")),
        (second, receipt_image("scan.jpg", "JPEG")),
    ):
        services.attachment_add(line_id=line.pk, actor=zhangwei.user, upload=upload)
    return approve(submit(claim))


def download(client, user, claim, kind):
    client.force_login(user)
    return client.post(reverse(f"reimbursement:pack_{kind}", args=[claim.pk]))


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_the_pdf_has_the_claim_pages_then_every_receipt_page(client, people, claim):
    response = download(client, people["auditor"].user, claim, "pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert f"{claim.number}-audit-pack.pdf" in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    reader = PdfReader(io.BytesIO(body(response)))
    texts = [page.extract_text() for page in reader.pages]
    receipts = 2 + 1 + 1  # the PDF's two pages, the PNG, the JPEG
    summary = len(reader.pages) - receipts
    assert summary >= 1
    assert claim.number in texts[0]
    summary_text = "\n".join(texts[:summary])
    assert "Audit timeline" in summary_text and "Approvals" in summary_text and "Expenses" in summary_text
    # Receipts in line order, each where it belongs.
    assert "TAXI-RECEIPT-PAGE-1" in texts[summary] and "TAXI-RECEIPT-PAGE-2" in texts[summary + 1]
    assert "photo.png" in texts[summary + 2] and reader.pages[summary + 2].images
    assert "scan.jpg" in texts[summary + 3] and reader.pages[summary + 3].images


def test_the_zip_has_the_original_files_under_safe_names_and_their_hashes(client, people, claim):
    response = download(client, people["sunli"].user, claim, "zip")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    archive = zipfile.ZipFile(io.BytesIO(body(response)))
    names = archive.namelist()
    assert names == ["Line 1/出租车 发票_.pdf", "Line 1/photo.png", "Line 2/scan.jpg", "manifest.csv"]
    manifest = list(csv.DictReader(io.StringIO(archive.read("manifest.csv").decode("utf-8-sig"))))
    stored = {a.original_name: a.sha256 for a in Attachment.objects.filter(line__claim=claim)}
    assert len(manifest) == 3
    for row in manifest:
        data = archive.read(row["file"])
        assert row["sha256"] == hashlib.sha256(data).hexdigest() == stored[row["original_name"]]
        assert int(row["size"]) == len(data)


def test_each_download_is_an_audit_event_and_shows_on_the_timeline(client, people, claim):
    auditor = people["auditor"].user
    body(download(client, auditor, claim, "pdf"))
    zipped = body(download(client, auditor, claim, "zip"))
    events = list(AuditEvent.objects.filter(action="claim.pack_downloaded", target_id=str(claim.pk)).order_by("id"))
    assert [e.data["format"] for e in events] == ["pdf", "zip"]
    assert all(e.actor_id == auditor.pk for e in events)
    assert events[0].data["files"] == 3 and events[0].data["not_merged"] == []
    assert events[1].data["sha256"] == hashlib.sha256(zipped).hexdigest()
    html = client.get(reverse("reimbursement:detail", args=[claim.pk])).content.decode()
    timeline = html[html.index('data-testid="timeline"') :]
    assert "Audit pack downloaded" in timeline and "Approved" in timeline and "Submitted" in timeline


def test_who_may_download(client, people, claim):
    # The claimant and other employees: no pack (404), and no button.
    claimant = people["zhangwei"].user
    assert download(client, claimant, claim, "pdf").status_code == 404
    assert (
        'data-testid="audit-pack"' not in client.get(reverse("reimbursement:detail", args=[claim.pk])).content.decode()
    )
    # An auditor limited to another department: the claim does not exist for them.
    auditor = people["auditor"].user
    auditor_grant(user=auditor, departments=[people["heming"].department])
    assert download(client, auditor, claim, "zip").status_code == 404
    # Finance and administrators may; a GET is refused (the download writes to the audit trail).
    assert download(client, people["sunli"].user, claim, "zip").status_code == 200
    assert 'data-testid="audit-pack"' in client.get(reverse("reimbursement:detail", args=[claim.pk])).content.decode()
    assert client.get(reverse("reimbursement:pack_pdf", args=[claim.pk])).status_code == 405
    assert download(client, people["admin"].user, claim, "pdf").status_code == 404  # admins see what they see
    assert AuditEvent.objects.filter(action="claim.pack_downloaded").count() == 1


def test_a_file_the_pdf_cannot_show_gets_a_page_saying_it_is_in_the_zip(client, people):
    zhangwei = people["zhangwei"]
    claim = make_claim(zhangwei, lines=1)
    xml = SimpleUploadedFile("invoice.xml", b"<?xml version='1.0'?><Invoice><No>42</No></Invoice>")
    services.attachment_add(line_id=claim.lines.get().pk, actor=zhangwei.user, upload=xml)
    claim = submit(claim)
    reader = PdfReader(io.BytesIO(body(download(client, people["sunli"].user, claim, "pdf"))))
    assert "It is in the ZIP of original files" in reader.pages[-1].extract_text()
    event = AuditEvent.objects.get(action="claim.pack_downloaded")
    assert event.data["not_merged"] == ["invoice.xml"]


@pytest.mark.parametrize("lines", [1, 10])
def test_the_detail_with_its_timeline_runs_a_fixed_number_of_queries(
    client, people, django_assert_max_num_queries, lines
):
    claim = approve(submit(make_claim(people["zhangwei"], lines=lines)))
    client.force_login(people["auditor"].user)
    client.get(reverse("reimbursement:detail", args=[claim.pk]))  # content types cached, as in a running server
    # The layout, the claim with lines, files and warnings, then the timeline: events, changes, and the
    # names of the departments and categories they mention. None per line or per event.
    with django_assert_max_num_queries(16):
        response = client.get(reverse("reimbursement:detail", args=[claim.pk]))
    assert response.content.decode().count('data-testid="line-row"') == lines


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\发票 1.pdf", "发票 1.pdf"),
        ("a<b>c:d|e?.png", "a_b_c_d_e_.png"),
        ("...", "file"),
        (".hidden.jpg", "hidden.jpg"),
        ("x" * 300 + ".pdf", "x" * 96 + ".pdf"),
        ("bad\x00name\n.pdf", "bad_name_.pdf"),
    ],
)
def test_names_are_sanitised(given, expected):
    assert sanitise_name(given) == expected


def test_archive_names_are_unique_whatever_the_case():
    def item(name):
        return PackFile(name=name, content_type="image/png", open=io.BytesIO, section="Line 1")

    assert archive_names([item("a.png"), item("A.png"), item("a.png")]) == [
        "Line 1/a.png",
        "Line 1/A-2.png",
        "Line 1/a-3.png",
    ]
