"""The fenced code blocks of docs/*.md, as the documentation tests read them.

Every block names its language, and every block that is code carries an id in its info string
(```python id=send-first-event). docs/README.md ("How the examples are tested") is the convention:

- `python`, `sh`, `graphql`, `js`, `html`: executed, `id=` required, ids unique across docs/.
- `json variables=<id>`: the variables of the GraphQL block with that id (same file).
- `text`: output or a format shown for reading; never executed, carries no id.
- `manual`: a command the tests cannot run as written (it starts the whole system); allowed only for
  the ids listed in `MANUAL` with the reason and the test that covers it instead.
"""

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"

EXECUTED = {"python", "sh", "graphql", "js", "html"}
LANGUAGES = EXECUTED | {"json", "text"}

MANUAL = {
    "make-run": "starts every service until Ctrl-C; tests/cli/test_up.py runs `trackmint up` and the rest of "
    "docs/ runs against the same services started by tests/docs/conftest.py",
}
"""Blocks that are real commands but not executed here, with why and what covers them instead."""

_FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_PLACEHOLDER = re.compile(r"<[a-z]+(?: [a-z]+)+>")


@dataclass
class Block:
    path: Path
    line: int
    language: str
    attributes: dict[str, str]
    code: str
    variables: "Block | None" = field(default=None, repr=False)

    @property
    def id(self) -> str:
        return self.attributes.get("id", "")

    @property
    def where(self) -> str:
        return f"docs/{self.path.name}:{self.line}"

    @property
    def manual(self) -> bool:
        return "manual" in self.attributes


def _attributes(info: str) -> tuple[str, dict[str, str]]:
    words = shlex.split(info)
    if not words:
        return "", {}
    attributes = {}
    for word in words[1:]:
        key, _, value = word.partition("=")
        attributes[key] = value
    return words[0], attributes


def read_blocks(docs: Path = DOCS) -> list[Block]:
    blocks = []
    for path in sorted(docs.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        for match in _FENCE.finditer(text):
            language, attributes = _attributes(match.group(1).strip())
            line = text.count("\n", 0, match.start()) + 1
            blocks.append(Block(path, line, language, attributes, match.group(2)))
    return blocks


def unread_fences(docs: Path = DOCS) -> list[str]:
    """Files with fence lines the reader did not pair into blocks (an unclosed or odd fence would hide code)."""
    problems = []
    for path in sorted(docs.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        fences = sum(1 for line in text.splitlines() if line.lstrip().startswith(("```", "~~~")))
        paired = 2 * len(_FENCE.findall(text))
        if fences != paired:
            problems.append(f"docs/{path.name}: {fences} fence lines but {paired // 2} complete ``` blocks")
    return problems


def problems_of(blocks: list[Block]) -> list[str]:
    """Every way these blocks break the convention; empty when every block is executed or explicitly not."""
    problems = []
    ids: dict[str, Block] = {}
    for block in blocks:
        if block.language not in LANGUAGES:
            problems.append(f"{block.where}: language {block.language!r} is not one the tests run or allow "
                            f"(one of {sorted(LANGUAGES)}); an output-only block is ```text")
            continue
        if block.language == "text":
            if block.attributes:
                problems.append(f"{block.where}: a ```text block is never executed, so it takes no attributes")
            continue
        if block.language == "json":
            target = block.attributes.get("variables", "")
            owner = ids.get(target)
            if owner is None or owner.language != "graphql" or owner.path != block.path:
                problems.append(f"{block.where}: a ```json block must be `variables=<id>` of a graphql block "
                                "above it in the same file")
            elif owner.variables is not None:
                problems.append(f"{block.where}: graphql block {target!r} already has variables")
            else:
                owner.variables = block
            continue
        if not block.id:
            problems.append(f"{block.where}: ```{block.language} block without an id (```{block.language} id=...)")
            continue
        if block.id in ids:
            problems.append(f"{block.where}: id {block.id!r} is also used at {ids[block.id].where}")
        ids[block.id] = block
        if block.manual and block.id not in MANUAL:
            problems.append(f"{block.where}: {block.id!r} is marked manual but not listed in MANUAL "
                            "(tests/docs/examples.py) with the reason and what covers it")
    for manual_id in MANUAL:
        if not any(block.id == manual_id and block.manual for block in blocks):
            problems.append(f"MANUAL lists {manual_id!r}, which no docs block marks manual")
    return problems


def executed_blocks(blocks: list[Block]) -> list[Block]:
    problems_of(blocks)  # pairs variables with their queries
    return [block for block in blocks if block.language in EXECUTED and block.id and not block.manual]


def placeholders_in(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text))
