"""Superposition Explorer: train and serve Toy Models of Superposition (Elhage et al., 2022)."""

__version__ = "0.1.0"
