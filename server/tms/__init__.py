"""The science of Toy Models of Superposition (Elhage et al., 2022) as a library: torch and maths
only, no web framework.

Modules, in the order data flows: ``config`` (the vocabulary and every default), ``data`` (sparse
features), ``model`` (the toy model and its exact gradient), ``optim`` (the batched AdamW step),
``training`` (runs and batches), ``metrics`` (WᵀW, norms, superposition, dimensionality),
``measures`` (closed-form comparisons, exact loss, neurons), ``trained`` (``train`` and the
trained model), ``phase_diagram``, ``interference`` and the closed forms in ``theory``,
``theory_power`` and ``theory_interference``; ``sae`` (sparse autoencoders on a trained model's
hidden layer: ``sae.train_sae``) and ``sae_metrics`` (their scores against the known features).
"""

from server.tms.config import FeatureSet, ModelConfig, TrainConfig
from server.tms.trained import TrainedModel, train
from server.tms.training import InitialWeights

__all__ = ["FeatureSet", "InitialWeights", "ModelConfig", "TrainConfig", "TrainedModel", "train"]
