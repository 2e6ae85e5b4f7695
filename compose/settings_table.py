"""The README's configuration table, made from the settings every part declares.

`python -m compose.settings_table` prints it; `--write` puts it into README.md between its
markers; a test fails when the README and the declarations differ.
"""

from __future__ import annotations

import sys
from pathlib import Path

from gateway.settings import Settings as GatewaySettings
from index_service.settings import Settings as IndexSettings
from processors.book_compiler.settings import Settings as BookCompilerSettings
from processors.pitch_builder.settings import Settings as PitchBuilderSettings
from processors.summary.settings import Settings as SummarySettings
from processors.text_expansion.settings import Settings as TextExpansionSettings
from servicekit.settings import Row, declarations

from .settings import StackSettings

README = Path(__file__).resolve().parent.parent / "README.md"
BEGIN, END = "<!-- settings table: made by python -m compose.settings_table -->", "<!-- end of settings table -->"
PROCESSOR = "<PROCESSOR>"  # a processor's own prefix: TEXT_EXPANSION, BOOK_COMPILER, PITCH_BUILDER, SUMMARY
SERVICES: list[tuple[str, type, str]] = [
    ("gateway", GatewaySettings, ""),
    ("index", IndexSettings, ""),
    ("text expansion", TextExpansionSettings, PROCESSOR),
    ("book compiler", BookCompilerSettings, PROCESSOR),
    ("pitch builder", PitchBuilderSettings, PROCESSOR),
    ("summary", SummarySettings, PROCESSOR),
]
PROCESSORS = {name for name, _, prefix in SERVICES if prefix}


def rows() -> list[tuple[Row, str]]:
    """Every variable once, in the order first read, with who reads it."""
    readers: dict[str, list[str]] = {}
    first: dict[str, Row] = {}
    for name, cls, prefix in [*SERVICES, ("the one-machine stack", StackSettings, "")]:
        for row in declarations(cls, prefix=prefix):
            first.setdefault(row.variable, row)
            if name not in readers.setdefault(row.variable, []):
                readers[row.variable].append(name)
    return [(row, _who(readers[variable])) for variable, row in first.items()]


def _who(names: list[str]) -> str:
    if {name for name, _, _ in SERVICES} <= set(names):
        return "every service"
    if PROCESSORS <= set(names):
        return ", ".join([n for n in names if n not in PROCESSORS] + ["every processor"])
    return ", ".join(names)


def _text(cell: str) -> str:
    """A cell as Markdown shows it as typed (an `<` would start a tag, a `|` a new cell)."""
    return cell.replace("|", "\\|").replace("<", "&lt;")


def table() -> str:
    lines = [
        "| variable | read by | default | accepts | what it sets |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row, who in rows():
        cells = [f"`{row.variable}`", _text(who), _text(row.default), _text(row.accepts), _text(row.doc)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def readme_with_table(readme: str) -> str:
    """The README with its table made anew."""
    head, rest = readme.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{table()}\n{END}{tail}"


def main(argv: list[str]) -> int:
    if argv == ["--write"]:
        README.write_text(readme_with_table(README.read_text()))
        return 0
    print(table())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
