"""`MMDLoss`: maximum mean discrepancy between the predictions on two groups.

One statistic, three computations: the full `[batch, batch]` kernel matrix (default), the same
sum in row blocks (`block_size`: memory O(batch·block)), and random Fourier features
(`estimator='random_features'`: time and memory linear in the batch).
"""

import numbers

import numpy as np
import keras
from keras import ops

from keras_remediation.common.tensor_utils import is_traced
from keras_remediation.common.validation import check_choice
from keras_remediation.common.validation import check_positive_int
from keras_remediation.min_diff.losses.base_loss import MinDiffLoss
from keras_remediation.min_diff.losses.kernels import GaussianKernel
from keras_remediation.min_diff.losses.kernels import get_kernel

ESTIMATORS = ("quadratic", "random_features")

DEFAULT_NUM_FEATURES = 1024



def _group_means(membership, normed_weights):
    """`(group_weights, group_means)`, both `[batch, 2]` (column 0: sensitive, 1: the others):
    each group's weights `w̃`, and the same divided by the group's total (`ĝ_S`, `ĝ_N`)."""
    # Few ops: on PyTorch eager each Keras op costs about 10 µs of Python. `[batch, 1]` against
    # `[1, 2]` broadcasts to the two group indicators; a group with total weight 0 has all-zero
    # weights, so dividing them by 1 there gives its all-zero means (and finite gradients). The
    # constant is a tensor: `torch.compile` cannot trace a NumPy array through Keras's ops.
    dtype = keras.backend.standardize_dtype(normed_weights.dtype)
    groups = ops.cast(ops.equal(membership, ops.convert_to_tensor([[1.0, 0.0]], dtype)), dtype)
    group_weights = normed_weights * groups
    totals = ops.sum(group_weights, axis=0, keepdims=True)
    group_means = group_weights / ops.where(ops.equal(totals, 0), ops.ones_like(totals), totals)
    return group_weights, group_means


def weighted_mmd(kernel_matrix, membership, normed_weights):
    """The weighted MMD of a batch, with the groups' mean kernel values.

    With S the rows whose membership is 1 and N those whose membership is 0, `ĝ_S = w̃·[m = 1]
    / Σ w̃·[m = 1]` and `ĝ_N` likewise (`[batch]`, all 0 for an empty or zero-weight group),
    the weighted mean of `K` over `A × B` is `ĝ_Aᵀ K ĝ_B`, and
    `MMD = ĝ_SᵀKĝ_S − 2·ĝ_SᵀKĝ_N + ĝ_NᵀKĝ_N = cᵀ K c` with `c = ĝ_S − ĝ_N`. The MMD is
    summed in that contrast form rather than as a difference of the three means: when the two
    groups' predictions agree, the means are all near 1 and their difference would be float32
    rounding (about 1e-7, which `AdjustedMMDLoss` then multiplies by up to 100). `einsum`, not
    `matmul`: Keras's `matmul` on the torch backend rounds float64 operands through float32.

    Args:
        kernel_matrix: `[batch, batch]` kernel matrix `K`.
        membership: `[batch, 1]` membership in the compute dtype.
        normed_weights: `[batch, 1]` normalised weights `w̃`.

    Returns:
        `(mmd, mean_ss, mean_nn, group_weights)`: scalars, and `group_weights` `[batch, 2]`,
        the weights `w̃` of each group (column 0: sensitive, column 1: non-sensitive), for
        losses that need further statistics of the groups.
    """
    group_weights, group_means = _group_means(membership, normed_weights)
    kernel_means = ops.einsum("ij,jb->ib", kernel_matrix, group_means)
    contrast = group_means[:, 0] - group_means[:, 1]
    mmd = ops.sum(contrast * (kernel_means[:, 0] - kernel_means[:, 1]))
    mean_ss = ops.sum(group_means[:, 0] * kernel_means[:, 0])
    mean_nn = ops.sum(group_means[:, 1] * kernel_means[:, 1])
    return mmd, mean_ss, mean_nn, group_weights


def group_contrast(membership, normed_weights):
    """`[batch]` contrast `c = ĝ_S − ĝ_N` of `weighted_mmd`, so that `MMD = cᵀ K c`."""
    _, group_means = _group_means(membership, normed_weights)
    return group_means[:, 0] - group_means[:, 1]


def bilinear_form(left, matrix, right):
    """`leftᵀ · matrix · right`, a scalar, for `[n]`, `[n, m]` and `[m]` tensors (`einsum`: see
    `weighted_mmd` on Keras's `matmul` under PyTorch)."""
    return ops.sum(left * ops.einsum("ij,j->i", matrix, right))


def blocked_quadratic_form(kernel, predictions, contrast, block_size):
    """`cᵀ K c` summed over row blocks of `K`, holding at most `[block_size, batch]` of it.

    Block `b` contributes `c_bᵀ K(x_b, x) c`. `ops.fori_loop` runs over the blocks and each
    block is wrapped in `keras.remat`, so the backward pass recomputes the block's kernel
    values instead of keeping them: peak memory O(batch·block_size) for value and gradient,
    for about one more kernel evaluation of time. The last block is filled up with repeated
    rows whose contrast is 0. The batch size may be known only at run time (TensorFlow graphs).

    Args:
        kernel: a `MinDiffKernel`, called as `kernel(x_b, x)` on `[block, D]` and `[batch, D]`.
        predictions: `[batch, D]` tensor `x`.
        contrast: `[batch]` tensor `c` of the same dtype.
        block_size: positive int, rows per block.

    Returns:
        Scalar tensor, `cᵀ K c` (the value of `weighted_mmd` up to rounding).
    """
    batch = ops.shape(predictions)[0]
    num_blocks = (batch + block_size - 1) // block_size
    offsets = ops.arange(block_size)

    @keras.remat
    def block_value(rows, row_contrast, predictions, contrast):
        return bilinear_form(row_contrast, kernel(rows, predictions), contrast)

    def body(block, total):
        indices = block * block_size + offsets
        valid = ops.less(indices, batch)
        indices = ops.minimum(indices, batch - 1)
        rows = ops.take(predictions, indices, axis=0)
        row_contrast = ops.take(contrast, indices, axis=0)
        row_contrast = ops.where(valid, row_contrast, ops.zeros_like(row_contrast))
        return total + block_value(rows, row_contrast, predictions, contrast)

    return ops.fori_loop(0, num_blocks, body, ops.zeros((), dtype=predictions.dtype))


def random_features_mmd(predictions, contrast, frequencies):
    """`||Φᵀc||²`: the MMD for the random-feature kernel `φ(x)ᵀφ(y) ≈ k(x, y)`.

    `φ(x) = [cos(xᵀω_1), …, cos(xᵀω_F), sin(xᵀω_1), …, sin(xᵀω_F)] / √F`, with the frequencies
    `ω` `[D, F]` of a kernel's spectrum (`GaussianKernel.random_frequencies`), so that
    `φ(x)ᵀφ(y) = mean_f cos(ω_fᵀ(x − y))` (Rahimi and Recht 2007; the cos/sin pair, not
    `√2·cos(xᵀω + b)`, which has the larger variance: Sutherland and Schneider, "On the Error
    of Random Fourier Features", UAI 2015).

    Args:
        predictions: `[batch, D]` tensor.
        contrast: `[batch]` tensor `c` of the same dtype.
        frequencies: `[D, F]` tensor `ω` of the same dtype.

    Returns:
        Scalar tensor ≥ 0 whose expectation over the frequencies is `cᵀ K c`.
    """
    phases = ops.einsum("id,df->if", predictions, frequencies)
    cos_mean = ops.einsum("i,if->f", contrast, ops.cos(phases))
    sin_mean = ops.einsum("i,if->f", contrast, ops.sin(phases))
    return (ops.sum(cos_mean * cos_mean) + ops.sum(sin_mean * sin_mean)) / frequencies.shape[1]


def _check_seed(seed):
    """Returns `seed` as an int (or None) after checking it is an int ≥ 0."""
    if seed is None:
        return None
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
        raise TypeError(
            f"`seed` must be None or an int ≥ 0; received {seed!r} of type "
            f"{type(seed).__name__}."
        )
    if seed < 0:
        raise ValueError(f"`seed` must be None or an int ≥ 0; received {seed!r}.")
    return int(seed)


def _only_with(value, arg_name, estimator, wanted):
    if value is not None and estimator != wanted:
        raise ValueError(
            f"`{arg_name}` is only used with `estimator='{wanted}'`; received {arg_name}="
            f"{value!r} with estimator={estimator!r}."
        )


@keras.saving.register_keras_serializable(package="keras_remediation")
class MMDLoss(MinDiffLoss):
    """Maximum Mean Discrepancy between the prediction distributions of two groups.

    `MMD = mean_w K(S, S) − 2·mean_w K(S, N) + mean_w K(N, N)`, the biased estimate with the
    diagonal included and no square root (its gradient blows up near 0), where `K` is the kernel
    matrix of the predictions, S the sensitive group (membership 1), N the others (membership 0)
    and `mean_w` the sample-weighted mean over pairs (see `weighted_mmd`). A group that is
    empty in the batch contributes 0 to its terms, so the loss stays finite (it is then the
    spread of the other group; `empty_group='zero'` returns 0 instead).

    Source: Gretton et al., "A Kernel Two-Sample Test", JMLR 2012; used as a MinDiff loss by
    Prost et al., "Toward a better trade-off between performance and fairness with kernel-based
    distribution matching", 2019 (arXiv:1910.11779). Agrees with TF Model Remediation's
    `MMDLoss` to 1e-5 in float32.

    Weights: with normalised weights `w̃`, each group's rows get `ĝ_G,i = w̃_i / Σ_{j∈G} w̃_j`,
    and `MMD = cᵀ K c` with `c = ĝ_S − ĝ_N`: the squared distance between the two groups'
    weighted kernel mean embeddings. Every estimator below uses these weights.

    Estimators (`estimator`, `block_size`), for `n` MinDiff rows and `D` prediction features:
        `'quadratic'` (default): the `[n, n]` kernel matrix, exact; time O(n²·D), memory
            O(n²) (a `[n, n, D]` difference tensor and the matrix, kept for the gradient:
            16,384 rows cost gigabytes). With `block_size=b`, the same sum is computed in
            row blocks (`blocked_quadratic_form`): memory O(n·b), equal to the full matrix's
            value to float rounding. The backward pass recomputes each block (one more
            kernel evaluation). Measured on 2 CPU cores (benchmarks/README.md, value and
            gradient, block 1024): at 16,384 rows 0.2–1 GB against 3.7–5.1 GB for the full
            matrix, 4× faster on JAX (the blocks stay in cache) but 1.2–1.3× slower on
            PyTorch and TensorFlow.
        `'random_features'`: random Fourier features (Rahimi and Recht, "Random Features for
            Large-Scale Kernel Machines", NIPS 2007) for the Gaussian kernel:
            `MMD ≈ ||Σ_i c_i φ(x_i)||²` with `φ(x) = [cos(xᵀω), sin(xᵀω)]/√F` and `F =
            num_features` frequencies `ω` drawn once from the kernel's spectrum with `seed`
            (see `random_features_mmd`). Time O(n·D·F), memory O(n·F). Bias and variance:
            over the draw of `ω` its expectation is exactly the quadratic estimator's value
            (same weights, same diagonal bias of order `Σ c_i²`), and the added error has a
            standard deviation of order `1/√F`, independent of `n`. The frequencies are fixed
            for the loss's lifetime, so the loss is the exact MMD for the kernel
            `k̃(x, y) = φ(x)ᵀφ(y)`: never negative, deterministic, with gradients that do not
            jump from step to step; with high probability its kernel error is at most of
            order `√(D·log F / F)` uniformly over bounded predictions, up to factors in the
            kernel length and the predictions' range (Rahimi and Recht, claim 1).
            Use it when the batch is too large for the matrix (thousands of MinDiff rows);
            for a few hundred rows the quadratic estimator is both exact and cheaper. Not for
            the Laplacian kernel: its spectrum (Cauchy) has no finite second moment, so the
            features' gradient, which scales with `ω`, has an infinite variance.
            The frequencies are drawn with NumPy on the loss's first call for a prediction
            width and kept when that call is eager (`MinDiffModel.fit` makes one before
            compiling). In a custom loop under `torch.compile(fullgraph=True)`, call the loss
            once eagerly first: a first call inside the trace cannot be captured.
        Gretton et al.'s linear-time statistic MMD²_l (§6) is not offered: it needs as many
        rows of each group, paired in a random order, while MinDiff batches have unequal,
        weighted groups (`pack_min_diff_data` stores them group by group), and its value
        can be negative.

    Args (positional in this order, as in TF Model Remediation):
        kernel: `'gaussian'` (default) or `'laplacian'` (also `'gauss'`, `'laplace'`, with an
            optional `'_kernel'` suffix, case-insensitive) or a `MinDiffKernel` instance,
            applied to the predictions (it is the loss's `predictions_kernel`).
        predictions_transform: optional callable applied to the predictions first, e.g.
            `keras.ops.sigmoid`. Default None.
        name: defaults to `'mmd_loss'`.
        enable_summary_histogram: bool or None (default: True on TensorFlow, where summaries
            are written); see `MinDiffLoss`.
        empty_group: keyword-only, `'reference'` (default: TF Model Remediation's value) or
            `'zero'`: the loss of a batch that lacks a group (no row of it, or only zero
            weights). `'reference'` returns the spread of the group that is present, with a
            gradient that pulls its predictions together; `'zero'` returns 0 with a zero
            gradient (a NaN value stays NaN). See `MinDiffLoss`.
        estimator: keyword-only, `'quadratic'` (default) or `'random_features'` (see above;
            needs the kernel `'gaussian'` or a `GaussianKernel`, not a subclass).
        block_size: keyword-only int ≥ 1 or None (default: the full matrix); rows per block of
            the quadratic estimator.
        num_features: keyword-only int ≥ 1 or None (default 1024 with `'random_features'`):
            the number `F` of random frequencies.
        seed: keyword-only int ≥ 0 or None (default 0 with `'random_features'`): the seed of
            the frequencies (NumPy's `default_rng`, the same draw on every backend).

    Dtypes: computed and returned in float32, or float64 for float64 predictions. Under JAX
    without `jax_enable_x64` (JAX's default) float64 inputs are silently float32 (see
    `MinDiffLoss`).

    Raises:
        TypeError: if `kernel` is neither a string nor a `MinDiffKernel`, `estimator` is not a
            string, or `block_size`, `num_features` or `seed` is not an int (or None); see
            `MinDiffLoss` for the other arguments.
        ValueError: for an unknown kernel name, a non-callable transform, an `empty_group`
            other than `'reference'` and `'zero'`, an `estimator` other than `'quadratic'`
            and `'random_features'`, `block_size` or `num_features` < 1, `seed` < 0,
            `block_size` with `'random_features'`, `num_features` or `seed` with
            `'quadratic'`, or `'random_features'` with a kernel other than the built-in
            Gaussian; on call, for bad membership, non-finite predictions or bad
            weights (see `MinDiffLoss`), or, with `'random_features'`, predictions whose
            feature size is unknown when traced.

    Called as `loss(membership, predictions, sample_weight=None)`; see `MinDiffLoss`.
    Serialised as `{'kernel', 'name'}` plus `predictions_transform`,
    `enable_summary_histogram` and `empty_group` when set, `estimator` when not
    `'quadratic'` (with `num_features` and `seed`) and `block_size` when set; `from_config`
    also accepts TF Model Remediation's key `predictions_kernel` for `kernel`.
    """

    def __init__(
        self,
        kernel="gaussian",
        predictions_transform=None,
        name=None,
        enable_summary_histogram=None,
        *,
        empty_group="reference",
        estimator="quadratic",
        block_size=None,
        num_features=None,
        seed=None,
    ):
        super().__init__(
            predictions_transform=predictions_transform,
            predictions_kernel=get_kernel(kernel, "kernel"),
            name=name or "mmd_loss",
            enable_summary_histogram=enable_summary_histogram,
            empty_group=empty_group,
        )
        self.estimator = check_choice(estimator, "estimator", ESTIMATORS)
        self.block_size = check_positive_int(block_size, "block_size", allow_none=True)
        num_features = check_positive_int(num_features, "num_features", allow_none=True)
        seed = _check_seed(seed)
        _only_with(self.block_size, "block_size", self.estimator, "quadratic")
        _only_with(num_features, "num_features", self.estimator, "random_features")
        _only_with(seed, "seed", self.estimator, "random_features")
        if self.estimator == "random_features":
            # The exact type: a subclass may change `call`, and so the spectrum.
            if type(self.predictions_kernel) is not GaussianKernel:
                raise ValueError(
                    "`estimator='random_features'` needs `kernel='gaussian'` or a "
                    "GaussianKernel (it samples the Gaussian spectrum); received "
                    f"{self.predictions_kernel!r}."
                )
            num_features = DEFAULT_NUM_FEATURES if num_features is None else num_features
            seed = 0 if seed is None else seed
        self.num_features = num_features
        self.seed = seed
        self._frequency_cache = {}  # frequencies tensors by width, dtype, ...: `_frequencies`

    def call(self, membership, predictions, sample_weight=None):
        membership, predictions, sample_weight = self._preprocess_inputs(
            membership, predictions, sample_weight
        )
        # Every estimator sums `cᵀ K c` (see `weighted_mmd`), without the groups' own means,
        # which cost PyTorch eager about 70 µs of Keras ops per step.
        contrast = group_contrast(membership, sample_weight)
        if self.estimator == "random_features":
            mmd = random_features_mmd(predictions, contrast, self._frequencies(predictions))
        elif self.block_size is not None:
            mmd = blocked_quadratic_form(
                self.predictions_kernel, predictions, contrast, self.block_size
            )
        else:
            _, kernel_matrix = self._apply_kernels(membership, predictions)
            mmd = bilinear_form(contrast, kernel_matrix, contrast)
        return self._apply_empty_group(mmd, membership, sample_weight)

    def _frequencies(self, predictions):
        """The `[D, F]` frequencies for `predictions` `[batch, D]`, in their dtype.

        Drawn with NumPy (the same draw on every backend) on the first call for a width `D`
        and dtype, and kept as a tensor when that call is eager: a compiled step then reads
        the kept tensor, where drawing in the trace would break a `torch.compile` graph.

        Raises:
            ValueError: if `D` is not known when the loss is traced.
        """
        dim = predictions.shape[1]
        if dim is None:
            raise ValueError(
                "`estimator='random_features'` needs the number of prediction features when "
                f"the loss is traced; received predictions of shape {tuple(predictions.shape)}."
            )
        dtype = keras.backend.standardize_dtype(predictions.dtype)
        kernel = self.predictions_kernel
        key = (int(dim), dtype, self.num_features, self.seed, kernel.kernel_length)
        if key in self._frequency_cache:
            return self._frequency_cache[key]
        draw = kernel.random_frequencies(int(dim), self.num_features, self.seed)
        frequencies = ops.convert_to_tensor(draw.astype(dtype))
        if not is_traced(predictions):
            self._frequency_cache[key] = frequencies
        return frequencies

    def get_config(self):
        config = super().get_config()
        config["kernel"] = config.pop("predictions_kernel")
        if self.estimator != "quadratic":
            config["estimator"] = self.estimator
        for key in ("block_size", "num_features", "seed"):
            if getattr(self, key) is not None:
                config[key] = getattr(self, key)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if "predictions_kernel" in config:  # TF Model Remediation's key.
            config["kernel"] = config.pop("predictions_kernel")
        return super().from_config(config)
