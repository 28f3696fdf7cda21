"""report.md from metrics.json: tables shaped like the paper's, coverage and chance beside each figure.

A section or figure whose corpus could not be had (`{"unavailable": reason}`
in metrics.json) is one line saying so; the rest of the report is unchanged.
"""


def _number(value, digits=3) -> str:
    if value is None or value != value:  # None or NaN.
        return "n/a"
    return f"{value:.{digits}f}"


def _missing(values) -> str | None:
    """The reason a metrics entry was not computed, or None."""
    return values.get("unavailable") if isinstance(values, dict) else None


def _not_run(title: str, reason: str) -> list[str]:
    return [title, "", f"Not run: {reason}.", ""]


def _split_name(split: str) -> str:
    return "test split" if split == "test" else f"{split} split: the dataset has no test split"


def prediction_rows(section: dict) -> dict:
    """{row name: its precision@k entry} of a word-prediction section: this model under its natural ranking,
    its raw scores where its prior weight is not 0, each baseline, and each baseline's prior-adjusted form where
    its chosen weight is not 0 (what report.md and wsl-demo print)."""
    weight = section.get("prior_weight", 0.0)
    rows = {f"this model (prior weight {weight:g})" if weight else "this model": section}
    if weight and "raw" in section:
        rows["this model, raw scores"] = section["raw"]
    for name, values in section["baselines"].items():
        rows[name.replace("_", " ")] = values
        adjusted = values.get("prior_adjusted") if isinstance(values, dict) else None
        if adjusted and adjusted["prior_weight"]:
            rows[f"{name.replace('_', ' ')} + prior (weight {adjusted['prior_weight']:g})"] = adjusted
    return rows


def word_prediction_table(section: dict) -> tuple[list[str], list[str]]:
    """(the word-prediction table's markdown lines, a note per row not run): report.md's and wsl-demo's table."""
    lines = ["| model | precision@1 | precision@5 | precision@10 |", "|---|---|---|---|"]
    rows = prediction_rows(section)
    if "ceiling" in section:
        rows["ceiling (every word right)"] = section["ceiling"]
    notes = []
    for name, values in rows.items():
        lines.append(f"| {name} | " + " | ".join(_number(values.get(f"precision_at_{k}")) for k in (1, 5, 10)) + " |")
        if _missing(values):
            notes.append(f"`{name}`: not run: {_missing(values)}.")
    return lines, notes


def _word_prediction(section: dict) -> list[str]:
    title = f"## Word prediction (section 4.1, {_split_name(section.get('split', 'test'))})"
    if _missing(section):
        return _not_run(title, _missing(section))
    table, notes = word_prediction_table(section)
    lines = [
        title,
        "",
        f"Over {section['images']} held-out images with at least one of the model's words. The "
        f"ceiling is what a perfect ranking scores: an image with n words gets at most min(k, n) of "
        f"its k right. A prior weight w ranks words by score + w log(word frequency), w chosen on "
        f"the val split (the model's by the trainer); 0 is the raw scores.",
        "",
        *table,
    ]
    rows = prediction_rows(section)
    regression = section["baselines"].get("features_logistic_regression", {})
    floor = section["baselines"].get("random_network_logistic_regression", {})
    if "class_labels_from" in regression:
        lines += [
            "",
            f"The regression baselines fit one logistic regressor per word on the features of "
            f"{regression['train_images']:,} training images, from a network trained with class "
            f"labels on {regression['class_labels_from']} (and, as the floor, from a random network).",
        ]
    elif "train_images" in floor:
        lines += [
            "",
            f"The random-network baseline (the floor) fits one logistic regressor per word on the "
            f"features of {floor['train_images']:,} training images.",
        ]
    margins = []
    for name, values in rows.items():
        if name.startswith("this model") or name.startswith("ceiling") or name == "word frequency":
            continue
        for k in (1, 10):
            ours, theirs = section[f"precision_at_{k}"], values.get(f"precision_at_{k}")
            if theirs:
                margins.append(f"{name} at precision@{k}: {100 * (ours / theirs - 1):+.0f}%")
    if margins:
        lines += ["", "This model against each regression baseline: " + "; ".join(margins) + "."]
    return lines + ([""] + notes if notes else []) + [""]


FEATURES = {
    "end_to_end": "this model",
    "raw_pixels": "raw pixels",
    "random_network": "random network",
    "class_label_network": "class-label network",
}


def _accuracy_cell(values: dict) -> str:
    if _missing(values):
        return "not run"
    if "map" in values:
        return f"mAP {_number(values['map'])}"
    return f"{_number(values['accuracy_mean'])} +/- {_number(values['accuracy_std'])}"


def _transfer(section: dict) -> list[str]:
    lines = [
        "## Transfer learning (section 4.2)",
        "",
        "A linear classifier (L2 logistic regression, C chosen on a validation part) on each set of features, "
        "accuracy over the same 10 random splits (or VOC's mAP); beside this model's features, the floors: the "
        "images' raw pixels as the model sees them, the same architecture randomly initialised, and trained "
        "with class labels on Fashion-MNIST. Zero-shot: each image's class is the class whose name's words "
        "the word layer scores highest.",
        "",
        "| labelled set | " + " | ".join(FEATURES.values()) + " | zero-shot | chance | classes in the dictionary |",
        "|---|" + "---|" * (len(FEATURES) + 3),
    ]
    computed = {name: values for name, values in section.items() if not _missing(values)}
    for name, values in computed.items():
        cells = [_accuracy_cell(values)] + [
            _accuracy_cell(values.get("floors", {}).get(f, {"unavailable": "-"})) for f in list(FEATURES)[1:]
        ]
        zero = values["zero_shot"]
        lines.append(
            f"| {name} | " + " | ".join(cells) + f" | {_number(zero['accuracy'])} | "
            f"{_number(zero['chance'])} | {zero['classes']} of {zero['classes_total']} |"
        )
    lines.append("")
    for name, values in section.items():
        if _missing(values):
            lines += [f"`{name}`: not run: {_missing(values)}.", ""]
    for name, values in computed.items():
        if values["description"]:
            lines += [f"`{name}`: {values['description']}.", ""]
        margins = values.get("margin_sd", {})
        if margins:
            said = ", ".join(f"{FEATURES[f]} by {m:+.1f}" for f, m in margins.items() if m is not None)
            lines += [
                f"`{name}`: the best features are {FEATURES[values['best']]}'s; this model's accuracy minus "
                f"each floor's, in standard deviations of the splits: {said}.",
                "",
            ]
        for floor, floor_values in values.get("floors", {}).items():
            if _missing(floor_values) and floor_values["unavailable"] != "-":
                lines += [f"`{name}`, {FEATURES[floor]}: not run: {_missing(floor_values)}.", ""]
        if values["zero_shot"]["class_words"]:
            lines += [
                f"Zero-shot on {name} ranks the classes by the word layer's scores of "
                f"{', '.join(values['zero_shot']['class_words'])}.",
                "",
            ]
    return lines


def _translation_cell(values: dict) -> str:
    return (
        " / ".join(_number(values[f"p_at_{k}"]) for k in (1, 5, 10))
        + " (random "
        + " / ".join(_number(values[f"random_at_{k}"]) for k in (1, 5, 10))
        + ")"
    )


def _embedding_rows(name: str, values: dict) -> str:
    analogy, men, translation = values["analogy"], values["men"], values["translation"]
    cells = [
        "not run"
        if _missing(analogy)
        else f"{_number(analogy['accuracy'])} ({analogy['questions']}, {analogy['coverage']:.2%})",
        "not run" if _missing(men) else f"{_number(men['spearman'])} ({men['pairs']}, {men['coverage']:.2%})",
    ]
    if _missing(translation):
        cells += ["not run"] * 4
    else:
        cells += [_translation_cell(translation[d]) for d in ("en_fr", "fr_en")]
        cells += [str(translation["en_fr"]["pairs"]), _number(translation["en_fr"]["chance"], 4)]
    return f"| {name} | " + " | ".join(cells) + " |"


def _embeddings(section: dict) -> list[str]:
    lines = [
        "## Word embeddings (section 4.3)",
        "",
        "Analogy accuracy (3CosAdd; questions covered, coverage), MEN Spearman (pairs covered, coverage), "
        "translation precision@1 / @5 / @10 each way on the FreeDict pairs both of whose words are in the "
        "dictionary, beside what a random ranking of the same candidates scores (the paper's chance is "
        "1 / pairs).",
        "",
        "| embeddings | analogies | MEN | en -> fr | fr -> en | pairs | chance |",
        "|---|---|---|---|---|---|---|",
        _embedding_rows("word layer (this model)", section),
    ]
    if "word2vec" in section:
        lines.append(_embedding_rows("word2vec (same captions)", section["word2vec"]))
    if "word2vec_concatenated" in section:
        lines.append(_embedding_rows("both, concatenated", section["word2vec_concatenated"]))
    lines.append("")
    examples = section["translation"].get("examples") if not _missing(section["translation"]) else None
    if examples:
        lines += [
            "The most frequent English words with a FreeDict translation and their five nearest French "
            "words by the word layer's rows (a right one in bold):",
            "",
            "| English | nearest French words | FreeDict |",
            "|---|---|---|",
        ]
        for example in examples:
            nearest = ", ".join(f"**{w}**" if w in example["translations"] else w for w in example["nearest"])
            lines.append(f"| {example['word']} | {nearest} | {', '.join(example['translations'])} |")
        lines.append("")
    for key, what in (("analogy", "analogies"), ("men", "MEN"), ("translation", "translation")):
        if _missing(section[key]):
            lines += [f"{what}: not run: {_missing(section[key])}.", ""]
    return lines


def _training_choices(section: dict) -> list[str]:
    title = "## Loss and sampling at equal budget (section 3.1)"
    if _missing(section):
        return _not_run(title, _missing(section))
    runs = section["runs"]
    transfer_set = next((v["transfer"]["set"] for v in runs.values() if "transfer" in v), None)
    lines = [
        title,
        "",
        f"Short runs of this run's config, {section['epochs']} epochs of {section['epoch_size']} images each "
        + (f"at learning rate {section['learning_rate']:g} " if section.get("learning_rate") else "")
        + f"from the same seed; only the loss and the sampling differ. Precision on the "
        f"{_split_name(section.get('split', 'test'))} under each run's natural ranking (its scores plus its "
        f"prior weight, chosen on val, times the log word frequency), +/- its spread over the held-out images "
        f"resampled {section.get('resamples', 0):,} times; beside it the raw scores' precision@10"
        + (
            f" and the linear classifier's accuracy on each run's features over `{transfer_set}` "
            f"(+/- its spread over the splits)"
            if transfer_set
            else ""
        )
        + ".",
        "",
        "| loss, sampling | precision@1 | precision@5 | precision@10 | prior weight | raw precision@10 |"
        + (" transfer accuracy |" if transfer_set else ""),
        "|---|---|---|---|---|---|" + ("---|" if transfer_set else ""),
    ]
    for name, values in runs.items():
        cells = [
            _number(values[f"precision_at_{k}"])
            + (f" +/- {_number(values[f'spread_at_{k}'])}" if f"spread_at_{k}" in values else "")
            for k in (1, 5, 10)
        ]
        cells += [f"{values.get('prior_weight', 0.0):g}", _number(values.get("raw", {}).get("precision_at_10"))]
        if transfer_set:
            cells.append(_accuracy_cell(values["transfer"]) if "transfer" in values else "not run")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    prior = section.get("prior")
    if prior:
        lines.append(
            "| word-frequency prior | "
            + " | ".join(_number(prior[f"precision_at_{k}"]) for k in (1, 5, 10))
            + " | | |"
            + (" |" if transfer_set else "")
        )
    if section.get("chance") is not None:
        lines.append(
            "| chance (a random ranking) | "
            + " | ".join([_number(section["chance"], 4)] * 3)
            + " | | |"
            + (" |" if transfer_set else "")
        )
    lines.append("")
    # Above the prior only by more than twice the run's spread: a hair above it is the prior.
    below = prior and [
        name
        for name, values in runs.items()
        if values["precision_at_10"] - prior["precision_at_10"] <= 2 * values.get("spread_at_10", 0.0)
    ]
    if below:
        lines.append(
            f"Not above the word-frequency prior at precision@10 by twice their spread at this budget: "
            f"{', '.join(below)}."
        )
    best = section.get("best", {})
    if "word_prediction" in best:
        entry = best["word_prediction"]
        lines.append(
            f"Best for word prediction: {entry['choice']} (precision@10 {_number(entry['precision_at_10'])} "
            f"+/- {_number(entry['spread_at_10'])})."
        )
    if "transfer" in best:
        entry = best["transfer"]
        lines.append(
            f"Best for transfer: {entry['choice']} ({_number(entry['accuracy_mean'])} +/- "
            f"{_number(entry['accuracy_std'])} on `{entry['set']}`)."
        )
    if "differences" in section:
        if section["differences"]:
            lines.append(
                "Differences larger than twice their spread (the images resampled together): "
                + "; ".join(
                    f"{d['better']} over {d['worse']} at precision@{d['k']} by {_number(d['difference'])} "
                    f"(spread {_number(d['spread'])})"
                    for d in section["differences"]
                )
                + "."
            )
        else:
            lines.append(
                "No difference between the choices' precision is larger than twice its spread: at this "
                "budget the table does not rank them by word prediction."
            )
    return lines + [""]


def _pictures(section: dict) -> list[str]:
    if _missing(section):
        return _not_run("## Pictures", _missing(section))
    titles = {
        "predictions": "Held-out images and their top predicted words (green: right)",
        "top_images": "Held-out images scoring each word highest (Fig. 3)",
        "image_map": "t-SNE of held-out images' features (Fig. 4)",
        "word_map": "t-SNE of the word layer's rows (Fig. 6)",
    }
    lines = ["## Pictures", ""]
    files, grid = section["files"], section.get("prediction_grid")
    for key, title in titles.items():
        if key in files:
            lines += [f"### {title}", "", f"![{title}]({files[key]})", ""]
            if key == "predictions" and grid:
                lines += [
                    f"{grid['right']} of the {grid['shown']} images (drawn by a "
                    f"fixed seed among the held-out images with a dictionary word) have one of their own words "
                    f"among their top 5.",
                    "",
                ]
    return lines


def _search(section: dict) -> list[str]:
    if _missing(section):
        return _not_run("## Collection search", _missing(section))
    links = ", ".join(f"[{word}]({page})" for word, page in section["galleries"].items())
    return [
        "## Collection search",
        "",
        f"The {section['images']:,} held-out images embedded by the run's export ({section['bad_images']} without an "
        f"embedding), as wsl-embed writes an index (`{section['index']}`; `wsl-search --index=RUN/eval/"
        f"{section['index']} --words=...` looks it up). The images each word's scores rank highest, as pages of "
        f"thumbnails: {links}.",
        "",
    ]


def markdown(metrics: dict) -> str:
    lines = [
        "# Evaluation",
        "",
        f"Run `{metrics['run']}`, checkpoint `{metrics['checkpoint']}`, K = {metrics['num_words']} words.",
        "",
    ]
    if metrics.get("kept"):
        lines += [
            f"Kept from an earlier evaluation of this checkpoint (its settings): {', '.join(metrics['kept'])}.",
            "",
        ]
    if "word_prediction" in metrics:
        lines += _word_prediction(metrics["word_prediction"])
    if "transfer" in metrics:
        lines += _transfer(metrics["transfer"])
    if "embeddings" in metrics:
        lines += _embeddings(metrics["embeddings"])
    if "training_choices" in metrics:
        lines += _training_choices(metrics["training_choices"])
    if "pictures" in metrics:
        lines += _pictures(metrics["pictures"])
    if "search" in metrics:
        lines += _search(metrics["search"])
    return "\n".join(lines)
