"""The plain reference MLP and the batched cohort of MLPs."""

from lowcap.models.cohort import Cohort, Lane, ModelSpec
from lowcap.models.mlp import InitSpec, build_mlp, init_params

__all__ = ["Cohort", "InitSpec", "Lane", "ModelSpec", "build_mlp", "init_params"]
