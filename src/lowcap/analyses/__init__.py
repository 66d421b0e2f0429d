"""Analyses of trained models: pruning, dead neurons, t-SNE, robustness, saliency."""
