"""Train the paper's first toy model (5 features → 2 hidden dimensions) through the Python client,
print what it learned, and save the explorer's WᵀW heatmap.

    python -m server &                                   # a server on http://127.0.0.1:8000
    python examples/client_example.py --out gram.html   # then open gram.html

The figure is saved as HTML with Plotly.js inside (no CDN), or as JSON for a name ending .json.
"""

from __future__ import annotations

import argparse

import numpy as np
import plotly.graph_objects as go

from server.client import DEFAULT_BASE_URL, Client


def main(argv: list[str] | None = None) -> go.Figure:
    """Train, print a few numbers, save the figure; returns it (for notebooks)."""
    parser = argparse.ArgumentParser(description="Train a 5 → 2 toy model through the client.")
    parser.add_argument("--base-url", default=DEFAULT_BASE_URL, help="the explorer server")
    parser.add_argument("--token", default=None, help="the server's token, if it has one")
    parser.add_argument("--out", default="gram.html", help="where to save the figure")
    parser.add_argument("--feature-probability", type=float, default=0.1, help="p = 1 − S")
    args = parser.parse_args(argv)

    with Client(args.base_url, token=args.token) as client:
        result = client.train(
            n_features=5,
            n_hidden=2,
            feature_probability=args.feature_probability,
            importance_decay=0.9,
            steps=3000,
            progress=False,
        )
    instance = result.instances[0]
    represented = int(np.sum(instance.feature_norms > 0.5))
    print(f"model {result.id[:12]} ({'cached' if result.cached else 'trained'})")
    print(f"W shape {instance.W.shape}")
    print(f"loss {instance.loss:.6f}")
    print(f"D* {instance.dimensions_per_feature:.3f}")
    print(f"represented features {represented} of {len(instance.feature_norms)}")
    print("feature norms " + " ".join(f"{v:.3f}" for v in instance.feature_norms))
    print("superposition " + " ".join(f"{v:.3f}" for v in instance.superposition))

    figure = result.figure("gram")
    if args.out.endswith(".json"):
        figure.write_json(args.out)
    else:
        figure.write_html(args.out, include_plotlyjs=True)
    print(f"figure saved to {args.out}")
    return figure


if __name__ == "__main__":
    main()
