"""The conditional WGAN-GP of stage 02: configuration and designs, networks, losses, scaling, the LightningModule
and checkpoint loading, one module each. Other modules import from `salesgan_utils.gan`."""
from .checkpoint import ABLATION_COMMIT, REMOVED_LEVERS, config_from_checkpoint, load_generator
from .config import DEFAULT_DESIGN, DESIGNS, LEVERS, GanConfig, describe_design, design_name
from .ensemble import GanEnsemble, MemberSpec, Validation, ensemble_blocks, patience_stop
from .losses import gradient_penalty, sample_crps
from .module import WGANGP, parameter_counts, seeded_generator
from .networks import ConditionEncoder, Critic, Generator, straight_through_relu, straight_through_round

__all__ = ["ABLATION_COMMIT", "DEFAULT_DESIGN", "DESIGNS", "LEVERS", "REMOVED_LEVERS", "ConditionEncoder", "Critic",
           "GanConfig", "GanEnsemble", "Generator", "MemberSpec", "Validation", "WGANGP", "config_from_checkpoint",
           "describe_design", "design_name", "ensemble_blocks", "gradient_penalty", "load_generator",
           "parameter_counts", "patience_stop", "sample_crps", "seeded_generator", "straight_through_relu",
           "straight_through_round"]
