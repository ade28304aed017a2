"""Writes benchmarks/RESULTS.md from the JSON files in benchmarks/results.

Never edit RESULTS.md by hand: rerun this script after new runs of
`benchmarks/reproduce.py` or `benchmarks/overheads.py`. Runs made with
`--limit` (smoke runs) are left out unless `--include-smoke` is given.

Usage (from the repository root):

    python benchmarks/make_results.py
    python benchmarks/make_results.py --readme  # also print README rows
"""

import argparse
import json
import platform
import sys
from pathlib import Path

# What `reproduce.py --sparsity S` adds to a run's name.
SPARSITY_TAG = "_sparsity"
# What `reproduce.py --gating weight_and_unit` adds to a run's name.
UNITS_TAG = "_units"
# `reproduce.py --mixed-precision`'s choices, each a run name's suffix.
PRECISIONS = ("bfloat16", "float16")

HERE = Path(__file__).resolve().parent
DEFAULT_RESULTS = HERE / "results"
DEFAULT_OUTPUT = HERE / "RESULTS.md"
SCRIPT = "benchmarks/make_results.py"

RECIPE_TITLES = {
    "mnist": "MNIST",
    "fashion_mnist": "Fashion-MNIST",
    "cifar10": "CIFAR-10, full recipe",
    "cifar10_reduced": "CIFAR-10, reduced CPU protocol",
}
# Datasets of the export tables, in this order.
EXPORT_ORDER = ("mnist", "fashion_mnist", "cifar10_reduced", "cifar10")
VARIANT_LABELS = {
    "gnap": "GNAP",
    "dense": "(a) dense CNN, same params",
    "gmp": "(b) gradual magnitude pruning, same params",
    "growth_off": "(c) GNAP, growth off (prune only)",
    "prune_off": "(c) GNAP, pruning off (growth only)",
}
COUNTING = (
    "How parameters are counted. *Effective params*: "
    "`keras_gnap.count_params`, the non-zero kernel entries between live "
    "units plus one bias per live unit, batch normalisation folded into "
    "the layer before it; gate scores are not counted. *Compacted Keras*: "
    "`keras_gnap.compact(model).count_params()`, the plain Keras model "
    "without dead units, batch normalisation folded (zeros inside kept "
    "units are still stored, so it can exceed the effective count). "
    "*Widest dense*: the widest network reached, gates removed and nothing "
    "pruned, as plain Keras counts it (batch-norm statistics included)."
)


def load_results(results_dir, include_smoke=False):
    """Reads the JSON files of a results folder.

    Args:
        results_dir: path. Folder of `*.json` files written by
            `reproduce.py` and `overheads.py`.
        include_smoke: bool. Whether to keep runs made with `--limit`.
            Defaults to `False`.

    Returns:
        `(runs, overheads)`: a list of run dicts, sorted by recipe, variant
        and seed, and the overheads dict or None.

    Raises:
        ValueError: if a JSON file cannot be parsed.
    """
    runs, overheads = [], None
    for path in sorted(Path(results_dir).glob("*.json")):
        try:
            record = json.loads(path.read_text())
        except json.JSONDecodeError as error:
            raise ValueError(f"{path} is not valid JSON: {error}") from error
        if record.get("kind") == "overheads":
            overheads = record
        elif "variant" in record:
            if record.get("limit") is not None and not include_smoke:
                continue
            record["_file"] = path.name
            runs.append(record)
    runs.sort(key=_run_order)
    return runs, overheads


def load_exports(results_dir):
    """Reads the `export_<dataset>.json` files of `export_report.py`.

    Args:
        results_dir: path. Folder of the JSON results.

    Returns:
        A list of dicts, in dataset order of `EXPORT_ORDER`, then by name.
    """
    exports = []
    for path in sorted(Path(results_dir).glob("export_*.json")):
        record = json.loads(path.read_text())
        if record.get("benchmark") == "export_report":
            exports.append(record)
    order = {name: i for i, name in enumerate(EXPORT_ORDER)}
    exports.sort(key=lambda r: (order.get(r["dataset"], 99), r["dataset"]))
    return exports


def export_rows(exports):
    """Returns the README's export table: what each model costs to run.

    Per dataset, the widest dense network (float32) and the compacted
    model as `keras_gnap.export` writes it by default, float32 and int8:
    multiply-adds, size raw and gzipped, LiteRT latency, and the widest
    dense network's figures over this row's.

    Args:
        exports: list of dicts from `load_exports`.

    Returns:
        A str (empty when there is no export result).
    """
    if not exports:
        return ""
    lines = [
        "| Data | Model | Multiply-adds | Size (bytes) | Gzipped | "
        "Latency (ms) | Widest / this: size, latency, MACs |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for record in exports:
        widest = record["widest_dense"]["float32"]
        rows = [
            ("widest dense, float32", widest),
            ("compacted, float32", record["compacted"]["float32"]),
            ("compacted, int8", record["compacted"]["int8"]),
        ]
        for name, figures in rows:
            ratios = (
                "1x"
                if figures is widest
                else ", ".join(
                    f"{widest[key] / figures[key]:.1f}x"
                    for key in ("bytes", "latency_ms", "macs")
                )
            )
            title = _title(record["dataset"])
            if record.get("gating") == "weight_and_unit":
                title += ", unit gates"
            cells = [
                title,
                name,
                f"{figures['macs']:,}",
                f"{figures['bytes']:,}",
                f"{figures['gzip_bytes']:,}",
                f"{figures['latency_ms']:.4f}",
                ratios,
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _export_section(exports):
    if not exports:
        return []
    lines = [
        "## Export: size and speed",
        "",
        "Written by `benchmarks/export_report.py` (one file per dataset, "
        "`export_<dataset>.json`). Latency: LiteRT, batch 1, one thread, "
        "median. Compacted: `keras_gnap.compact`, as `keras_gnap.export` "
        "writes it by default (the smaller of dense and sparse kernels).",
        "",
        export_rows(exports).rstrip(),
        "",
        "Dense against sparse kernels (the converter's sparse format) of "
        "the same compacted model:",
        "",
        "| Data | Kernels | Size (bytes) | Gzipped | Latency (ms) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for record in exports:
        for name, figures in record["kernels"].items():
            lines.append(
                f"| {_title(record['dataset'])} | {name} | "
                f"{figures['bytes']:,} | {figures['gzip_bytes']:,} | "
                f"{figures['latency_ms']:.4f} |"
            )
    lines.append("")
    for record in exports:
        accuracy = record["validation_accuracy"]
        lines.append(
            f"- {_title(record['dataset'])} (`{record['model']}`): "
            "validation accuracy "
            + ", ".join(f"{k} {_percent(v)}" for k, v in accuracy.items())
            + f"; widths {record['widths']['widest']} widest, "
            f"{record['widths']['compacted']} compacted. "
            f"`{record['command']}`"
        )
    lines.append("")
    return lines


def render(runs, overheads, exports=()):
    """Returns the Markdown text of RESULTS.md.

    Args:
        runs: list of run dicts from `load_results`.
        overheads: overheads dict from `load_results`, or None.
        exports: list of dicts from `load_exports`. Defaults to none.

    Returns:
        A str.
    """
    lines = [
        "# Benchmark results",
        "",
        f"Generated by `python {SCRIPT}` from `benchmarks/results/*.json`; "
        "do not edit by hand. Accuracy is on the split named beside it: "
        "*validation* is held out from the training data and used to "
        "choose settings; *test* is the official test split, evaluated "
        "once per run.",
        "",
        COUNTING,
        "",
    ]
    if not runs:
        lines += ["No recipe runs recorded yet.", ""]
    for recipe_name in _recipe_names(runs):
        lines += _recipe_section(
            [r for r in runs if r["recipe_name"] == recipe_name]
        )
    lines += _export_section(list(exports))
    lines += _overheads_section(overheads)
    lines += _machine_section(runs, overheads)
    lines += _commands_section(runs, overheads)
    return "\n".join(lines).rstrip() + "\n"


def headline_rows(runs):
    """Returns a Markdown table of GNAP's results against the baselines.

    One row per recipe and seed with a GNAP run (the seed is named when
    a recipe has several): GNAP's accuracy and effective parameters, then
    the accuracy and effective parameters of the dense CNN, of gradual
    magnitude pruning and of GNAP with growth off, when they were run.
    Meant for the README.

    Args:
        runs: list of run dicts from `load_results`.

    Returns:
        A str.
    """
    lines = [
        "| Data | GNAP accuracy | Effective params | Dense CNN | "
        "Magnitude pruning | GNAP, growth off |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    gnap_seeds = {}
    for run in runs:
        if run["variant"] == "gnap":
            gnap_seeds.setdefault(run["recipe_name"], set()).add(run["seed"])
    for run in runs:
        if run["variant"] != "gnap":
            continue
        same = {
            r["variant"]: r
            for r in runs
            if r["recipe_name"] == run["recipe_name"]
            and r["seed"] == run["seed"]
        }
        title = _title(run["recipe_name"])
        if len(gnap_seeds[run["recipe_name"]]) > 1:
            title += f", seed {run['seed']}"
        cells = [
            title,
            f"{_percent(run['accuracy'])} ({run['accuracy_split']})",
            f"{run['effective_params']:,}",
        ]
        for variant in ("dense", "gmp", "growth_off"):
            other = same.get(variant)
            cells.append(
                "not run"
                if other is None
                else f"{_percent(other['accuracy'])} at "
                f"{other['effective_params']:,}"
            )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _recipe_section(runs):
    name = runs[0]["recipe_name"]
    title = _title(name)
    lines = [f"## {title}", ""]
    smoke = sorted({r["limit"] for r in runs if r.get("limit") is not None})
    if smoke:
        lines += [
            f"Smoke runs (`--limit {', '.join(map(str, smoke))}`): not "
            "results, only a check that the pipeline runs.",
            "",
        ]
    lines += _recipe_lines(runs[0]) + [""]
    lines += [
        "| Variant | Validation accuracy | Test accuracy | Effective params "
        "| Compacted Keras | Widest dense | Growth events | Epochs "
        "| Training | Wall | Load | Seed |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | "
        "---: | ---: | ---: |",
    ]
    for run in runs:
        compact = run.get("compact_params")
        cells = [
            VARIANT_LABELS.get(run["variant"], run["variant"]),
            _percent(_split_accuracy(run, "validation")),
            _percent(_split_accuracy(run, "test")),
            f"{run['effective_params']:,}",
            "failed" if compact is None else f"{compact:,}",
            f"{run['widest']['dense_params']:,}",
            str(len(run.get("growth_events", []))),
            str(run["epochs"]),
            _duration(run["train_seconds"]),
            _duration(run["wall_seconds"]),
            _load(run.get("load_average")),
            str(run["seed"]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "*Load*: the machine's load average over the last 15 minutes of "
        "the run, to read against its usable CPU cores (see Machine): near "
        "the core count or below when the run had the machine to itself, "
        "more when other runs shared it and slowed it down.",
        "",
    ]
    lines += _stale_lines(runs)
    lines += _verdicts(runs)
    return lines


def _stale_lines(runs):
    """Flags the runs whose settings differ from the GNAP run's.

    A baseline compares with GNAP only when both ran the same recipe
    (growth settings aside for the variants that do not grow, and gate
    freezing aside for those without gates to train), a sized baseline
    only when this GNAP run sized it, and growth off only when it started
    at this GNAP run's widest widths. Each run is compared with the GNAP
    run of its own seed (the first GNAP run when its seed has none), since
    each seed's baselines are sized by that seed's GNAP run.
    """
    gnaps = [r for r in runs if r["variant"] == "gnap"]
    if not gnaps:
        return []
    by_seed = {}
    for run in gnaps:
        by_seed.setdefault(run["seed"], run)
    ignored = {
        "dense": {"growth"},
        "gmp": {"growth"},
        "growth_off": {"growth"},
    }
    stale = []
    for run in runs:
        if run["variant"] == "gnap":
            continue
        gnap = by_seed.get(run["seed"], gnaps[0])
        label = VARIANT_LABELS.get(run["variant"], run["variant"])
        if len(by_seed) > 1:
            label += f" (seed {run['seed']})"
        skip = ignored.get(run["variant"], set()) | {"name"}
        differences = _differences(
            {k: v for k, v in gnap["recipe"].items() if k not in skip},
            {k: v for k, v in run["recipe"].items() if k not in skip},
        )
        reference = run.get("reference") or {}
        sized = reference.get("effective_params")
        widths = (reference.get("widest") or {}).get("widths")
        if differences:
            stale.append(
                f"- {label}: its recipe differs from the GNAP row's in "
                + "; ".join(differences)
                + "."
            )
        elif run["variant"] == "growth_off":
            # Built at GNAP's widest widths, whatever count GNAP ends with.
            if widths is not None and widths != gnap["widest"]["widths"]:
                stale.append(
                    f"- {label}: built at an earlier GNAP run's widest "
                    f"widths ({widths})."
                )
        elif sized is not None and sized != gnap["effective_params"]:
            stale.append(
                f"- {label}: sized by an earlier GNAP run ({sized:,} "
                "effective params)."
            )
    if not stale:
        return []
    return ["Runs whose settings differ from this GNAP row's:", "", *stale, ""]


def _differences(ours, theirs, path=""):
    """Lists `path: ours vs theirs` for every setting that differs."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        found = []
        for key in sorted(set(ours) | set(theirs)):
            found += _differences(
                ours.get(key), theirs.get(key), f"{path}{key}."
            )
        return found
    if ours == theirs:
        return []
    return [f"`{path.rstrip('.')}` ({ours!r} for GNAP, {theirs!r})"]


def _recipe_lines(run):
    recipe, data = run["recipe"], run["data"]
    settings, growth = recipe["settings"], recipe["growth"]
    augment = settings["augmentation"]
    test = (
        f", {data['test_examples']:,} test" if data.get("test_examples") else ""
    )
    shifts = (
        (
            f"turns up to {augment['rotation']:g} degrees and zooms up to "
            f"{augment['zoom']:.0%}, then "
            if augment.get("rotation") or augment.get("zoom")
            else ""
        )
        + f"shifts up to {augment['padding']} px"
        + (" and horizontal flips" if augment["flip"] else "")
    )
    return [
        f"Data: `{data['source']}`, {data['train_examples']:,} training and "
        f"{data['validation_examples']:,} validation images{test}.",
        f"The default policy (`keras_gnap/recipes.py`, `{recipe['name']}`): "
        f"start {_stages(recipe['stages'])} (preset `{settings['preset']}`), "
        f"sparsity {recipe['sparsity']}; Adam from "
        f"{settings['learning_rate']} with cosine decay, batch "
        f"{settings['batch_size']}, {settings['epochs']} epochs; "
        f"augmentation: {shifts}; `GrowthCallback()` defaults (growth on "
        f"`{growth['monitor']}`, patience {growth['patience']}, factor "
        f"{growth['growth_factor']}, at most {growth['max_growths']} "
        f"growths, max params {growth['max_params']}).",
    ]


def _verdicts(runs):
    lines = []
    gnaps = [r for r in runs if r["variant"] == "gnap"]
    for gnap in gnaps:
        same_seed = {r["variant"]: r for r in runs if r["seed"] == gnap["seed"]}
        # With several seeds, each verdict names the seed it rests on.
        seed = f"Seed {gnap['seed']}: " if len(gnaps) > 1 else ""
        target = gnap["recipe"].get("target")
        if target:
            met = (
                gnap["accuracy"] >= target["accuracy"]
                and gnap["effective_params"] <= target["effective_params"]
            )
            lines.append(
                f"- Target (paper): at least {_percent(target['accuracy'])} "
                f"with at most {target['effective_params']:,} effective "
                f"parameters. GNAP (seed {gnap['seed']}): "
                f"{_percent(gnap['accuracy'])} {gnap['accuracy_split']} "
                f"accuracy with {gnap['effective_params']:,}: "
                f"**{'met' if met else 'not met'}**."
            )
        for variant in ("dense", "gmp"):
            other = same_seed.get(variant)
            if other is None:
                continue
            gaps = _gaps(gnap, other)
            if all(points > 0 for _, points in gaps):
                verdict = "beats it"
            elif all(points <= 0 for _, points in gaps):
                verdict = "does not beat it"
            else:
                verdict = "beats it on one split only"
            size = other["effective_params"] / gnap["effective_params"]
            lines.append(
                f"- {seed}GNAP against {VARIANT_LABELS[variant]}: {verdict}, "
                f"{_gaps_text(gaps)}, at {size:.2f}x GNAP's effective "
                "parameters."
            )
        for variant in ("growth_off", "prune_off"):
            other = same_seed.get(variant)
            if other is None:
                continue
            size = other["effective_params"] / gnap["effective_params"]
            lines.append(
                f"- {seed}Ablation, {VARIANT_LABELS[variant]}: GNAP is "
                f"{_gaps_text(_gaps(gnap, other))} against it, which uses "
                f"{size:.2f}x GNAP's effective parameters."
            )
    lines += _seed_means(runs)
    for run in runs:
        if run.get("compact_error"):
            lines.append(
                f"- Compaction failed for {run['variant']} (seed "
                f"{run['seed']}): {run['compact_error']}"
            )
    if lines:
        lines.append("")
    return lines


def _seed_means(runs):
    """Averages GNAP's gap to each other variant over the seeds both ran.

    One seed's gap mixes the methods' difference with seed noise; the mean
    over seeds, shown beside the per-seed gaps, is what a verdict should
    rest on when a recipe was run with several seeds.
    """
    gnaps = {r["seed"]: r for r in runs if r["variant"] == "gnap"}
    lines = []
    for variant in ("dense", "gmp", "growth_off", "prune_off"):
        pairs = [
            (gnaps[r["seed"]], r)
            for r in runs
            if r["variant"] == variant and r["seed"] in gnaps
        ]
        if len(pairs) < 2:
            continue
        per_seed = [_gaps(gnap, other) for gnap, other in pairs]
        by_split = [dict(gaps) for gaps in per_seed]
        means = [
            (split, sum(g[split] for g in by_split) / len(by_split))
            for split in by_split[0]
            if all(split in g for g in by_split)
        ]
        seeds = ", ".join(str(gnap["seed"]) for gnap, _ in pairs)
        each = "; ".join(
            f"seed {gnap['seed']}: {_gaps_text(gaps)}"
            for (gnap, _), gaps in zip(pairs, per_seed, strict=True)
        )
        lines.append(
            f"- Mean over seeds {seeds}, GNAP against "
            f"{VARIANT_LABELS[variant]}: {_gaps_text(means)} ({each})."
        )
    return lines


def _overheads_section(overheads):
    lines = ["## Overheads", ""]
    if overheads is None:
        return lines + [
            "Not measured yet: run `python benchmarks/overheads.py`.",
            "",
        ]
    settings = overheads["settings"]
    lines += [
        "Training step time of a GNAP network (gated layers, sparsity "
        "loss) against the plain Keras network of the same shape "
        f"(batch {settings['batch_size']}, median of "
        f"{settings['rounds']} rounds of {settings['steps']} steps). "
        "The rounds alternate gated and plain; the ratio is the median of "
        "each round's gated / plain ratio, so it compares steps timed side "
        "by side and can differ from the ratio of the two median step "
        "times when the machine's load varies.",
        "",
        "| Network | Widths | Dense params | Gated ms/step | Plain ms/step "
        "| Ratio gated / plain |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for row in overheads["step_time"]:
        cells = [
            f"{row['recipe']}, {row['network']}",
            _stages(row["stages"]),
            f"{row['dense_params']:,}",
            f"{1000 * row['gated_seconds_per_step']:.1f}",
            f"{1000 * row['plain_seconds_per_step']:.1f}",
            f"{row['ratio']:.2f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "One growth event inside `fit`: `GrowthCallback.on_epoch_end` when "
        "it grows (plan, widen, copy weights, rebuild the optimizer), plus "
        "the retracing of the training step after it. Counting effective "
        "parameters, done every epoch, is shown apart.",
        "",
        "| Network | Dense params | Callback s | Retrace s | Total s "
        "| Counting s/epoch |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in overheads["growth"]:
        cells = [
            f"{row['recipe']}, {row['network']}",
            f"{row['dense_params_before']:,} -> {row['dense_params_after']:,}",
            f"{row['callback_seconds']:.2f}",
            f"{row['retrace_seconds']:.2f}",
            f"{row['total_seconds']:.2f}",
            f"{row['count_params_seconds']:.3f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines + [""]


def _machine_section(runs, overheads):
    lines = ["## Machine", ""]
    seen = []
    for record in [*runs, *([overheads] if overheads else [])]:
        machine = record.get("machine")
        versions = record.get("versions", {})
        if machine is None:
            continue
        text = (
            f"{machine['platform']}, {machine['machine']}, "
            f"{machine['usable_cpus']} usable CPU cores of "
            f"{machine['cpu_count']}, {machine['gpus']} GPU; Keras "
            f"{versions.get('keras')}, backend "
            f"{versions.get('backend', 'tensorflow')} "
            f"{versions.get(versions.get('backend', 'tensorflow'))}"
        )
        if text not in seen:
            seen.append(text)
    if not seen:
        seen.append(
            f"{platform.platform()} (this machine; no run recorded one)"
        )
    return lines + [f"- {text}" for text in seen] + [""]


def _commands_section(runs, overheads):
    lines = [
        "## Commands",
        "",
        "From the repository root, exactly as recorded in each JSON file.",
        "",
        "```bash",
    ]
    commands = []
    for run in runs:
        if run["command"] not in commands:
            commands.append(run["command"])
    if overheads is not None:
        commands.append(overheads["command"])
    commands.append(f"python {SCRIPT}")
    lines += commands + ["```", ""]
    if runs:
        lines += ["One variant at a time:", "", "```bash"]
        lines += [run["variant_command"] for run in runs]
        lines += ["```", ""]
    return lines


def _recipe_names(runs):
    names = []
    for run in runs:
        if run["recipe_name"] not in names:
            names.append(run["recipe_name"])
    return names


def _title(recipe_name):
    # `reproduce.py --sparsity S` names a run "<recipe>_sparsity<S>"
    # (`reproduce.SPARSITY_TAG`), `--gating weight_and_unit`
    # "<recipe>_units" (`reproduce.UNITS_TAG`), `--mixed-precision P`
    # "<recipe>_<P>".
    for precision in PRECISIONS:
        if recipe_name.endswith(f"_{precision}"):
            base = recipe_name.removesuffix(f"_{precision}")
            return f"{_title(base)}, {precision}"
    units = recipe_name.endswith(UNITS_TAG)
    base, _, sparsity = recipe_name.removesuffix(UNITS_TAG).partition(
        SPARSITY_TAG
    )
    title = RECIPE_TITLES.get(base, base)
    if sparsity:
        title += f", sparsity {sparsity}"
    return f"{title}, unit gates" if units else title


def _run_order(run):
    recipe_names = list(RECIPE_TITLES)
    variants = list(VARIANT_LABELS)
    name, variant = run["recipe_name"], run["variant"]
    base = name.removesuffix(UNITS_TAG).partition(SPARSITY_TAG)[0]
    return (
        recipe_names.index(base) if base in recipe_names else len(recipe_names),
        name,
        run.get("seed", 0),
        variants.index(variant) if variant in variants else len(variants),
    )


def _percent(value):
    return "-" if value is None else f"{100 * value:.2f}%"


def _gaps(run, other):
    # Accuracy points of `run` over `other` on every split both measured.
    gaps = []
    for split in ("validation", "test"):
        mine = _split_accuracy(run, split)
        theirs = _split_accuracy(other, split)
        if mine is not None and theirs is not None:
            gaps.append((split, 100 * (mine - theirs)))
    return gaps


def _gaps_text(gaps):
    return ", ".join(
        f"{points:+.2f} {split} accuracy points" for split, points in gaps
    )


def _split_accuracy(run, split):
    # Runs record both splits; older ones only `accuracy` and its split.
    value = run.get(f"{split}_accuracy")
    if value is None and run.get("accuracy_split") == split:
        value = run["accuracy"]
    return value


def _load(load_average):
    return "-" if not load_average else f"{load_average[-1]:.1f}"


def _duration(seconds):
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min"


def _stages(stages):
    return " / ".join("-".join(str(w) for w in stage) for stage in stages)


def main(argv=None):
    """Writes RESULTS.md; with `--readme`, also prints the README's tables.

    Returns:
        The text written.
    """
    parser = argparse.ArgumentParser(
        prog=f"python {SCRIPT}", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--results-dir", default=str(DEFAULT_RESULTS))
    parser.add_argument("--output", default=str(DEFAULT_OUTPUT))
    parser.add_argument(
        "--include-smoke",
        action="store_true",
        help="Keep runs made with --limit.",
    )
    parser.add_argument(
        "--readme",
        action="store_true",
        help="Also print the README's tables.",
    )
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    runs, overheads = load_results(args.results_dir, args.include_smoke)
    exports = load_exports(args.results_dir)
    text = render(runs, overheads, exports)
    Path(args.output).write_text(text)
    print(f"Wrote {args.output} ({len(runs)} runs).")
    if args.readme:
        print()
        print(headline_rows(runs), end="")
        if exports:
            print()
            print(export_rows(exports), end="")
    return text


if __name__ == "__main__":
    main()
