"""python -m helpers.spec: rebuild index.json from the vendored YAML."""
import json

from . import INDEX_PATH, SPEC_PATH, load
from .build_index import build

index = build(load(), SPEC_PATH.read_bytes())
INDEX_PATH.write_text(json.dumps(index, indent=1, sort_keys=False) + "\n", encoding="utf-8")
print(f"wrote {INDEX_PATH} ({INDEX_PATH.stat().st_size} bytes)")
