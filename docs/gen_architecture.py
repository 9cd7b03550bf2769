"""Makes the generated part of docs/architecture.md from the code: the drawing of the application
lifecycle (``services.application.lifecycle.MOVES``). Run it after changing the table; a unit test
fails while the document differs.

    python docs/gen_architecture.py
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from services.application import lifecycle  # noqa: E402

DOCUMENT = ROOT / "docs" / "architecture.md"
BEGIN = "<!-- BEGIN GENERATED: lifecycle (python docs/gen_architecture.py; do not edit) -->"
END = "<!-- END GENERATED: lifecycle -->"


def render(text: str) -> str:
    pattern = re.compile(re.escape(BEGIN) + r"\n.*?" + re.escape(END), re.S)
    if len(pattern.findall(text)) != 1:
        raise ValueError("docs/architecture.md needs exactly one generated lifecycle part")
    body = "\n".join([BEGIN, "```mermaid", lifecycle.mermaid(), "```", END])
    return pattern.sub(lambda _m: body, text)


def main() -> int:
    DOCUMENT.write_text(render(DOCUMENT.read_text()))
    print(f"{DOCUMENT.relative_to(ROOT)} regenerated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
