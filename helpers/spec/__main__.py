"""python -m helpers.spec: rebuild index.json from the vendored YAML, and the differences table in docs/sandbox.md."""
import json

from . import HERE, INDEX_PATH, SPEC_PATH, live_meta, load
from .build_index import build, differences_table

START, END = "<!-- differences:start (python -m helpers.spec) -->\n", "<!-- differences:end -->\n"

index = build(load(), SPEC_PATH.read_bytes())
INDEX_PATH.write_text(json.dumps(index, indent=1) + "\n", encoding="utf-8")
print(f"wrote {INDEX_PATH} ({INDEX_PATH.stat().st_size} bytes)")
docs = HERE.parents[1] / "docs" / "sandbox.md"
if docs.exists():  # a source checkout: keep the documented table equal to live_meta.yaml
    text = docs.read_text(encoding="utf-8")
    before, _, rest = text.partition(START)
    _, _, after = rest.partition(END)
    docs.write_text(before + START + differences_table(live_meta()) + END + after, encoding="utf-8")
    print(f"wrote the differences table in {docs}")
