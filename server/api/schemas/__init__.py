"""The API contract, one module per resource: models, phase diagrams, analysis."""
