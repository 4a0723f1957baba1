"""Metrics against scikit-learn as the oracle, over whole sets and across batches."""

import numpy as np
import pytest
import torch
from sklearn import metrics as skm

from mlpkit.errors import ConfigError, DataError
from mlpkit.metrics import compute_all, get_metric, get_metrics


@pytest.fixture
def multiclass():
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(500, 4)).astype(np.float32)
    y = rng.integers(0, 4, size=500)
    logits[np.arange(250), y[:250]] += 2.0  # half the samples predicted right
    return torch.tensor(logits), torch.tensor(y)


@pytest.fixture
def binary():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, size=400)
    logit = (y * 1.5 + rng.normal(size=400)).astype(np.float32)
    return torch.tensor(logit).unsqueeze(1), torch.tensor(y)


def test_multiclass_metrics_match_sklearn(multiclass):
    logits, y = multiclass
    probs = torch.softmax(logits, 1).numpy()
    pred = logits.argmax(1).numpy()
    names = ["accuracy", "f1", "precision", "recall", "roc_auc", "top2_accuracy"]
    got = compute_all(get_metrics(names), logits, y)
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, pred), abs=1e-6)
    assert got["f1"] == pytest.approx(skm.f1_score(y, pred, average="macro"), abs=1e-5)
    assert got["precision"] == pytest.approx(
        skm.precision_score(y, pred, average="macro"), abs=1e-5
    )
    assert got["recall"] == pytest.approx(skm.recall_score(y, pred, average="macro"), abs=1e-5)
    assert got["roc_auc"] == pytest.approx(
        skm.roc_auc_score(y, probs, multi_class="ovr", average="macro"), abs=1e-4
    )
    top2 = skm.top_k_accuracy_score(y, probs, k=2, labels=np.arange(4))
    assert got["top2_accuracy"] == pytest.approx(top2, abs=1e-6)


def test_binary_metrics_with_one_sigmoid_unit_match_sklearn(binary):
    logit, y = binary
    pred = (logit.squeeze(1) > 0).long().numpy()
    got = compute_all(get_metrics(["accuracy", "f1", "roc_auc"]), logit, y)
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, pred), abs=1e-6)
    assert got["f1"] == pytest.approx(skm.f1_score(y, pred), abs=1e-5)
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(y, logit.squeeze(1)), abs=1e-4)


def test_regression_metrics_match_sklearn():
    rng = np.random.default_rng(5)
    y = rng.normal(size=(300, 1)).astype(np.float32)
    pred = (y + rng.normal(scale=0.3, size=(300, 1))).astype(np.float32)
    got = compute_all(
        get_metrics(["mse", "rmse", "mae", "r2"]), torch.tensor(pred), torch.tensor(y)
    )
    assert got["mse"] == pytest.approx(skm.mean_squared_error(y, pred), rel=1e-5)
    assert got["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(y, pred)), rel=1e-5)
    assert got["mae"] == pytest.approx(skm.mean_absolute_error(y, pred), rel=1e-5)
    assert got["r2"] == pytest.approx(skm.r2_score(y, pred), rel=1e-5)


def test_rmse_is_root_of_whole_set_mse_not_mean_of_batch_rmses():
    # Two batches with very different errors: the mean of per-batch RMSEs is wrong.
    y = torch.zeros(4, 1)
    pred = torch.tensor([[0.0], [0.0], [3.0], [3.0]])
    whole = compute_all(get_metrics(["rmse"]), pred, y)["rmse"]
    assert whole == pytest.approx(np.sqrt(4.5))
    assert whole != pytest.approx((0.0 + 3.0) / 2)


def test_sklearn_style_callable_receives_classes():
    logits = torch.tensor([[2.0, 0.0], [0.0, 2.0], [2.0, 0.0]])
    y = torch.tensor([0, 1, 1])
    got = compute_all([get_metric(skm.balanced_accuracy_score)], logits, y)
    assert got["balanced_accuracy_score"] == pytest.approx(
        skm.balanced_accuracy_score([0, 1, 1], [0, 1, 0])
    )


def test_unknown_metric_lists_the_known_ones():
    with pytest.raises(ConfigError, match="accuracy.*rmse"):
        get_metric("acuracy")


def test_classification_metric_on_real_targets_says_what_to_use():
    with pytest.raises(ConfigError, match="rmse"):
        compute_all(get_metrics(["accuracy"]), torch.zeros(3, 1), torch.zeros(3, 1))


def test_labels_out_of_range_are_refused():
    with pytest.raises(DataError, match=r"labels must be in \[0, 3\)"):
        compute_all(get_metrics(["accuracy"]), torch.zeros(2, 3), torch.tensor([0, 5]))


def test_score_functions_get_probabilities_as_sklearn_defines_them(multiclass, binary):
    logits, y = binary
    positive = torch.sigmoid(logits.reshape(-1)).double().numpy()
    for score in (skm.roc_auc_score, skm.average_precision_score, skm.log_loss):
        found = get_metric(score).compute(logits, y)
        assert found == pytest.approx(score(y.numpy(), positive), rel=1e-6), score.__name__
    logits, y = multiclass
    probabilities = torch.softmax(logits.double(), dim=1).numpy()
    expected = skm.roc_auc_score(y.numpy(), probabilities, multi_class="ovr")
    assert get_metric(skm.roc_auc_score).compute(logits, y) == pytest.approx(expected, rel=1e-6)
    builtin = compute_all(get_metrics(["roc_auc"]), logits, y)["roc_auc"]
    assert get_metric(skm.roc_auc_score).compute(logits, y) == pytest.approx(builtin, abs=1e-4)


def test_other_score_functions_still_get_predicted_classes(binary):
    logits, y = binary
    classes = (logits.reshape(-1) > 0).long().numpy()
    expected = skm.f1_score(y.numpy(), classes)
    assert get_metric(skm.f1_score).compute(logits, y) == pytest.approx(expected)


def test_a_torchmetrics_metric_object_is_a_metric(multiclass):
    import torchmetrics

    logits, y = multiclass
    metric = get_metric(torchmetrics.Accuracy(task="multiclass", num_classes=4))
    assert metric.name == "multiclass_accuracy"
    expected = skm.accuracy_score(y.numpy(), logits.argmax(dim=1).numpy())
    assert metric.compute(logits, y) == pytest.approx(expected)
    assert metric.compute(logits, y) == pytest.approx(expected)  # reset between sets


def test_r2_of_a_constant_target_is_sklearns_not_a_huge_negative_number():
    target = torch.full((6, 1), 3.3)
    for outputs in (torch.full((6, 1), 3.3), torch.linspace(0, 1, 6).reshape(6, 1)):
        expected = skm.r2_score(target.numpy(), outputs.numpy())
        assert get_metric("r2").compute(outputs, target) == pytest.approx(expected)


@pytest.mark.parametrize("seed", range(6))
def test_counted_scores_match_sklearn_when_classes_go_missing_or_unpredicted(seed):
    # Few rows of many classes: some classes never occur, some are never predicted, some only
    # predicted; two logits and one logit for binary tasks.
    rng = np.random.default_rng(seed)
    classes = [2, 5, 7][seed % 3]
    y = rng.integers(0, max(classes - 2, 2), size=12)
    logits = torch.tensor(rng.normal(size=(12, classes)), dtype=torch.float32)
    pred = logits.argmax(dim=1).numpy()
    average = "binary" if classes == 2 else "macro"
    for name, oracle in (("f1", skm.f1_score), ("precision", skm.precision_score),
                         ("recall", skm.recall_score)):  # fmt: skip
        expected = oracle(y, pred, average=average, zero_division=0)
        assert get_metric(name).compute(logits, torch.tensor(y)) == pytest.approx(expected)
        if classes == 2:
            one = (logits[:, 1] - logits[:, :1].squeeze(1)).unsqueeze(1)  # one logit, same classes
            assert get_metric(name).compute(one, torch.tensor(y)) == pytest.approx(expected)
