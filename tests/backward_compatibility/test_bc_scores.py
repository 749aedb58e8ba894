"""BTC, BEC (both definitions) and new errors on hand-computed examples (NumPy only)."""

import numpy as np
import pytest

from keras_remediation.backward_compatibility import scores

# Hand-computed example, 8 examples:
#   index        0  1  2  3  4  5  6  7
#   label        0  1  2  0  1  2  0  1
#   h1           0  1  2  1  1  0  0  2   right on 0 1 2 4 6 (5), wrong on 3 5 7 (3)
#   h2           0  2  2  1  1  2  1  0   right on 0 2 4 5 (4),   wrong on 1 3 6 7 (4)
# both right {0, 2, 4} = 3; both wrong {3, 7} = 2; new errors {1, 6} = 2; fixed {5} = 1.
Y = np.array([0, 1, 2, 0, 1, 2, 0, 1])
H1 = np.array([0, 1, 2, 1, 1, 0, 0, 2])
H2 = np.array([0, 2, 2, 1, 1, 2, 1, 0])


def scores_from(labels, classes=3, seed=0):
    """Probability rows whose argmax is `labels`."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.0, 0.3, (len(labels), classes))
    p[np.arange(len(labels)), labels] = 0.9
    return p / p.sum(axis=1, keepdims=True)


def test_btc_on_labels():
    assert scores.trust_compatibility_score(H1, H2, Y) == pytest.approx(3 / 5)


def test_bec_both_definitions_on_labels():
    assert scores.error_compatibility_score(H1, H2, Y) == pytest.approx(2 / 3)  # BCML's default
    assert scores.error_compatibility_score(H1, H2, Y, normalize_by="h2_errors") == 0.5
    assert scores.error_compatibility_score(H1, H2, Y, normalize_by="h1_errors") == (
        pytest.approx(2 / 3)
    )


def test_new_errors_and_summary():
    assert scores.new_error_count(H1, H2, Y) == 2
    summary = scores.compatibility_summary(H1, H2, Y)
    assert summary == {
        "h1_accuracy": 5 / 8, "h2_accuracy": 4 / 8, "btc": 3 / 5, "bec": 2 / 4,
        "bec_h1_errors": 2 / 3, "new_errors": 2, "fixed_errors": 1, "both_wrong": 2,
        "examples": 8,
    }


def test_scores_on_probabilities_and_one_hot_labels_agree_with_labels():
    p1, p2 = scores_from(H1), scores_from(H2, seed=1)
    one_hot = np.eye(3)[Y]
    assert scores.trust_compatibility_score(p1, p2, one_hot) == pytest.approx(3 / 5)
    assert scores.error_compatibility_score(p1, p2, Y[:, None]) == pytest.approx(2 / 3)
    assert scores.new_error_count(p1, H2, one_hot) == 2


def test_binary_probabilities_use_the_threshold():
    y = np.array([1, 0, 1, 0])
    h1 = np.array([[0.9], [0.2], [0.6], [0.7]])  # right, right, right, wrong
    h2 = np.array([[0.8], [0.6], [0.4], [0.9]])  # right, wrong, wrong, wrong
    assert scores.trust_compatibility_score(h1, h2, y) == pytest.approx(1 / 3)
    assert scores.error_compatibility_score(h1, h2, y) == 1.0  # over h1's errors (default)
    assert scores.error_compatibility_score(h1, h2, y, normalize_by="h2_errors") == (
        pytest.approx(1 / 3)
    )
    # At 0.65 both predict 1, 0, 0, 1: right on the first two.
    assert scores.trust_compatibility_score(h1, h2, y, threshold=0.65) == 1.0
    # Integer [N, 1] outputs are labels, not probabilities.
    np.testing.assert_array_equal(scores.predicted_labels(np.array([[3], [1]])), [3, 1])


def test_zero_denominators_give_zero_division():
    y = np.array([0, 1])
    assert scores.trust_compatibility_score([1, 0], [0, 1], y) == 0.0
    assert scores.error_compatibility_score([0, 1], [0, 1], y) == 0.0
    assert scores.error_compatibility_score([0, 1], [0, 1], y, zero_division=1.0) == 1.0


def test_error_overlap_counts_per_class():
    classes, counts = scores.error_overlap(H1, H2, Y)
    np.testing.assert_array_equal(classes, [0, 1, 2])
    # columns: both right, only h1 right, only h2 right, both wrong
    np.testing.assert_array_equal(counts, [[1, 1, 0, 1], [1, 1, 0, 1], [1, 0, 1, 0]])
    assert scores.OVERLAP_COLUMNS == ("both_right", "only_h1_right", "only_h2_right", "both_wrong")
    assert counts.sum() == len(Y)


def test_mismatched_lengths_and_bad_arguments_raise():
    with pytest.raises(ValueError, match=r"same examples.*8, 7 and 8"):
        scores.trust_compatibility_score(H1, H2[:7], Y)
    with pytest.raises(ValueError, match="same examples"):
        scores.error_compatibility_score(H1, H2, Y[:3])
    with pytest.raises(ValueError, match="normalize_by"):
        scores.error_compatibility_score(H1, H2, Y, normalize_by="h3_errors")
    with pytest.raises(ValueError, match="shape"):
        scores.trust_compatibility_score(np.zeros((8, 2, 2)), H2, Y)


def test_scores_are_vectorised_on_large_inputs():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 200_000)
    h1 = np.where(rng.random(len(y)) < 0.9, y, (y + 1) % 10)
    h2 = np.where(rng.random(len(y)) < 0.95, y, (y + 2) % 10)
    btc = scores.trust_compatibility_score(h1, h2, y)
    assert btc == pytest.approx(0.95, abs=0.01)


# Issue #13 (7): the default denominator is BackwardCompatibilityML's (h1's errors).


def bcml_error_compatibility(h1, h2, y):
    """BackwardCompatibilityML's definition, written out: both wrong / h1 wrong (0 if none)."""
    h1_wrong = [a != t for a, t in zip(h1, y)]
    both_wrong = [a != t and b != t for a, b, t in zip(h1, h2, y)]
    return sum(both_wrong) / sum(h1_wrong) if sum(h1_wrong) else 0


def test_bec_default_is_backward_compatibility_ml_on_random_cases():
    rng = np.random.default_rng(13)
    for _ in range(200):
        n = int(rng.integers(1, 30))
        y = rng.integers(0, 3, n)
        h1, h2 = rng.integers(0, 3, n), rng.integers(0, 3, n)
        expected = bcml_error_compatibility(h1, h2, y)
        assert scores.error_compatibility_score(h1, h2, y) == pytest.approx(expected)
        assert scores.error_compatibility_score(h1, h2, y, normalize_by="h1_errors") == (
            pytest.approx(expected)
        )


def test_bec_papers_denominator_is_one_named_argument_away():
    assert scores.error_compatibility_score(H1, H2, Y) == pytest.approx(2 / 3)
    assert scores.error_compatibility_score(H1, H2, Y, normalize_by="h2_errors") == 0.5


# Issue #14: inputs that are not labels, probabilities or scores are refused, not misread.


def test_one_dimensional_float_probabilities_are_not_read_as_labels():
    with pytest.raises(ValueError, match=r"`h1_output` must be .*received"):
        scores.trust_compatibility_score([0.2, 0.9, 0.7], [1, 1, 1], [0, 1, 1])
    with pytest.raises(ValueError, match=r"`h2_output` must be .*received"):
        scores.error_compatibility_score([0, 1, 1], np.array([0.2, 0.9, 0.7]), [0, 1, 1])
    # Whole-number floats are labels (as before).
    assert scores.trust_compatibility_score([0.0, 1.0], [0.0, 1.0], [0, 1]) == 1.0


@pytest.mark.parametrize("which", ["h1_output", "h2_output"])
def test_nan_probabilities_raise_instead_of_becoming_class_zero(which):
    good = np.array([[0.8, 0.2], [0.3, 0.7]])
    bad = np.array([[np.nan, np.nan], [0.3, 0.7]])
    args = {"h1_output": good, "h2_output": good, "expected_labels": [0, 1]}
    args[which] = bad
    with pytest.raises(ValueError, match=rf"`{which}` must be .*NaN"):
        scores.trust_compatibility_score(**args)
    args[which] = np.array([[np.nan], [0.7]])
    with pytest.raises(ValueError, match=rf"`{which}` must be .*NaN"):
        scores.error_compatibility_score(**args)


def test_nan_expected_labels_raise():
    with pytest.raises(ValueError, match=r"`expected_labels` must be .*NaN"):
        scores.trust_compatibility_score([0, 1], [0, 1], [0.0, np.nan])


def test_wrong_types_raise_type_error_naming_the_argument():
    with pytest.raises(TypeError, match=r"`h1_output` must be .*received NoneType"):
        scores.trust_compatibility_score(None, [0, 1], [0, 1])
    with pytest.raises(TypeError, match=r"`expected_labels` must be .*received dict"):
        scores.error_compatibility_score([0, 1], [0, 1], {"a": 1})
    with pytest.raises(TypeError, match=r"`h2_output` must be .*received"):
        scores.trust_compatibility_score([0, 1], [[0.1, "a"], [0.2, 0.8]], [0, 1])


def test_threshold_and_zero_division_are_checked():
    with pytest.raises(TypeError, match=r"`threshold` must be a real number; received '0.5'"):
        scores.trust_compatibility_score(H1, H2, Y, threshold="0.5")
    with pytest.raises(ValueError, match=r"`threshold` must be a finite number"):
        scores.error_compatibility_score(H1, H2, Y, threshold=float("nan"))
    with pytest.raises(TypeError, match=r"`zero_division` must be a real number"):
        scores.error_compatibility_score(H1, H2, Y, zero_division=None)
