"""An ensemble of M generator/critic pairs of one design and size, trained together as one batched computation.

Each member is what `train.train_gan` would train alone from a `MemberSpec`: its own train windows (indices into one
shared train `WindowSet`), its own seed (initial weights, epoch order, noise streams), its own validation windows
and its own budget (epochs, optional step cap, optional early stopping on the validation CRPS). The members' weights
are stacked (`batched.StackedNetworks`) and every training step updates all running members at once with the
arithmetic of `WGANGP.training_step`: n_critic critic updates then one generator update, the same seeded draws per
(member seed, member step), and one Adam per member (Adam is elementwise, so one Adam over stacked tensors is M
Adams). A member's results therefore match its training alone up to float rounding, which a GAN's dynamics can
amplify over many steps. A member that ends leaves the stack (the rest keep their optimiser state), so the stack
only computes running members.

`GanEnsemble.run` yields one `Validation` per member epoch (the scores that `WGANGP.validation_step` computes and
the member's weights as a `WGANGP` state dict); `train.train_ensemble` writes them as stage-02 artifacts. Members
must share the batch size, so each needs at least `batch_size` train windows. Only separate encoders are batched
(`shared_encoder=False`, every profile's setting).

On a GPU (`device="cuda"`) the train windows, the stacked weights and the optimiser states live on the device;
the seeded draws are made on the CPU, as alone, and copied over, so a member's noise does not depend on the device.
Validation runs on the CPU with the member's weights (`member_module`), where its seeded validation stream lives.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from ..data import units_from_scaled
from ..metrics import gan_validation_scores
from . import scaling
from .batched import StackedNetworks
from .config import GanConfig
from .losses import sample_crps
from .module import VAL_STREAM, WGANGP, seeded_generator

STAT_NAMES = ("d_loss", "gp", "wasserstein", "real_score", "fake_score", "g_loss", "g_crps")


@dataclass
class MemberSpec:
    """One member of an ensemble: what it trains on, its seed and its budget.

    Attributes:
        windows: indices into the ensemble's train windows (the member trains on `train.subset(windows)`).
        seed: weights, epoch order and noise, as `train_gan(seed=...)`.
        max_epochs: epochs over its windows (each epoch a fresh (seed, epoch) permutation, partial batch dropped).
        max_steps: a cap on its training steps (0 = none); the epoch it cuts short is validated.
        patience: validations in a row without a lower validation CRPS before it stops (0 = never).
        val_windows: indices into the validation windows it is scored on (None = all).
        name: its label (e.g. its output folder).
        val_every: validate (and maybe checkpoint) every this many steps instead of at each epoch end (0); a
            member on few windows has an epoch of one or two steps, and validating each would cost more than
            training. The last step is always validated.
    """

    windows: np.ndarray
    seed: int
    max_epochs: int
    max_steps: int = 0
    patience: int = 0
    val_windows: np.ndarray | None = None
    name: str = ""
    val_every: int = 0


def ensemble_blocks(members: int, ensembles: int) -> list[list[int]]:
    """Member indices of the contiguous blocks `train.train_ensembles` trains as separate ensembles: `ensembles`
    blocks of near-equal size, the first ones one larger where it does not divide (numpy's array_split), clamped to
    the member count; [] for no members."""
    if members <= 0:
        return []
    return [block.tolist() for block in np.array_split(np.arange(members), max(1, min(int(ensembles), members)))]


def patience_stop(steps, val_crps, patience: int) -> tuple[int, float]:
    """Where `MemberSpec.patience` stops a member, read off its validation curve: (the step it stops at, its lowest
    validation CRPS up to there). `steps`, `val_crps`: the member's validations in order, over its whole budget (a
    member's steps up to its stop do not depend on whether it stops there). The first validation is always an
    improvement; the member stops at the validation where it has waited `patience` validations without a lower CRPS
    (0: never, the last step)."""
    best, waited = float("inf"), 0
    for step, crps in zip(steps, val_crps, strict=True):
        waited = 0 if crps < best else waited + 1
        best = min(best, float(crps))
        if patience and waited >= patience:
            return int(step), best
    return int(step), best


@dataclass
class Validation:
    """One member's epoch end: its epoch-mean training statistics, its validation scores and its weights.

    Attributes:
        member: position of the member in the spec list.
        epoch: 0-based epoch (Lightning's numbering).
        step: training steps completed.
        stats: epoch means of `STAT_NAMES`.
        scores: `metrics.gan_validation_scores` of its validation windows.
        improved: the validation CRPS is the lowest so far (the best checkpoint changes).
        finished: the member's training ends here (budget, step cap or early stopping).
        state: its `WGANGP.state_dict()`.
        hyper_parameters: the checkpoint's `hyper_parameters` ({"config", "noise_seed"}).
    """

    member: int
    epoch: int
    step: int
    stats: dict
    scores: dict
    improved: bool
    finished: bool
    state: dict = field(repr=False)
    hyper_parameters: dict = field(repr=False)


def initial_module(config: GanConfig, seed: int) -> WGANGP:
    """The `WGANGP` that `train.train_gan(seed=seed)` starts from (weights drawn after seeding torch)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return WGANGP(config, noise_seed=seed)


def _window_tensors(windows) -> list[torch.Tensor]:
    """(history, calendar, reviews, target) float32 and (scale_min, scale_range) float64, as `train` loads them."""
    arrays = [windows.history, windows.calendar, windows.reviews, windows.target]
    out = [torch.as_tensor(np.ascontiguousarray(a, dtype=np.float32)) for a in arrays]
    return out + [torch.as_tensor(np.asarray(a, dtype=np.float64)) for a in (windows.scale_min, windows.scale_range)]


class GanEnsemble:
    """The running members, their stacked networks, optimisers, schedules and validation.

    Args:
        config: the members' common configuration (`config.for_windows(train)`).
        train: the shared train windows (members index into them).
        val: the shared validation windows.
        members: the member specs.
        val_batch: windows per validation forward (`train.VAL_BATCH_WINDOWS`: the noise is drawn per batch).
        device: where training computes ("cpu", "cuda", "cuda:1", ...).
    """

    def __init__(self, config: GanConfig, train, val, members: list[MemberSpec], val_batch: int = 512,
                 device: str | torch.device = "cpu"):
        if not members:
            raise ValueError("GanEnsemble: no members")
        self.config, self.specs, self.val_batch = config, list(members), int(val_batch)
        self.device = torch.device(device)
        self.train = [t.to(self.device) for t in _window_tensors(train)]
        self.val = [None if spec.val_windows is None else np.asarray(spec.val_windows) for spec in self.specs]
        self.val_windows = val
        for j, spec in enumerate(self.specs):
            spec.windows = np.asarray(spec.windows, dtype=np.int64)
            if len(spec.windows) < config.batch_size:
                raise ValueError(f"member {j} ({spec.name or spec.seed}): {len(spec.windows)} train windows, fewer "
                                 f"than batch_size {config.batch_size}; members share one batch size, so give it "
                                 f"at least {config.batch_size} windows or lower batch_size")
            if spec.max_epochs < 1:
                raise ValueError(f"member {j}: max_epochs must be >= 1, got {spec.max_epochs}")
        self.per_epoch = [len(spec.windows) // config.batch_size for spec in self.specs]
        self.running = list(range(len(self.specs)))
        self.steps = [0] * len(self.specs)
        self.best = [float("inf")] * len(self.specs)
        self.waited = [0] * len(self.specs)
        self._orders: dict[tuple[int, int], np.ndarray] = {}
        self._sums = [dict.fromkeys(STAT_NAMES, 0.0) for _ in self.specs]
        self._counts = [0] * len(self.specs)
        self.nets = StackedNetworks(config, [initial_module(config, s.seed).state_dict() for s in self.specs],
                                    device=self.device)
        self._optimisers()

    # ---- bookkeeping -------------------------------------------------------------------------------------------
    def _optimisers(self, previous: tuple | None = None, keep: list[int] | None = None) -> None:
        """Adam for the stacked generator and critic tensors; after `select`, each state sliced to the kept rows."""
        cfg = self.config
        new = (torch.optim.Adam(self.nets.generator_parameters(), lr=cfg.lr_g, betas=cfg.betas),
               torch.optim.Adam(self.nets.critic_parameters(), lr=cfg.lr_d, betas=cfg.betas))
        if previous is not None:
            index = torch.as_tensor(keep, dtype=torch.long, device=self.device)
            for old, fresh in zip(previous, new):
                for p_old, p_new in zip(old.param_groups[0]["params"], fresh.param_groups[0]["params"]):
                    state = old.state.get(p_old)
                    if state:
                        fresh.state[p_new] = {key: value if key == "step" else value[index].clone()
                                              for key, value in state.items()}
        self.opt_g, self.opt_d = new

    def _budget(self, j: int) -> int:
        spec = self.specs[j]
        total = spec.max_epochs * self.per_epoch[j]
        return min(total, spec.max_steps) if spec.max_steps else total

    def _rows(self, j: int) -> np.ndarray:
        """Member j's batch of its current step: batch b of the (seed, epoch) permutation of its windows."""
        spec, step = self.specs[j], self.steps[j]
        epoch, batch = divmod(step, self.per_epoch[j])
        if (j, epoch) not in self._orders:
            self._orders = {key: value for key, value in self._orders.items() if key[0] != j}
            self._orders[(j, epoch)] = np.random.default_rng([spec.seed, epoch]).permutation(len(spec.windows))
        rows = self._orders[(j, epoch)][batch * self.config.batch_size:(batch + 1) * self.config.batch_size]
        return spec.windows[rows]

    def _draws(self, batch: int) -> dict:
        """Every running member's noise and interpolation weights of its step, as `WGANGP._step_draws`."""
        cfg, parts = self.config, {"critic_noise": [], "alpha": [], "generator_noise": [], "crps_noise": []}
        for j in self.running:
            gen = seeded_generator(self.specs[j].seed, self.steps[j])
            parts["critic_noise"].append(torch.randn(cfg.n_critic, batch, cfg.noise_width, generator=gen))
            parts["alpha"].append(torch.rand(cfg.n_critic, batch, 1, generator=gen))
            parts["generator_noise"].append(torch.randn(batch, cfg.noise_width, generator=gen))
            if cfg.crps_weight > 0:
                parts["crps_noise"].append(torch.randn(1, batch, cfg.noise_width, generator=gen)[0])
        return {name: torch.stack(values).to(self.device) if values else None for name, values in parts.items()}

    # ---- one training step of every running member -------------------------------------------------------------
    def step(self) -> None:
        """One training step (n_critic critic updates, one generator update) of every running member."""
        cfg, nets = self.config, self.nets
        index = torch.as_tensor(np.stack([self._rows(j) for j in self.running])).to(self.device)
        history, calendar, reviews, target, scale_min, scale_range = (t[index] for t in self.train)
        history, target, low, width = nets.network_batch(history, target, scale_min, scale_range)
        m, b = index.shape
        draws = self._draws(b)
        embedding = nets.encode("generator_encoder", history, calendar, reviews)
        with torch.no_grad():  # G is fixed during the critic updates: every fake batch in one forward
            noise = draws["critic_noise"].flatten(1, 2)
            fakes = nets.generate(noise, embedding.detach().repeat(1, cfg.n_critic, 1),
                                  low.repeat(1, cfg.n_critic), width.repeat(1, cfg.n_critic))
            fakes = fakes.reshape(m, cfg.n_critic, b, -1)
        critic_stats = [self._critic_update(history, calendar, reviews, target, fakes[:, i], draws["alpha"][:, i])
                        for i in range(cfg.n_critic)]
        g_stats = self._generator_update(history, calendar, reviews, target, embedding, low, width, draws)
        # every statistic of every member in one tensor: one device-to-host copy per step
        names = list(STAT_NAMES[:5]) + list(g_stats)
        table = torch.stack([torch.stack([s[name] for s in critic_stats]).mean(dim=0) for name in STAT_NAMES[:5]]
                            + [g_stats[name] for name in g_stats]).double().cpu().tolist()
        for position, j in enumerate(self.running):
            for name, values in zip(names, table):
                self._sums[j][name] += values[position]
            self._counts[j] += 1
            self.steps[j] += 1

    def _critic_update(self, history, calendar, reviews, real, fake, alpha) -> dict:
        """One critic update of every member: −(E[D(real)] − E[D(fake)]) + λ·GP (`losses.gradient_penalty`
        per member), the spectral norms' power iteration once for the three calls."""
        cfg, nets = self.config, self.nets
        weights = nets.spectral_weights(power_iteration=True)
        cond = nets.encode("critic_encoder", history, calendar, reviews)
        real_score = nets.criticise(real, cond, history, weights)
        fake_score = nets.criticise(fake, cond, history, weights)
        interpolates = (alpha * real + (1.0 - alpha) * fake).requires_grad_(True)
        scores = nets.criticise(interpolates, cond, history, weights)
        (grads,) = torch.autograd.grad(scores.sum(), interpolates, create_graph=True)
        norms = torch.sqrt(grads.pow(2).sum(dim=-1) + 1e-12)
        excess = (norms - 1.0).clamp(min=0) if cfg.one_sided_gp else norms - 1.0
        gp = (excess ** 2).mean(dim=1)
        wasserstein = real_score.mean(dim=1) - fake_score.mean(dim=1)
        loss = -wasserstein + cfg.gp_lambda * gp
        self._apply(self.opt_d, nets.critic_parameters(), loss.sum())
        return {"d_loss": loss.detach(), "gp": gp.detach(), "wasserstein": wasserstein.detach(),
                "real_score": real_score.mean(dim=1).detach(), "fake_score": fake_score.mean(dim=1).detach()}

    def _generator_update(self, history, calendar, reviews, target, embedding, low, width, draws) -> dict:
        """One generator update of every member: −E[D(G(z|c))] + crps_weight × the fair CRPS of two samples."""
        cfg, nets = self.config, self.nets
        fake = nets.generate(draws["generator_noise"], embedding, low, width)
        with torch.no_grad():  # the critic is frozen in this update (its power iteration still runs, as in D's forward)
            cond = nets.encode("critic_encoder", history, calendar, reviews)
            weights = nets.spectral_weights(power_iteration=True)
        adversarial = -nets.criticise(fake, cond, history, weights).mean(dim=1)
        loss, stats = adversarial, {"g_loss": adversarial.detach()}
        if draws["crps_noise"] is not None:
            other = nets.generate(draws["crps_noise"], embedding, low, width)
            m, b, h = fake.shape
            samples = torch.stack([fake, other])  # (2, M, B, H)
            in_units = scaling.network_units(samples.reshape(-1, h), low.reshape(-1).repeat(2),
                                             width.reshape(-1).repeat(2)).reshape(2, m, b, h)
            target_units = scaling.network_units(target.reshape(-1, h), low.reshape(-1),
                                                 width.reshape(-1)).reshape(m, b, h)
            crps = torch.stack([sample_crps(in_units[:, j], target_units[j]) for j in range(m)])
            loss = loss + cfg.crps_weight * crps
            stats["g_crps"] = crps.detach()
        self._apply(self.opt_g, nets.generator_parameters(), loss.sum())
        return stats

    @staticmethod
    def _apply(optimiser, params, loss) -> None:
        """Gradients of the members' summed loss for `params` only, then one Adam step."""
        for p, grad in zip(params, torch.autograd.grad(loss, params), strict=True):
            p.grad = grad
        optimiser.step()

    # ---- validation and the loop -------------------------------------------------------------------------------
    def member_module(self, j: int) -> WGANGP:
        """Member j's current weights in a `WGANGP` (eval mode)."""
        position = self.running.index(j)
        module = WGANGP(self.config, noise_seed=self.specs[j].seed)
        module.load_state_dict(self.nets.member_state(position, self.steps[j]))
        return module.eval()

    def validate(self, j: int) -> dict:
        """Member j's validation scores, as `WGANGP`'s validation epoch computes them (same noise stream)."""
        module = self.member_module(j)
        val = self.val_windows if self.val[j] is None else self.val_windows.subset(self.val[j])
        history, calendar, reviews, target, scale_min, scale_range = _window_tensors(val)
        generator = seeded_generator(self.specs[j].seed, VAL_STREAM)
        parts = []
        for start in range(0, len(history), self.val_batch):
            part = slice(start, start + self.val_batch)
            samples = module.sample(history[part], calendar[part], reviews[part], self.config.val_samples,
                                    generator=generator, scale_min=scale_min[part], scale_range=scale_range[part])
            low, span = scale_min[part].double().numpy(), scale_range[part].double().numpy()
            parts.append([units_from_scaled(x.double().numpy(), low, span)
                          for x in (history[part], target[part], samples)])
        history_units, target_units, sample_units = (np.concatenate(p) for p in zip(*parts))
        return gan_validation_scores(history_units, target_units, sample_units)

    def run(self) -> Iterator[Validation]:
        """Train every member to its end; yields each member's `Validation` at each of its epoch ends (or every
        `val_every` steps) and at its last step."""
        while self.running:
            self.step()
            ended = []
            for j in list(self.running):
                at_check = self.steps[j] % (self.specs[j].val_every or self.per_epoch[j]) == 0
                out_of_budget = self.steps[j] >= self._budget(j)
                if not (at_check or out_of_budget):
                    continue
                scores = self.validate(j)
                improved = scores["val_crps"] < self.best[j]
                self.best[j] = min(self.best[j], scores["val_crps"])
                self.waited[j] = 0 if improved else self.waited[j] + 1
                patience = self.specs[j].patience
                finished = out_of_budget or bool(patience and self.waited[j] >= patience)
                stats = {name: self._sums[j][name] / max(1, self._counts[j]) for name in STAT_NAMES
                         if name != "g_crps" or self.config.crps_weight > 0}
                self._sums[j], self._counts[j] = dict.fromkeys(STAT_NAMES, 0.0), 0
                yield Validation(member=j, epoch=(self.steps[j] - 1) // self.per_epoch[j], step=self.steps[j],
                                 stats=stats, scores=scores, improved=improved, finished=finished,
                                 state=self.nets.member_state(self.running.index(j), self.steps[j]),
                                 hyper_parameters={"config": asdict(self.config), "noise_seed": self.specs[j].seed})
                if finished:
                    ended.append(j)
            if ended:
                keep = [position for position, j in enumerate(self.running) if j not in ended]
                self.running = [self.running[p] for p in keep]
                if self.running:
                    previous = (self.opt_g, self.opt_d)
                    self.nets.select(keep)
                    self._optimisers(previous, keep)
