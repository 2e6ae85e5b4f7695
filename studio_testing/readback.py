"""Reading exported files back as a reader would see them: the text each format shows, and every byte it holds."""

from __future__ import annotations

import io
import json
import re
import subprocess
import zipfile
import zlib
from typing import Any
from xml.etree import ElementTree

import pypandoc
from docx import Document
from pypdf import PdfReader


def shown_text(fmt: str, data: bytes) -> str:
    """The text a reader of the file sees, whitespace as it comes."""
    if fmt == "epub":
        archive = zipfile.ZipFile(io.BytesIO(data))
        pages = [n for n in archive.namelist() if n.endswith(".xhtml")]
        return "\n".join("".join(ElementTree.fromstring(archive.read(n)).itertext()) for n in pages)
    if fmt == "docx":
        document = Document(io.BytesIO(data))
        cells = [c.text for table in document.tables for row in table.rows for c in row.cells]
        head = [p.text for s in document.sections for p in s.header.paragraphs]
        return "\n".join([*head, *cells, *(p.text for p in document.paragraphs)])
    if fmt == "pdf":
        return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    if fmt == "md":
        return markdown_text(data.decode())
    return data.decode()


def markdown_text(markdown: str) -> str:
    """What a Markdown reader (pandoc's, without typographic quotes and dashes) shows of `markdown`."""
    done = subprocess.run(
        [pypandoc.get_pandoc_path(), "--sandbox", "--from=markdown-smart", "--to=json"],
        input=markdown.encode(),
        capture_output=True,
        check=True,
    )
    return _text(json.loads(done.stdout)["blocks"])


def markdown_nodes(markdown: str) -> set[str]:
    """The kinds of element a Markdown reader finds in `markdown` (`Image`, `RawInline`, ...)."""
    done = subprocess.run(
        [pypandoc.get_pandoc_path(), "--sandbox", "--from=markdown-smart", "--to=json"],
        input=markdown.encode(),
        capture_output=True,
        check=True,
    )
    return _nodes(json.loads(done.stdout)["blocks"])


def _text(tree: Any) -> str:
    if isinstance(tree, dict):
        kind = tree.get("t")
        if kind == "Str":
            return str(tree["c"])
        if kind in ("Space", "SoftBreak"):
            return " "
        if kind == "LineBreak":
            return "\n"
        if kind in ("Para", "Header", "Plain"):
            return _text(tree.get("c", [])) + "\n"
        return _text(tree.get("c", []))
    if isinstance(tree, list):
        return "".join(_text(v) for v in tree)
    return ""


def _nodes(tree: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(tree, dict):
        if "t" in tree:
            found.add(tree["t"])
        for value in tree.values():
            found |= _nodes(value)
    elif isinstance(tree, list):
        for value in tree:
            found |= _nodes(value)
    return found


def squeezed(text: str) -> str:
    """`text` without whitespace or hyphens: a PDF's extraction breaks lines, and hyphenates words
    where it breaks them (which cannot be told from a hyphen the writer typed at a line's end)."""
    return re.sub(r"[\s\-\u00ad]+", "", text)


def every_byte(data: bytes) -> bytes:
    """The file with every zip member and every compressed PDF stream unpacked beside it."""
    parts = [data]
    if data[:2] == b"PK":
        archive = zipfile.ZipFile(io.BytesIO(data))
        parts += [archive.read(n) for n in archive.namelist()]
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        try:
            parts.append(zlib.decompress(stream))
        except zlib.error:
            pass
    return b"\n".join(parts)
