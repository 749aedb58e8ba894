"""Package-level checks: public names and a light import."""

import subprocess
import sys

import keras_remediation
from keras_remediation import min_diff


def test_seed_api_names_are_reachable():
    assert callable(min_diff.keras.MinDiffModel)
    for name in ("MMDLoss", "AbsoluteCorrelationLoss", "AdjustedMMDLoss", "MinDiffLoss",
                 "GaussianKernel", "LaplacianKernel"):
        assert hasattr(min_diff.losses, name), name
    for name in ("pack_min_diff_data", "unpack_min_diff_data", "unpack_original_inputs",
                 "MinDiffPackedInputs", "build_min_diff_dataset", "validate_min_diff_structure",
                 "serialize_keras_object", "deserialize_keras_object", "deserialize_layer"):
        assert hasattr(min_diff.keras.utils, name), name
    assert keras_remediation.__version__


def test_tf_model_remediation_module_paths():
    from keras_remediation.min_diff.keras import models
    from keras_remediation.min_diff.keras.models import min_diff_model

    assert models.MinDiffModel is min_diff.keras.MinDiffModel is min_diff_model.MinDiffModel
    assert min_diff.losses.kernels.GaussianKernel is min_diff.losses.GaussianKernel


def test_import_does_not_pull_in_flower_ray_or_fairlearn():
    # (Keras itself imports pandas and matplotlib when they are installed.)
    code = (
        "import sys, keras_remediation, keras_remediation.min_diff;"
        "heavy = [m for m in ('flwr', 'ray', 'fairlearn') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
