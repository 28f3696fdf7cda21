"""report.md from metrics.json: every row of the word-prediction table, its margins computed from its own figures,
a section that could not be run said in one line, and no figure invented for a missing value."""

import math

from wsl_tf.eval import report


def precision(p1, p5, p10, **extra) -> dict:
    return {"precision_at_1": p1, "precision_at_5": p5, "precision_at_10": p10, **extra}


def word_prediction(prior_weight=0.5, baseline_weight=0.25) -> dict:
    return {
        **precision(0.36, 0.26, 0.20),
        "split": "test",
        "images": 1896,
        "prior_weight": prior_weight,
        "raw": precision(0.30, 0.24, 0.18),
        "ceiling": precision(1.0, 0.72, 0.45),
        "baselines": {
            "word_frequency": precision(0.1, 0.09, 0.08),
            "features_logistic_regression": {
                **precision(0.24, 0.2, 0.16),
                "train_images": 20352,
                "class_labels_from": "Fashion-MNIST",
                "prior_adjusted": {**precision(0.25, 0.21, 0.17), "prior_weight": baseline_weight},
            },
            "random_network_logistic_regression": {"unavailable": "no features"},
        },
    }


def metrics(**sections) -> dict:
    return {"run": "/runs/a", "checkpoint": "ckpt-7", "num_words": 1000, **sections}


def test_the_word_prediction_rows_show_raw_and_adjusted_forms_only_where_the_prior_weight_is_not_zero():
    assert list(report.prediction_rows(word_prediction())) == [
        "this model (prior weight 0.5)",
        "this model, raw scores",
        "word frequency",
        "features logistic regression",
        "features logistic regression + prior (weight 0.25)",
        "random network logistic regression",
    ]
    assert list(report.prediction_rows(word_prediction(prior_weight=0.0, baseline_weight=0.0))) == [
        "this model",
        "word frequency",
        "features logistic regression",
        "random network logistic regression",
    ]


def test_the_table_prints_each_rows_figures_to_three_places_and_a_missing_figure_as_na():
    section = word_prediction()
    section["baselines"]["word_frequency"]["precision_at_5"] = math.nan
    lines, notes = report.word_prediction_table(section)
    assert lines[2] == "| this model (prior weight 0.5) | 0.360 | 0.260 | 0.200 |"
    assert "| word frequency | 0.100 | n/a | 0.080 |" in lines
    assert "| random network logistic regression | n/a | n/a | n/a |" in lines
    assert lines[-1] == "| ceiling (every word right) | 1.000 | 0.720 | 0.450 |"
    assert notes == ["`random network logistic regression`: not run: no features."]


def test_the_margins_over_each_regression_baseline_are_computed_from_the_table():
    text = report.markdown(metrics(word_prediction=word_prediction()))
    # 0.36 / 0.24 - 1 = +50%, 0.20 / 0.16 - 1 = +25%; against the adjusted row 0.36 / 0.25 = +44%, 0.20 / 0.17 = +18%.
    assert (
        "This model against each regression baseline: features logistic regression at precision@1: +50%; "
        "features logistic regression at precision@10: +25%; features logistic regression + prior (weight 0.25) "
        "at precision@1: +44%; features logistic regression + prior (weight 0.25) at precision@10: +18%."
    ) in text
    assert "20,352 training images, from a network trained with class labels on Fashion-MNIST" in text


def test_a_section_that_could_not_run_is_one_line_and_the_rest_is_unchanged():
    pictures = {"files": {"predictions": "predictions.png"}, "prediction_grid": {"right": 7, "shown": 12}}
    whole = report.markdown(metrics(word_prediction=word_prediction(), pictures=pictures))
    without = report.markdown(metrics(word_prediction={"unavailable": "no test split"}, pictures=pictures))
    assert "## Word prediction (section 4.1, test split)\n\nNot run: no test split.\n" in without
    assert without.split("## Pictures")[1] == whole.split("## Pictures")[1]
    assert "7 of the 12 images" in whole and "![Held-out images and their top predicted words" in whole


def test_sections_come_in_a_fixed_order_and_kept_sections_are_named():
    text = report.markdown(
        {
            **metrics(
                search={"unavailable": "no export"},
                pictures={"unavailable": "no matplotlib"},
                word_prediction={"unavailable": "x"},
            ),
            "kept": ["word_prediction"],
        }
    )
    assert text.index("## Word prediction") < text.index("## Pictures") < text.index("## Collection search")
    assert "Run `/runs/a`, checkpoint `ckpt-7`, K = 1000 words." in text
    assert "Kept from an earlier evaluation of this checkpoint (its settings): word_prediction." in text


def test_the_choices_table_names_runs_within_twice_their_spread_of_the_prior_and_the_best():
    section = {
        "epochs": 2,
        "epoch_size": 64,
        "resamples": 100,
        "runs": {
            "multi-class, natural": precision(0.3, 0.2, 0.15, spread_at_10=0.01, prior_weight=0.5),
            "one-vs-all, uniform": precision(0.1, 0.09, 0.085, spread_at_10=0.01),
        },
        "prior": precision(0.1, 0.09, 0.08),
        "chance": 0.0036,
        "best": {"word_prediction": {"choice": "multi-class, natural", "precision_at_10": 0.15, "spread_at_10": 0.01}},
        "differences": [],
    }
    text = report.markdown(metrics(training_choices=section))
    # 0.085 - 0.08 = 0.005 <= 2 x 0.01: at the prior; 0.15 - 0.08 is well above.
    assert "by twice their spread at this budget: one-vs-all, uniform." in text
    assert "| multi-class, natural | 0.300 | 0.200 | 0.150 +/- 0.010 | 0.5 | n/a |" in text
    assert "| chance (a random ranking) | 0.0036 | 0.0036 | 0.0036 | | |" in text
    assert "Best for word prediction: multi-class, natural (precision@10 0.150 +/- 0.010)." in text
    assert "the table does not rank them by word prediction" in text
