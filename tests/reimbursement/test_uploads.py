"""Receipts are checked by content: wrong bytes, active content and archives are refused, nothing left behind."""

import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from config.errors import ApplicationError
from reimbursement import services
from reimbursement.models import Attachment
from reimbursement.uploads import check_upload, clean_name
from tests.reimbursement.factories import PNG_HEADER, make_claim, pdf, png

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


ACCEPTED = [
    ("photo.jpg", JPEG, "image/jpeg"),
    ("scan.PNG", PNG_HEADER, "image/png"),
    ("invoice.pdf", b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF", "application/pdf"),
    (
        "invoice.ofd",
        zip_bytes({"OFD.xml": b"<?xml version='1.0'?><ofd:OFD/>", "Doc_0/Document.xml": b"<a/>"}),
        "application/ofd",
    ),
    ("invoice.xml", b"<?xml version='1.0' encoding='UTF-8'?><Invoice><No>1</No></Invoice>", "application/xml"),
]

REFUSED = [
    ("png-named-pdf.pdf", PNG_HEADER, "does not contain what its name says"),
    ("text.jpg", b"hello world", "does not contain what its name says"),
    ("drawing.svg", b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "only JPEG"),
    ("page.html", b"<html><script>alert(1)</script></html>", "only JPEG"),
    ("script.js", b"alert(1)", "only JPEG"),
    ("archive.zip", zip_bytes({"a.txt": b"x"}), "only JPEG"),
    ("zip-named-ofd.ofd", zip_bytes({"a.txt": b"x"}), "does not contain what its name says"),
    ("invoice.xml", b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>", "markup or script"),
    ("invoice.xml", b"<?xml version='1.0'?><svg><script>alert(1)</script></svg>", "markup or script"),
    ("invoice.xml", b"<?xml version='1.0'?><unclosed>", "not well-formed"),
    ("polyglot.png", PNG_HEADER + b"<script>alert(1)</script>", "markup or script"),
    ("active.pdf", b"%PDF-1.7\n<< /OpenAction << /S /JavaScript /JS (app.alert(1)) >> >>", "scripts"),
    ("eicar.pdf", rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*", "does not contain"),
    ("empty.png", b"", "is empty"),
    ("noextension", PNG_HEADER, "only JPEG"),
]


@pytest.mark.parametrize("name,data,content_type", ACCEPTED)
def test_real_receipts_are_accepted_and_identified_by_content(name, data, content_type):
    checked = check_upload(SimpleUploadedFile(name, data))
    assert checked.content_type == content_type
    assert checked.size == len(data) and len(checked.sha256) == 64


@pytest.mark.parametrize("name,data,message", REFUSED)
def test_hostile_or_wrong_files_are_refused_with_a_message(name, data, message):
    with pytest.raises(ApplicationError) as error:
        check_upload(SimpleUploadedFile(name, data))
    assert message in error.value.message
    assert error.value.fields["file"]


def test_files_over_the_limit_are_refused(settings):
    settings.BAOXIAO_MAX_UPLOAD_MB = 1
    with pytest.raises(ApplicationError, match="larger than 1 MB"):
        check_upload(SimpleUploadedFile("big.png", PNG_HEADER + b"\0" * (1024 * 1024)))


def test_a_zip_bomb_named_ofd_is_refused_without_unpacking(settings):
    members = {"OFD.xml": b"<a/>", **{f"f{i}": b"" for i in range(3000)}}
    with pytest.raises(ApplicationError):
        check_upload(SimpleUploadedFile("bomb.ofd", zip_bytes(members)))


@pytest.mark.parametrize(
    "raw,clean",
    [("../../etc/passwd.png", "passwd.png"), ("C:\\x\\y.pdf", "y.pdf"), ("a\x00b.png", "ab.png"), ("..", "file")],
)
def test_path_traversal_names_keep_only_a_harmless_base_name(raw, clean):
    assert clean_name(raw) == clean


@pytest.mark.django_db
def test_a_refused_upload_leaves_no_row_and_no_file(demo_company, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    zhang = demo_company["zhangwei"]
    line = make_claim(zhang).lines.get()
    with pytest.raises(ApplicationError):
        services.attachment_add(line_id=line.pk, actor=zhang.user, upload=SimpleUploadedFile("x.pdf", PNG_HEADER))
    assert not Attachment.objects.exists()
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


@pytest.mark.django_db
def test_an_upload_to_someone_elses_line_leaves_no_file(demo_company, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    line = make_claim(demo_company["zhangwei"]).lines.get()
    with pytest.raises(ApplicationError):
        services.attachment_add(line_id=line.pk, actor=demo_company["lina"].user, upload=png(3))
    assert not Attachment.objects.exists()
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


@pytest.mark.django_db
def test_accepted_files_are_stored_under_a_generated_name(demo_company, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    zhang = demo_company["zhangwei"]
    line = make_claim(zhang).lines.get()
    attachment = services.attachment_add(line_id=line.pk, actor=zhang.user, upload=pdf("../../evil name.pdf"))
    assert attachment.original_name == "evil name.pdf"
    assert "evil" not in attachment.file.name and attachment.file.name.endswith(f"{attachment.uuid.hex}.pdf")
    assert (tmp_path / attachment.file.name).read_bytes().startswith(b"%PDF-")
