"""Regenerate the README's table of approaches from the catalogue.

uv run python scripts/update_readme.py          # rewrite README.md in place
uv run python scripts/update_readme.py --check  # exit 1 if README.md is stale
"""

import sys
from pathlib import Path

from app.catalogue import approaches_table

README = Path(__file__).resolve().parents[1] / "README.md"
START, END = "<!-- approaches:start -->\n", "<!-- approaches:end -->\n"


def regenerated(text: str) -> str:
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    return f"{before}{START}{approaches_table()}{END}{after}"


def main() -> int:
    text = README.read_text()
    fresh = regenerated(text)
    if "--check" in sys.argv[1:]:
        if fresh != text:
            print("README.md's table of approaches is stale: run scripts/update_readme.py")
            return 1
        return 0
    README.write_text(fresh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
