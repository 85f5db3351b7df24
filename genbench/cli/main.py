"""`genbench` command line. Each sub-command calls the function of the same name in
`genbench.api`, with flags named as its keyword arguments. Bad input: one line, exit 2."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys

from genbench import __version__, drawing
from genbench.errors import GenbenchError
from genbench.io import is_stdout

LISTABLE = ("datasets", "models", "metrics", "extractors", "recipes", "suites")

EPILOG = """examples:
  genbench bench quick                      train + score the quick suite, write leaderboards/quick.md
  genbench train grid25/gmm --seed 1        one run: runs/grid25/gmm/seed1/{model.safetensors,record.json}
  genbench score --checkpoint runs/grid25/gmm/seed1/model.safetensors
  genbench score --samples my.npy --dataset ring8 --json scores.json
  genbench score --factory mypkg.models:build --dataset digits --factory-kwargs '{"width": 64}'
  genbench score --hf-model ./my-gpt2 --dataset shakespeare-char   bits per character and per byte
  genbench score --text hyps.txt --refs refs.txt   corpus BLEU, chrF and TER (sacrebleu, with signatures)
  genbench score --text hyps.txt --refs r1.txt r2.txt --sacrebleu tokenize=intl --compare baseline.txt
  genbench fetch inception                  download + verify Inception-v3 weights (for an offline machine)
  genbench gate --baseline leaderboards/quick.csv --results runs/
  genbench site                             the leaderboards as a web page: leaderboards/site/index.html
"""


class Parser(argparse.ArgumentParser):
    """argparse's parser, with an epilog built only when help is asked for: the metric table it lists
    needs the metrics imported (torch with them), which every other use of the parser goes without."""

    lazy_epilog = None

    def format_help(self) -> str:
        text = super().format_help()
        return text if self.lazy_epilog is None else f"{text}\n{self.lazy_epilog()}\n"


def metrics_epilog(tolerances: bool):
    def epilog() -> str:
        from genbench.metrics import outputs_help

        what = "direction, unit, scale and the gate's default tolerance" if tolerances else "direction, unit and scale"
        return f"metric outputs ({what}; `genbench list metrics` describes each):\n" + outputs_help(tolerances)

    return epilog


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="genbench",
        description="Benchmark generative models: train baselines from recipes, score checkpoints or samples, "
                    "build leaderboards, and gate regressions in CI.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"genbench {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def add(name, help_, description=None):
        sp = sub.add_parser(name, help=help_, description=description or help_)
        sp.add_argument("--quiet", "-q", action="store_true", help="no progress bars or status lines")
        return sp

    sp = add("list", "list registered datasets, models, metrics, recipes or suites")
    sp.add_argument("what", nargs="?", choices=LISTABLE, help="what to list (default: everything)")
    sp.add_argument("--baselines", help="recipes folder (default: ./baselines or $GENBENCH_BASELINES)")

    sp = add("train", "train one recipe with one seed",
             "Train RECIPE (an id such as grid25/gmm, or a path to a .toml) with one seed. Writes "
             "RUNS/<recipe>/seed<N>/model.safetensors, model.json (config) and record.json (metrics). "
             "Launched as `torchrun --nproc-per-node N -m genbench train RECIPE`, a gradient-trained model "
             "trains data-parallel over N processes (each batch split across them; rank 0 writes).")
    sp.add_argument("recipe", help="recipe id (see `genbench list recipes`) or path to a recipe .toml")
    sp.add_argument("--seed", type=int, help="seed (default: the recipe's first seed)")
    sp.add_argument("--device", choices=("auto", "cpu", "cuda"), help="device (default: the recipe's, usually auto)")
    sp.add_argument("--runs", default="runs", help="folder for run outputs (default: runs)")
    sp.add_argument("--baselines", help="recipes folder (default: ./baselines or $GENBENCH_BASELINES)")
    sp.add_argument("--threads", type=int, metavar="N",
                    help="torch threads per run (default: one per core). The thread count is part of what sets a "
                         "run's numbers on the CPU (it is recorded with each run): `--threads 1` reproduces a run of `bench --jobs 2` on 2 cores")

    sp = add("score", "score a checkpoint, samples, your own model, a Hugging Face LM, features or MT outputs",
             "Score a model checkpoint (sampled here), an array of samples or your own model (sampled here) "
             "against a dataset, a Hugging Face causal LM on a text dataset's held-out text, features, or "
             "system outputs against references. "
             "Prints a table; --json writes {\"metrics\": {...}, \"n_samples\": N, \"dataset\": ..., \"versions\": ...}.")
    src = sp.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="a genbench .safetensors checkpoint (its .json config beside it)")
    src.add_argument("--samples", help=".npy/.npz array of shape (N, *data shape) ((N, 2) for 2-D data; images "
                                       "(N,H,W) or (N,C,H,W), uint8 0-255 or float in [0,1]; text: token ids (N, T)), "
                                       "or a folder of PNGs")
    src.add_argument("--factory", metavar="PKG.MODULE:BUILD",
                     help="your own model: BUILD(**--factory-kwargs) returns an object with sample(n, generator), "
                          "a torch_fidelity GenerativeModelBase, or a callable (n, generator) -> tensor; samples are "
                          "drawn on --device with --scoring-seed and checked like a --samples file (needs --dataset)")
    src.add_argument("--hf-model", metavar="DIR",
                     help="a Hugging Face causal LM folder (safetensors weights, its tokenizer): bits per character "
                          "and per byte of --dataset's held-out text (needs genbench[hf])")
    src.add_argument("--features", help="(N, d) .npy/.npz features extracted elsewhere (e.g. CLIP): FID, KID, "
                                        "precision/recall, density/coverage against --reference-features")
    src.add_argument("--text", help="system outputs, UTF-8, one segment per line: corpus BLEU, chrF and TER "
                                    "(sacrebleu) against --refs, and each line's scores in --json")
    sp.add_argument("--refs", nargs="+", action="extend", metavar="FILE",
                    help="reference files for --text, UTF-8, one segment per line (same line count); several "
                         "files (or a repeated --refs) are several references per segment")
    sp.add_argument("--sacrebleu", action="append", metavar="KEY[=VALUE]",
                    help="a sacrebleu command-line option for --text (repeatable), named as there: tokenize=intl, "
                         "lowercase, smooth-method=floor, smooth-value=0.1, chrf-word-order=2 (chrF++), "
                         "chrf-char-order, chrf-beta, chrf-whitespace, chrf-lowercase, chrf-eps-smoothing, "
                         "ter-case-sensitive, ter-asian-support, ter-no-punct, ter-normalized, paired-bs-n=N, "
                         "confidence (a 95%% bootstrap interval per score, sacrebleu's --confidence) and "
                         "confidence-n=N (its resamples, default 1000); each is recorded in the signatures")
    sp.add_argument("--compare", metavar="BASELINE",
                    help="another system's outputs for --text: paired bootstrap resampling (sacrebleu's --paired-bs) "
                         "of --text against it, p-value per metric")
    sp.lazy_epilog = metrics_epilog(tolerances=False)
    sp.add_argument("--dataset", help="dataset to score against (required with --samples, --factory and --hf-model)")
    sp.add_argument("--metrics", help="comma-separated metric names (default: every metric that applies)")
    sp.add_argument("--json", help="also write the scores to this JSON file (atomically); '-' (or /dev/stdout): "
                                   "print the JSON alone on stdout, the summary on stderr")
    sp.add_argument("--save-samples", metavar="FILE.npy",
                    help="--checkpoint or --factory: also write the samples drawn here, as they were scored (float32, "
                         "the dataset's shape; images in [0, 1]), to this .npy file (atomically; never an input, the "
                         "--json file or inside a run folder), so that `score --samples FILE.npy` gives the same sample "
                         f"metrics. How they are drawn: {drawing.CONVENTION}")
    sp.add_argument("--n-samples", type=int, help="samples to score: drawn from a checkpoint or --factory, or the first N "
                                                  "of --samples "
                                                  "(default: each metric's protocol count; coverage refuses fewer "
                                                  "samples than its protocol's unless this asks for them)")
    sp.add_argument("--scoring-seed", type=int, help="seed of the sampling stream for a checkpoint or --factory (default: a run "
                                             "checkpoint's recorded scoring seed, so that it scores as its record; "
                                             "otherwise 0)")
    sp.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="device (default auto)")
    sp.add_argument("--extractor", help="feature extractor for image metrics (default: the dataset's domain "
                                        "classifier; see `genbench list extractors`)")
    sp.add_argument("--inception-weights", help="path of weights-inception-2015-12-05-6726825d.pth "
                                                "(or set GENBENCH_INCEPTION_WEIGHTS)")
    sp.add_argument("--kid-subset-size", type=int, help="KID subset size (default min(1000, N))")
    sp.add_argument("--bootstrap", type=int, metavar="N",
                    help="standard errors of the image metrics (FID, KID, IS, precision/recall, density/coverage) "
                         "over N resamples of the samples with replacement, printed as ± and kept in --json's "
                         "\"stderr\" (off by default; the features are extracted once, each resample re-scores)")
    sp.add_argument("--reference", metavar="REF",
                    help="the real images FID, KID, precision/recall and density/coverage compare with (default: the "
                         "dataset's train split, as leaderboard columns are): a dataset split by name, DATASET-SPLIT "
                         "(e.g. digits-test, fashion-mnist-train), a folder of PNG/JPEG files or an .npy/.npz array of "
                         "images (converted to the dataset's channels and [0, 1]; their size must be the dataset's); "
                         "recorded in the result as \"reference\" and in each image metric's info")
    sp.add_argument("--batch-size", type=int, metavar="N",
                    help="images per forward pass of the feature extractor (default 512): speed and memory only, "
                         "the numbers do not change")
    sp.add_argument("--reference-features", help="(N, d) reference features for --features")
    sp.add_argument("--factory-kwargs", metavar="JSON",
                    help="keyword arguments for the --factory function, a JSON object, e.g. '{\"width\": 64}'")
    sp.add_argument("--hf-stride", type=int, metavar="N",
                    help="--hf-model: tokens each window of the model's context advances (default: the whole "
                         "context, lm-evaluation-harness's rolling windows; less gives each token more context and "
                         "reads lower, named in the result)")
    sp.add_argument("--baselines", help="folder whose <dataset>/classifier.* weights the domain extractors load "
                                        "(default: ./baselines or $GENBENCH_BASELINES)")

    sp = add("fetch", "download (once, SHA-256 checked) the Inception weights or a dataset's files",
             "Get the files WHAT needs through genbench's one checksum-verified loader and print where they are: "
             "'inception' (torch-fidelity's Inception-v3 weights, for --extractor inception-v3-compat) or a dataset "
             "name. Files already on disk are verified, not downloaded again. On an online machine, then copy them "
             "to an air-gapped machine's $GENBENCH_CACHE (default ~/.cache/genbench, same subfolders) or "
             "$GENBENCH_DATA.")
    sp.add_argument("what", metavar="WHAT", help="'inception' or a dataset (see `genbench list datasets`)")

    sp = add("train-extractor", "train a dataset's domain classifier (the offline image-metric extractor)",
             "Train the classifier of baselines/<dataset>/classifier.toml and write classifier.safetensors and "
             "classifier.json (SHA-256, test accuracy) beside it.")
    sp.add_argument("recipe", help="dataset name (e.g. digits) or path to a classifier.toml")
    sp.add_argument("--baselines", help="recipes folder (default: ./baselines or $GENBENCH_BASELINES)")

    sp = add("bench", "train and score every recipe x seed of a suite, then rebuild its leaderboard",
             "Run each recipe x seed of SUITE that has no current record under RUNS (so an interrupted "
             "bench continues where it stopped), then rebuild LEADERBOARDS/<suite>.md and .csv.")
    sp.add_argument("suite", help="suite name (see `genbench list suites`)")
    sp.add_argument("--runs", default="runs", help="folder for run outputs (default: runs)")
    sp.add_argument("--leaderboards", default="leaderboards", help="folder for tables (default: leaderboards)")
    sp.add_argument("--device", choices=("auto", "cpu", "cuda"), help="override every recipe's device")
    sp.add_argument("--baselines", help="recipes folder (default: ./baselines or $GENBENCH_BASELINES)")
    sp.add_argument("--no-plots", dest="plots", action="store_false", help="skip the sample plots (runs write no plot artefact; a later "
                         "`genbench leaderboard` draws it from the checkpoint)")
    sp.add_argument("--jobs", "-j", type=int, default=1, metavar="N",
                    help="train N runs at once in worker processes, each with cores/N torch threads (or --threads; default 1). "
                         "Runs are claimed first, so several benches may share one --runs folder")
    sp.add_argument("--threads", type=int, metavar="N",
                    help="torch threads per run (default: one per core serially, cores/N with --jobs N, 1 per Ray task). The thread count is part of what sets a "
                         "run's numbers on the CPU (it is recorded with each run): runs with the same count give the same numbers however they are spread")
    sp.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                    help="run each run as a task of a Ray cluster: ADDRESS 'auto', 'ray://host:port' or "
                         "'host:port' joins one, no ADDRESS starts a local one (needs genbench[ray])")
    sp.add_argument("--recipes", action="append", metavar="PATTERN",
                    help="run only the suite's recipes whose id matches this glob (repeatable), e.g. "
                         "'fashion-mnist/*'; the table lists the others as not yet run")
    sp.add_argument("--batch-seeds", action="store_true",
                    help="train each recipe's unrecorded seeds together as one stacked computation (as recipes with "
                         "seeds_batched = true always do): each seed keeps its own generator and equals the seed "
                         "run alone to float rounding; records stay per seed")

    sp = add("leaderboard", "rebuild a suite's leaderboard from run records alone")
    sp.add_argument("suite", nargs="?", default="quick", help="suite name (default: quick)")
    sp.add_argument("--runs", default="runs", help="folder holding run records (default: runs)")
    sp.add_argument("--leaderboards", default="leaderboards", help="folder for tables (default: leaderboards)")
    sp.add_argument("--baselines", help="recipes folder (default: ./baselines or $GENBENCH_BASELINES)")
    sp.add_argument("--no-plots", dest="plots", action="store_false", help="skip the sample plots")

    sp.add_argument("--allow-empty", action="store_true",
                    help="with no records at all, write a table that says the suite has not been run")
    sp.add_argument("--html", action="store_true",
                    help="also write the suite's page of the static site, LEADERBOARDS/site/<suite>.html, "
                         "and the site's index (see `genbench site`)")

    sp = add("site", "write the leaderboards as a static web site, from run records alone",
             "Write LEADERBOARDS/site/: index.html and a page per suite that has run records under RUNS, with "
             "sortable tables (mean ± std, per-seed values), published figures, sample plots, the mode-collapse "
             "view and the text trade-off curves. Plain HTML, CSS and a little JavaScript: it opens from disk.")
    sp.add_argument("--runs", default="runs", help="folder holding run records (default: runs)")
    sp.add_argument("--leaderboards", default="leaderboards",
                    help="folder whose site/ gets the pages (default: leaderboards)")
    sp.add_argument("--baselines", help="recipes folder (default: ./baselines or $GENBENCH_BASELINES)")

    sp = add("gate", "fail (exit 1) when a metric is worse than the baseline beyond its tolerance and seed noise",
             "Compare results with a baseline leaderboard CSV, metric by metric in each metric's own direction. "
             "A metric regresses when it is worse by more than its tolerance and the difference of the two "
             "tables' means is significant over their seeds (Welch's t, one-sided, at --alpha). "
             "Exit 0: nothing regressed, and the table of every compared metric with its verdict. Exit 1: a table of "
             "what regressed, with t, df and p. Exit 2: bad input, or nothing to compare. Each metric's default "
             "tolerance, direction, unit and scale: `genbench list metrics`.")
    sp.lazy_epilog = metrics_epilog(tolerances=True)
    sp.add_argument("--baseline", required=True, help="baseline table, e.g. leaderboards/quick.csv")
    sp.add_argument("--results", required=True, help="run records (folder or record.json) or a leaderboard CSV")
    sp.add_argument("--tolerance", action="append", metavar="METRIC=VALUE",
                    help="override a metric's default tolerance, the difference that never fails (repeatable), "
                         "e.g. --tolerance nll=0.1")
    sp.add_argument("--alpha", type=float, default=0.01,
                    help="significance level of the one-sided test over seeds (default 0.01)")
    sp.add_argument("--recipes", action="append", metavar="PATTERN",
                    help="gate only the baseline recipes whose id matches this glob (repeatable), e.g. 'ring8/*'")
    sp.add_argument("--allow-missing", action="store_true",
                    help="do not fail when a baseline recipe or metric is absent from the results")
    sp.add_argument("--json", metavar="FILE|-",
                    help="also write the report, pass or fail, as JSON (atomically): passed, alpha, and for every "
                         "compared metric recipe, metric, direction, baseline and now (mean, std, n), worse_by, "
                         "tolerance, t, df, p (null where no test ran) and verdict; '-' (or /dev/stdout): the JSON "
                         "alone on stdout, the table on stderr")
    return p


def cmd_list(args) -> int:
    from genbench.data import DATASETS
    from genbench.metrics import METRICS
    from genbench.models import MODELS
    from genbench.recipes import list_recipes, load_suites

    sections = [args.what] if args.what else list(LISTABLE)
    for section in sections:
        print(f"{section}:")
        if section == "datasets":
            for name, builder in DATASETS.items():
                doc = (builder.__doc__ or "").strip().splitlines()
                print(f"  {name:16s} {doc[0] if doc else ''}")
        elif section == "models":
            for name, cls in MODELS.items():
                kind = "" if not cls.has_log_prob else "  (log_prob: IWAE bound)" if cls.log_prob_is_bound else "  (exact log_prob)"
                print(f"  {name:12s} {cls.family}{kind}")
        elif section == "metrics":
            for name, cls in METRICS.items():
                print(f"  {name:12s} {', '.join(f'{o.key} {o.arrow}' for o in cls.outputs)}")
                for o in cls.outputs:
                    print(f"    {o.key}: {o.description}; {o.direction} is better; unit: {o.units}; "
                          f"gate tolerance: {o.default_tolerance}")
        elif section == "extractors":
            from genbench.features import EXTRACTORS

            for name, builder in EXTRACTORS.items():
                doc = (builder.__doc__ or "").strip().splitlines()
                print(f"  {name:20s} {doc[0] if doc else ''}")
        elif section == "recipes":
            for r in list_recipes(args.baselines):
                print(f"  {r}")
        elif section == "suites":
            for name, suite in load_suites(args.baselines).items():
                print(f"  {name:12s} {len(suite['recipes'])} recipes  {suite.get('description', '')}")
    return 0


def print_scores(metrics: dict, stderr: dict | None = None) -> None:
    from genbench.metrics import output_spec

    width = max(len(k) for k in metrics) if metrics else 0
    for k, v in metrics.items():
        spec = output_spec(k)
        se = f" ± {stderr[k]:.3g} (bootstrap standard error)" if k in (stderr or {}) else ""
        print(f"  {k:{width}s}  {v:.6g}{se}  ({spec.direction} is better; {spec.units})")


def cmd_train(args) -> int:
    from genbench.api import train

    record = train(args.recipe, seed=args.seed, device=args.device, runs=args.runs, baselines=args.baselines,
                   quiet=args.quiet, threads=args.threads)
    if record is None:  # a torchrun helper rank: rank 0 reports
        return 0
    print(f"{record['recipe']} seed {record['seed']} ({record['train']['steps']} steps, "
          f"{record['wall_time_s']:.1f}s) -> {record['run_dir']}")
    print_scores(record["metrics"])
    return 0


def cmd_score(args) -> int:
    from genbench.api import score

    out = score(checkpoint=args.checkpoint, samples=args.samples, dataset=args.dataset, metrics=args.metrics,
                json=args.json, n_samples=args.n_samples, scoring_seed=args.scoring_seed, device=args.device,
                extractor=args.extractor, inception_weights=args.inception_weights,
                kid_subset_size=args.kid_subset_size, features=args.features,
                reference_features=args.reference_features, text=args.text, refs=args.refs,
                baselines=args.baselines, quiet=args.quiet, factory=args.factory,
                factory_kwargs=args.factory_kwargs, hf_model=args.hf_model, hf_stride=args.hf_stride,
                sacrebleu=args.sacrebleu, compare=args.compare, save_samples=args.save_samples,
                reference=args.reference, batch_size=args.batch_size, bootstrap=args.bootstrap)
    # --json - : standard output carries the JSON alone, so the summary goes to stderr
    with contextlib.redirect_stdout(sys.stderr) if is_stdout(args.json) else contextlib.nullcontext():
        print_score_summary(out, args.json)
    for metric, why in out.get("unscored", {}).items():
        print(f"genbench: {metric} not scored: {why}", file=sys.stderr)
    return 1 if out.get("unscored") else 0


def print_score_summary(out: dict, json: str | None) -> None:
    if out.get("hf_model"):
        print(f"{out['dataset']}: {out['hf_model']} on {out['info']['bits-per-byte']['characters']} held-out characters")
    elif out.get("dataset"):
        against = f" against reference {out['reference']} ({out['reference_samples']} images)" if out.get("reference") else ""
        print(f"{out['dataset']}: {out['n_samples']} samples{against}")
    elif out.get("text"):
        print(f"{out['text']}: {out['n_samples']} segments")
    else:
        print(f"{out['features_file']}: {out['n_samples']} feature vectors")
    print_scores(out["metrics"], out.get("stderr"))
    if "sacrebleu" in out:  # sacrebleu's own lines, as `sacrebleu -f text` prints them
        for line in out["sacrebleu"].values():
            print(f"  {line['line']}")
    for metric, info in out["info"].items():
        print(f"  {metric}: " + ", ".join(f"{k} {v}" for k, v in info.items()))
    if "paired_bootstrap" in out:
        print_paired_bootstrap(out["paired_bootstrap"], out["compare"])
    if out.get("saved_samples"):
        print(f"wrote the samples to {out['saved_samples']}")
    if json and not is_stdout(json):
        print(f"wrote {json}")


def cmd_fetch(args) -> int:
    from genbench.api import fetch

    out = fetch(args.what)
    if not out["files"]:
        print(f"{out['name']}: nothing to fetch (it ships with genbench or is generated)")
    for f in out["files"]:
        print(f"{out['name']}: {f} (SHA-256 verified)")
    return 0


def print_paired_bootstrap(test: dict, baseline: str) -> None:
    print(f"paired bootstrap against {baseline} (mean ± 95% half-width over resamples):")
    for key, r in test.items():
        if key != "signatures":
            print(f"  {key}  {r['system']:.4g} ({r['system_mean']:.4g} ± {r['system_ci']:.3g}) vs "
                  f"{r['baseline']:.4g} ({r['baseline_mean']:.4g} ± {r['baseline_ci']:.3g}), p = {r['p_value']:.4g}")
    print("  " + ", ".join(f"{k} {v}" for k, v in test["signatures"].items()))


def cmd_train_extractor(args) -> int:
    from genbench.api import train_extractor

    out = train_extractor(args.recipe, baselines=args.baselines, quiet=args.quiet)
    print(f"{out['dataset']} classifier: test accuracy {out['test_accuracy']:.4f}, "
          f"{out['train_time_s']:.1f}s -> {out['weights']} (sha256 {out['sha256'][:16]}…)")
    return 0


def cmd_bench(args) -> int:
    from genbench.api import bench

    out = bench(args.suite, runs=args.runs, leaderboards=args.leaderboards, device=args.device,
                baselines=args.baselines, plots=args.plots, jobs=args.jobs, ray=args.ray,
                quiet=args.quiet, recipes=args.recipes, threads=args.threads,
                batch_seeds=args.batch_seeds)
    print(f"suite {args.suite}: ran {out['ran']}, skipped {out['skipped']} (already recorded), "
          f"failed {len(out['failed'])}, total {out['wall_time_s']:.1f}s")
    if out["markdown"] is not None:
        print(f"leaderboard written to {out['markdown']} and {out['csv']}")
    for recipe, seed, reason in out["failed"]:
        print(f"  FAILED {recipe} seed {seed}: {reason}")
    return 1 if out["failed"] else 0


def cmd_leaderboard(args) -> int:
    from genbench.api import leaderboard

    out = leaderboard(args.suite, runs=args.runs, leaderboards=args.leaderboards, baselines=args.baselines,
                      plots=args.plots, allow_empty=args.allow_empty, html=args.html)
    print(f"leaderboard written to {out['markdown']} and {out['csv']} ({out['rows']} rows from {out['records']} records)")
    if args.html:
        print(f"web page written to {out['html']}")
    for m in out["missing"]:
        print(f"  not yet run: {m}")
    return 0


def cmd_site(args) -> int:
    from genbench.api import site

    out = site(runs=args.runs, leaderboards=args.leaderboards, baselines=args.baselines)
    print(f"site written to {out['index']} ({len(out['pages'])} suites: "
          f"{', '.join(p.stem for p in out['pages'])})")
    return 0


def cmd_gate(args) -> int:
    from genbench.api import gate

    result = gate(args.baseline, args.results, tolerance=args.tolerance, allow_missing=args.allow_missing,
                  recipes=args.recipes, alpha=args.alpha, json=args.json)
    print(result.report(), file=sys.stderr if is_stdout(args.json) else sys.stdout)
    return 0 if result.passed else 1


COMMANDS = {"list": cmd_list, "train": cmd_train, "score": cmd_score, "fetch": cmd_fetch,
            "train-extractor": cmd_train_extractor,
            "bench": cmd_bench,
            "leaderboard": cmd_leaderboard, "site": cmd_site, "gate": cmd_gate}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return COMMANDS[args.command](args)
    except GenbenchError as e:
        if os.environ.get("RANK", "0") == "0":  # under torchrun every rank fails alike: say it once
            print(f"genbench: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `genbench list | head`: the reader left; not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 0
    except KeyboardInterrupt:
        print("genbench: interrupted; finished runs are kept and `bench` continues from them", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
