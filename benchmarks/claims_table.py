"""``python -m benchmarks.claims_table``: the gallery's claims beside the figures computed from
the shipped results (server/claims.py), as the Markdown table of benchmarks/RESULTS.md."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from server.cache import ModelCache
from server.claims import preset_claims
from server.presets import preset_infos

SHIPPED = Path(__file__).resolve().parents[1] / "models_cache"
MARK = {True: "yes", False: "**no**", None: "–"}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:  # a failed load removes the entry it reads
        root = Path(tmp) / "cache"
        shutil.copytree(SHIPPED, root)
        cache = ModelCache(root)
        print("| preset | the paper's claim | measured from the shipped result | agrees |")
        print("|---|---|---|---|")
        for info in preset_infos():
            others = (info.diagram_id, info.sae_id, info.sweep_id)
            ids = info.model_ids + [i for i in others if i is not None]
            for claim in preset_claims(info, cache, ids):
                cells = [info.id, claim.claim, claim.measured or "not cached", MARK[claim.agrees]]
                print("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")


if __name__ == "__main__":
    main()
