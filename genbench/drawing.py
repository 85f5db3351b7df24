"""How samples are drawn where genbench draws them (a checkpoint's model, a user's --factory), in
numbers that `--help`, the docs and the samplers read from one place, without importing torch."""

from __future__ import annotations

CHECKPOINT_CHUNK = 10000  # a genbench model samples this many at a time (memory, not numbers: one generator)
FACTORY_BATCH = 64  # torch-fidelity's default batch size for generative models
FIDELITY_RNG_SEED = 2020  # torch-fidelity's default rng_seed; genbench's default scoring seed is 0

CONVENTION = (
    f"a checkpoint's model.sample in chunks of {CHECKPOINT_CHUNK} from one torch.Generator on --device seeded with "
    f"the scoring seed; --factory in batches of {FACTORY_BATCH} (torch-fidelity's default batch size) from a "
    "torch.Generator on --device seeded with --scoring-seed (default 0), or, for a torch-fidelity "
    "GenerativeModelBase, noise (then class labels) per batch from numpy.random.RandomState(--scoring-seed), as "
    f"torch-fidelity draws it. torch-fidelity's own default is rng_seed {FIDELITY_RNG_SEED}, genbench's 0: pass "
    f"--scoring-seed {FIDELITY_RNG_SEED} to draw the noise torch-fidelity's command-line tool draws by default for a generator model"
)
