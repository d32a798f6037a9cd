"""Train toy models with the library alone (no server) and print the paper's measures.

    python examples/library_example.py --steps 3000

Two instances of the 5 → 2 model of TMS §"Demonstrating Superposition", at 1 − S = 0.1 and 0.03,
trained side by side: sparse enough that all five features share the two dimensions as a
pentagon (each Dᵢ ≈ 2/5, TMS §"Feature Dimensionality").
"""

from __future__ import annotations

import argparse

from server.tms import ModelConfig, TrainConfig, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()

    model = train(
        ModelConfig(
            n_features=5, n_hidden=2, feature_probability=[0.1, 0.03], importance_decay=0.9
        ),
        TrainConfig(steps=args.steps, seed=args.seed, n_restarts=4),
    )
    print(f"W: {tuple(model.W.shape)} (n_instances, n_hidden, n_features)")
    for k, p in enumerate(model.model.feature_probabilities):
        norms = ", ".join(f"{v:.2f}" for v in model.feature_norms[k].tolist())
        dims = ", ".join(f"{v:.2f}" for v in model.dimensionality[k].tolist())
        print(f"p = {p}: loss {model.loss[k].item():.5f}  ‖Wᵢ‖ [{norms}]  Dᵢ [{dims}]")
        print(
            f"  D* = {model.dimensions_per_feature[k].item():.3f}  theory {model.theory_losses[k]}"
        )
    print(
        f"loss history: {len(model.history_steps)} points, last {model.loss_history[-1].tolist()}"
    )


if __name__ == "__main__":
    main()
