"""The writer's text as renderers read it: control characters, paragraphs, the writer's marks and nothing else."""

from __future__ import annotations

import json
import subprocess

import pypandoc
import pytest

from processors.book_compiler.exports import PANDOC_API_VERSION
from processors.rendering import prose
from processors.rendering.prose import Paragraph, SceneBreak, Span
from studio_testing.readback import markdown_nodes, markdown_text

# What a writer may type that other tools would take as instructions: it must stay text.
HOSTILE = [
    "![x](/etc/hostname)",
    '<img src="/etc/hostname">',
    "![y](http://127.0.0.1:9/x.png)",
    "<script>alert(1)</script>",
    "#set text(fill: red)",
    "\\input{/etc/passwd}",
    "{{ config }}",
    "[link](file:///etc/passwd)",
    "$x^2$ and @smith and ~sub~ and ^sup^",
    "<!-- comment --> &amp; &copy;",
    "`code` and ```fence```",
]


def test_control_characters_are_settled_once() -> None:
    assert prose.clean("a\u000bb\u000cc\u0085d\u2028e") == "a\nb\nc\nd\ne"
    assert prose.clean("a\u2029b") == "a\n\nb"
    assert prose.clean("a\r\nb\rc") == "a\nb\nc"
    assert prose.clean("bell\u0007 nul\u0000 soh\u0001 del\u007f c1\u0090 \ufffe\uffff.") == "bell nul soh del c1 ."
    assert prose.clean("tab\there") == "tab here"
    assert prose.clean("é ü 雪 مرحبا \u200d") == "é ü 雪 مرحبا \u200d"  # what is not a control stays
    assert prose.line("Title\u000bwith\n\nbreaks ") == "Title with breaks"
    assert prose.clean_all({"a": ["x\u0007", {"b": "\u000b"}], "n": 3}) == {"a": ["x", {"b": "\n"}], "n": 3}


def test_paragraphs_line_breaks_and_scene_breaks() -> None:
    found = prose.blocks("One\nline two\n\n  \n#\n\n* * *\n\n~~~\n\nThree")
    assert found == [
        Paragraph((Span("One\nline two"),), "One\nline two"),
        SceneBreak(),
        SceneBreak(),
        SceneBreak(),
        Paragraph((Span("Three"),), "Three"),
    ]
    assert prose.blocks("# Heading")[0] == Paragraph(
        (Span("# Heading"),), "# Heading"
    )  # no headings: a scene break only


@pytest.mark.parametrize(
    ("typed", "spans"),
    [
        ("a *b* c", [Span("a "), Span("b", emphasis=True), Span(" c")]),
        ("a _b c_ d", [Span("a "), Span("b c", emphasis=True), Span(" d")]),
        ("**bold** end", [Span("bold", strong=True), Span(" end")]),
        ("**bold _both_**", [Span("bold ", strong=True), Span("both", emphasis=True, strong=True)]),
        ("snake_case_name", [Span("snake_case_name")]),
        ("2*3*4", [Span("2*3*4")]),
        ("* not emphasis *", [Span("* not emphasis *")]),
        ("\\*kept\\* as typed", [Span("*kept* as typed")]),
        ("**unclosed", [Span("**unclosed")]),
    ],
)
def test_the_writers_marks(typed: str, spans: list[Span]) -> None:
    assert list(prose.spans(typed)) == spans


@pytest.mark.parametrize("typed", HOSTILE)
def test_markdown_shows_what_was_typed(typed: str) -> None:
    markdown = prose.markdown(f"Before {typed} after *kept*")
    assert markdown_nodes(markdown) <= {"Para", "Str", "Space", "Emph"}
    assert markdown_text(markdown) == f"Before {typed} after kept\n"


def test_markdown_line_starts_stay_text() -> None:
    typed = "- not a list\n+ nor this\n1. nor this\n> nor a quote\n= nor a rule\n: nor a definition"
    markdown = prose.markdown(typed)
    assert markdown_nodes(markdown) <= {"Para", "Str", "Space", "LineBreak"}
    assert markdown_text(markdown) == typed + "\n"


def test_the_pandoc_tree_holds_words_not_markup() -> None:
    (para,) = prose.pandoc_blocks("a *b*\n<c> ![d](/e)")
    assert para == {
        "t": "Para",
        "c": [
            {"t": "Str", "c": "a"},
            {"t": "Space"},
            {"t": "Emph", "c": [{"t": "Str", "c": "b"}]},
            {"t": "LineBreak"},
            {"t": "Str", "c": "<c>"},
            {"t": "Space"},
            {"t": "Str", "c": "![d](/e)"},
        ],
    }


def test_the_pinned_pandoc_reads_our_tree_version() -> None:
    done = subprocess.run(
        [pypandoc.get_pandoc_path(), "--from=markdown", "--to=json"], input=b"x", capture_output=True, check=True
    )
    assert json.loads(done.stdout)["pandoc-api-version"] == PANDOC_API_VERSION


def test_escaped_values_read_as_typed_inside_marks() -> None:
    name = "Mara *the* _Quist_"
    assert [s.text for s in prose.spans(f"**{prose.escape_marks(name)}** (lead)")] == [name, " (lead)"]
