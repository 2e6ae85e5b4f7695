"""A compiled version of a book as a file a writer takes away: EPUB, DOCX, PDF, Markdown, plain text.

Each format is made by a maintained tool, never by hand: EPUB 3 by pandoc (the binary from the
`pypandoc-binary` wheel, run as its own process), the manuscript DOCX by `python-docx`, the print
PDF by Typst (the `typst` wheel, its own fonts embedded). Rendering is CPU work: callers run it in
a thread.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from pathlib import Path

import pypandoc
import typst
from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Inches, Pt

from .compiler import CompiledChapterText

_PARAGRAPHS = re.compile(r"\n\s*\n")
# A line of its own made of `#`, `*` or `~` (with spaces): a scene break in the writer's text.
_SCENE_BREAK = re.compile(r"^\s*(?:[#*~]\s*){1,5}$")
TYPST_TEMPLATE = Path(__file__).with_name("book.typ")


@dataclass(frozen=True)
class Manuscript:
    """What every format is made from: one compiled version and the book's metadata at that compile."""

    book_id: str
    compiled_id: str  # the version's own id: the EPUB's unique identifier
    version: int
    title: str
    created_at: datetime
    chapters: list[CompiledChapterText]
    subtitle: str | None = None
    author: str | None = None
    language: str | None = None
    dedication: str | None = None
    front_matter: str | None = None
    back_matter: str | None = None
    contact: str | None = None

    @property
    def lang(self) -> str:
        return self.language or "en"

    @property
    def words(self) -> int:
        return sum(c.word_count for c in self.chapters)

    def heading(self, chapter: CompiledChapterText) -> str:
        """`Chapter 3: The Ledger`, or `Chapter 3` when the title says no more."""
        plain = f"Chapter {chapter.chapter}"
        return plain if chapter.title.strip() in ("", plain) else f"{plain}: {chapter.title}"


def paragraphs(text: str) -> list[str]:
    return [p.strip() for p in _PARAGRAPHS.split(text) if p.strip()]


def is_scene_break(paragraph: str) -> bool:
    return _SCENE_BREAK.match(paragraph) is not None


# Markdown and text -----------------------------------------------------------------------------


def markdown(book: Manuscript) -> bytes:
    parts = [f"# {book.title}"]
    if book.subtitle:
        parts.append(f"*{book.subtitle}*")
    if book.author:
        parts.append(f"by {book.author}")
    if book.dedication:
        parts += ["## Dedication", book.dedication]
    if book.front_matter:
        parts.append(book.front_matter.strip())
    for chapter in book.chapters:
        parts += [f"## {book.heading(chapter)}", *["* * *" if is_scene_break(p) else p for p in paragraphs(chapter.text)]]
    if book.back_matter:
        parts.append(book.back_matter.strip())
    return ("\n\n".join(parts) + "\n").encode()


def plain_text(book: Manuscript) -> bytes:
    parts = [book.title]
    if book.subtitle:
        parts.append(book.subtitle)
    if book.author:
        parts.append(f"by {book.author}")
    if book.dedication:
        parts.append(book.dedication)
    if book.front_matter:
        parts.append(book.front_matter.strip())
    for chapter in book.chapters:
        parts += [book.heading(chapter), *["#" if is_scene_break(p) else p for p in paragraphs(chapter.text)]]
    if book.back_matter:
        parts.append(book.back_matter.strip())
    return ("\n\n".join(parts) + "\n").encode()


# EPUB ------------------------------------------------------------------------------------------


def epub(book: Manuscript) -> bytes:
    """EPUB 3 by pandoc: title page, navigation document, one file per chapter, metadata."""
    metadata = {
        "title": book.title, "lang": book.lang, "identifier": [{"scheme": "UUID", "text": f"urn:uuid:{book.compiled_id}"}],
        "date": book.created_at.date().isoformat(),
    }  # fmt: skip
    if book.subtitle:
        metadata["subtitle"] = book.subtitle
    if book.author:
        metadata["creator"] = [{"role": "author", "text": book.author}]
    parts: list[str] = []
    if book.dedication:
        parts.append("# Dedication {.unnumbered epub:type=dedication}\n\n" + book.dedication)
    if book.front_matter:
        parts.append("# Foreword {.unnumbered epub:type=foreword}\n\n" + book.front_matter.strip())
    for chapter in book.chapters:
        body = ["\\* \\* \\*" if is_scene_break(p) else p for p in paragraphs(chapter.text)]
        parts.append(f"# {book.heading(chapter)} {{epub:type=chapter}}\n\n" + "\n\n".join(body))
    if book.back_matter:
        parts.append("# Afterword {.unnumbered epub:type=afterword}\n\n" + book.back_matter.strip())
    with tempfile.TemporaryDirectory(prefix="studio-epub-") as work:
        meta = Path(work) / "metadata.json"
        meta.write_text(json.dumps(metadata))
        out = Path(work) / "book.epub"
        pypandoc.convert_text(
            "\n\n".join(parts), "epub3", format="markdown-smart+smart", outputfile=str(out),
            extra_args=[f"--metadata-file={meta}", "--split-level=1", "--epub-title-page=true", "--toc", "--toc-depth=1"],
        )  # fmt: skip
        return out.read_bytes()


# DOCX: standard manuscript format (Shunn) -------------------------------------------------------


def nearest_hundred(words: int) -> int:
    return max(100, int(round(words / 100.0)) * 100)


def surname(author: str | None) -> str:
    return author.split()[-1] if author and author.split() else "Anonymous"


def _page_field(paragraph: object) -> None:
    """A PAGE field at the end of `paragraph`: Word fills in the page number."""
    run = paragraph.add_run()  # type: ignore[attr-defined]
    for kind, text in (("begin", None), (None, "PAGE"), ("end", None)):
        if kind is not None:
            element = OxmlElement("w:fldChar")
            element.set(qn("w:fldCharType"), kind)
        else:
            element = OxmlElement("w:instrText")
            element.set(qn("xml:space"), "preserve")
            element.text = text
        run._r.append(element)


def docx(book: Manuscript, *, font: str = "Times New Roman") -> bytes:
    """A manuscript an agent expects: 12 pt, double-spaced, 1-inch margins, running head
    `Surname / TITLE / page`, contact block and rounded word count on page one, each chapter on a
    new page, scene breaks as a centred `#`."""
    document = Document()
    normal = document.styles["Normal"]
    normal.font.name = font
    normal.font.size = Pt(12)
    normal.element.rPr.rFonts.set(qn("w:eastAsia"), font)
    normal.paragraph_format.line_spacing = 2.0
    normal.paragraph_format.space_after = Pt(0)
    normal.paragraph_format.space_before = Pt(0)
    section = document.sections[0]
    section.page_width, section.page_height = Inches(8.5), Inches(11)
    for side in ("top_margin", "bottom_margin", "left_margin", "right_margin"):
        setattr(section, side, Inches(1))
    section.different_first_page_header_footer = True  # page one has the contact block instead
    head = section.header.paragraphs[0]
    head.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    head.add_run(f"{surname(book.author)} / {book.title.upper()} / ")
    _page_field(head)

    def single(text: str, align: WD_ALIGN_PARAGRAPH = WD_ALIGN_PARAGRAPH.LEFT) -> None:
        paragraph = document.add_paragraph(text)
        paragraph.alignment = align
        paragraph.paragraph_format.line_spacing = 1.0

    contact = [line for line in (book.contact or book.author or "").splitlines() if line.strip()] or ["(contact)"]
    table = document.add_table(rows=1, cols=2)
    left, right = table.rows[0].cells
    left.paragraphs[0].text = contact[0]
    for line in contact[1:]:
        left.add_paragraph(line)
    right.paragraphs[0].text = f"about {nearest_hundred(book.words):,} words"
    right.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.RIGHT
    for cell in (left, right):
        for paragraph in cell.paragraphs:
            paragraph.paragraph_format.line_spacing = 1.0
    for _ in range(8):  # the title sits about halfway down page one
        single("")
    single(book.title.upper(), WD_ALIGN_PARAGRAPH.CENTER)
    if book.subtitle:
        single(book.subtitle, WD_ALIGN_PARAGRAPH.CENTER)
    single(f"by {book.author or 'Anonymous'}", WD_ALIGN_PARAGRAPH.CENTER)
    if book.dedication:
        single("")
        single(book.dedication, WD_ALIGN_PARAGRAPH.CENTER)

    def body(text: str) -> None:
        for part in paragraphs(text):
            if is_scene_break(part):
                document.add_paragraph("#").alignment = WD_ALIGN_PARAGRAPH.CENTER
            else:
                document.add_paragraph(part).paragraph_format.first_line_indent = Inches(0.5)

    sections = ([("Foreword", book.front_matter)] if book.front_matter else []) + [
        (book.heading(c), c.text) for c in book.chapters
    ] + ([("Afterword", book.back_matter)] if book.back_matter else [])
    for heading, text in sections:
        document.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
        title = document.add_paragraph(heading)
        title.alignment = WD_ALIGN_PARAGRAPH.CENTER
        body(text)
    single("")
    document.add_paragraph("END").alignment = WD_ALIGN_PARAGRAPH.CENTER
    document.core_properties.title = book.title
    document.core_properties.author = book.author or ""
    document.core_properties.language = book.lang
    out = BytesIO()
    document.save(out)
    return out.getvalue()


# PDF -------------------------------------------------------------------------------------------


def pdf(book: Manuscript) -> bytes:
    """A 6 x 9 in print PDF by Typst: title page, chapters on new pages, page numbers, fonts embedded."""
    content = {
        "title": book.title, "subtitle": book.subtitle or "", "author": book.author or "", "lang": book.lang,
        "dedication": book.dedication or "",
        "front": paragraphs(book.front_matter or ""), "back": paragraphs(book.back_matter or ""),
        "chapters": [
            {"heading": book.heading(c), "paragraphs": ["" if is_scene_break(p) else p for p in paragraphs(c.text)]}
            for c in book.chapters
        ],
    }  # fmt: skip
    # The text goes in as data, never as markup: nothing a writer types can change the layout.
    return bytes(typst.compile(str(TYPST_TEMPLATE), sys_inputs={"book": json.dumps(content)}))


Renderer = Callable[[Manuscript], bytes]
FORMATS: dict[str, tuple[str, str, Renderer]] = {
    # format: (content type, file extension, renderer)
    "epub": ("application/epub+zip", "epub", epub),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx", docx),
    "pdf": ("application/pdf", "pdf", pdf),
    "md": ("text/markdown; charset=utf-8", "md", markdown),
    "txt": ("text/plain; charset=utf-8", "txt", plain_text),
}
ALIASES = {"markdown": "md", "text": "txt"}

