# ruff: noqa: E501 - one hostile file per line reads better than wrapped byte strings
"""The hostile upload corpus: files that must all be refused, each with the words its refusal must say.

Generated, not committed, so that no antivirus, archive scanner or browser on a developer's machine trips
over the files in the repository. ``python -m tests.uploads.make_corpus DIR`` writes them into DIR (for a
look at them, or to feed them to a running instance); the tests build them in a temporary directory.
Each entry: (file name as uploaded, bytes, a fragment of the refusal message).
"""

from __future__ import annotations

import io
import sys
import zipfile
import zlib
from pathlib import Path

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64 + b"\xff\xd9"
GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
WEBP = b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00/\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00"
PDF = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
EOF_ = b"trailer\n<< /Root 1 0 R >>\n%%EOF\n"
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
SCRIPT = b"<script>alert(document.domain)</script>"

# Refusal messages (English), by kind.
TYPE = "only JPEG, PNG, WebP, PDF, OFD and XML"
MISMATCH = "does not contain what its name says"
MARKUP = "contains markup or script"
PDF_ACTIVE = "contains scripts or embedded files"
ARCHIVE = "hides another file"
TRUNCATED = "incomplete"
EMPTY = "is empty"
LARGE = "is larger than"
MALWARE = "antivirus test signature"
PIXELS = "too many pixels"


def zipped(members: dict[str, bytes], method: int = zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def ofd(extra: dict[str, bytes] | None = None) -> bytes:
    return zipped({"OFD.xml": b"<?xml version='1.0'?><ofd:OFD/>", "Doc_0/Document.xml": b"<a/>", **(extra or {})})


def deep_zip_bomb() -> bytes:
    """One member that inflates from ~200 KB to 210 MB: above what an OFD may unpack to."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("OFD.xml", b"<a/>")
        with archive.open("Doc_0/bomb.xml", "w", force_zip64=True) as member:
            block = b"\0" * (1024 * 1024)
            for _ in range(210):
                member.write(block)
    return buffer.getvalue()


def flate_stream(body: bytes) -> bytes:
    data = zlib.compress(body)
    return b"4 0 obj\n<< /Type /ObjStm /Filter /FlateDecode /Length %d >>\nstream\n%s\nendstream\nendobj\n" % (
        len(data),
        data,
    )


def png_of_size(width: int, height: int) -> bytes:
    """A PNG header claiming a huge canvas (a pixel bomb for whoever decodes it)."""
    ihdr = b"IHDR" + width.to_bytes(4, "big") + height.to_bytes(4, "big") + b"\x08\x02\x00\x00\x00"
    chunk = len(ihdr[4:]).to_bytes(4, "big") + ihdr + zlib.crc32(ihdr).to_bytes(4, "big")
    idat = b"IDAT" + zlib.compress(b"\0" * 1024)
    idat_chunk = len(idat[4:]).to_bytes(4, "big") + idat + zlib.crc32(idat).to_bytes(4, "big")
    return b"\x89PNG\r\n\x1a\n" + chunk + idat_chunk + b"\x00\x00\x00\x00IEND\xaeB`\x82"


def corpus() -> list[tuple[str, bytes, str]]:
    return [
        # Wrong magic bytes: the name says one thing, the bytes another.
        ("png-called-pdf.pdf", PNG, MISMATCH),
        ("text-called-jpg.jpg", b"hello, I am not a photo", MISMATCH),
        ("gif-called-jpg.jpg", GIF, MISMATCH),
        ("webp-called-png.png", WEBP, MISMATCH),
        ("html-called-pdf.pdf", b"<html><body>" + SCRIPT + b"</body></html>", MISMATCH),
        ("svg-called-png.png", b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>", MISMATCH),
        ("utf16-xml.xml", "<?xml version='1.0' encoding='UTF-16'?><a><script/></a>".encode("utf-16"), MISMATCH),
        ("plain-zip-called-ofd.ofd", zipped({"a.txt": b"x"}), MISMATCH),
        # Types that are never accepted, whatever their content.
        ("image.gif", GIF, TYPE),
        ("drawing.svg", b"<svg xmlns='http://www.w3.org/2000/svg'>" + SCRIPT + b"</svg>", TYPE),
        ("page.html", b"<!DOCTYPE html><html>" + SCRIPT + b"</html>", TYPE),
        ("archive.zip", zipped({"a.txt": b"x"}), TYPE),
        ("eicar.com", EICAR, TYPE),
        ("no-extension", PNG, TYPE),
        # Polyglots: valid at the start, something else inside or at the end.
        (
            "gifar.jpg",
            JPEG + zipped({"META-INF/MANIFEST.MF": b"Manifest-Version: 1.0\n", "A.class": b"\xca\xfe"}),
            ARCHIVE,
        ),
        ("jpeg-with-zip.jpg", JPEG + zipped({"payload.exe": b"MZ\x90\x00"}), ARCHIVE),
        ("png-with-zip.png", PNG + zipped({"x.txt": b"x"}), ARCHIVE),
        ("pdf-with-zip.pdf", PDF + EOF_ + zipped({"x.js": b"alert(1)"}) + b"\n%%EOF\n", ARCHIVE),
        ("pdf-html.pdf", PDF + b"<html><body>" + SCRIPT + b"</body></html>\n" + EOF_, MARKUP),
        ("png-with-script.png", PNG + SCRIPT, MARKUP),
        ("jpeg-comment-script.jpg", b"\xff\xd8\xff\xfe\x00\x30" + SCRIPT + b"\xff\xd9", MARKUP),
        # Markup and XML tricks.
        ("xxe.xml", b"<?xml version='1.0'?><!DOCTYPE r [<!ENTITY x SYSTEM 'file:///etc/passwd'>]><r>&x;</r>", MARKUP),
        ("external-dtd.xml", b"<?xml version='1.0'?><!DOCTYPE r SYSTEM 'http://127.0.0.1:9/evil.dtd'><r/>", MARKUP),
        (
            "billion-laughs.xml",
            b"<?xml version='1.0'?><!DOCTYPE l [<!ENTITY a 'ha'><!ENTITY b '&a;&a;&a;&a;&a;&a;'>]><l>&b;</l>",
            MARKUP,
        ),
        (
            "xinclude.xml",
            b"<?xml version='1.0'?><r xmlns:xi='http://www.w3.org/2001/XInclude'><xi:include href='file:///etc/passwd'/></r>",
            MARKUP,
        ),
        (
            "stylesheet.xml",
            b"<?xml version='1.0'?><?xml-stylesheet type='text/xsl' href='http://127.0.0.1:9/x.xsl'?><r/>",
            MARKUP,
        ),
        ("xml-with-script.xml", b"<?xml version='1.0'?><r><script>alert(1)</script></r>", MARKUP),
        ("javascript-url.xml", b"<?xml version='1.0'?><r href='javascript:alert(1)'/>", MARKUP),
        # PDFs that act when opened.
        ("open-action-js.pdf", PDF + b"<< /OpenAction << /S /JavaScript /JS (app.alert(1)) >> >>\n" + EOF_, PDF_ACTIVE),
        ("launch.pdf", PDF + b"<< /OpenAction << /S /Launch /F (cmd.exe) >> >>\n" + EOF_, PDF_ACTIVE),
        (
            "hex-escaped-js.pdf",
            PDF + b"<< /OpenAction << /S /J#61vaScript /J#53 (app.alert(1)) >> >>\n" + EOF_,
            PDF_ACTIVE,
        ),
        (
            "embedded-file.pdf",
            PDF + b"<< /Type /EmbeddedFile /Length 3 >>\nstream\nabc\nendstream\n" + EOF_,
            PDF_ACTIVE,
        ),
        ("js-in-object-stream.pdf", PDF + flate_stream(b"<< /S /JavaScript /JS (app.alert(1)) >>") + EOF_, PDF_ACTIVE),
        ("truncated.pdf", PDF + b"2 0 obj\n<< /Type /Pages /Kids [3 0 R", TRUNCATED),
        ("eicar-in-pdf.pdf", PDF + EICAR + b"\n" + EOF_, MALWARE),
        ("eicar-called-pdf.pdf", EICAR, MISMATCH),
        # Archives posing as OFD invoices.
        ("many-members.ofd", ofd({f"f{i}": b"" for i in range(2100)}), MISMATCH),
        ("deep-bomb.ofd", deep_zip_bomb(), MISMATCH),
        ("traversal-member.ofd", ofd({"../../evil.sh": b"rm -rf /"}), MISMATCH),
        ("absolute-member.ofd", ofd({"/etc/cron.d/evil": b"* * * * * root sh"}), MISMATCH),
        # Names: traversal, NUL, right-to-left override, double extensions; empty and oversized files.
        ("../../../etc/cron.d/evil.sh", b"#!/bin/sh\n", TYPE),
        ("receipt.png\x00.php", PNG, TYPE),
        ("receipt\u202egnp.exe", PNG, TYPE),
        ("invoice.pdf.exe", b"MZ\x90\x00", TYPE),
        ("invoice.pdf.html", b"<html>" + SCRIPT + b"</html>", TYPE),
        ("empty.pdf", b"", EMPTY),
        ("pixel-bomb.png", png_of_size(60000, 60000), PIXELS),
        ("oversized.pdf", PDF + b"0" * (1024 * 1024 + 1) + EOF_, LARGE),  # tests set the limit to 1 MB
    ]


def main(directory: str) -> None:
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    for index, (name, data, _expected) in enumerate(corpus()):
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name).lstrip(".")
        (target / f"{index:02d}-{safe}").write_bytes(data)
    print(f"{len(corpus())} files written to {target}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/uploads/corpus")
