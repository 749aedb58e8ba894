"""The demos' UCI Adult data: the bundled splits, preprocessed as in the guides.

Shared by the MinDiff demo (`demos.adult_min_diff`) and the federated demo
(`demos.adult_federated`). Importing this module imports nothing heavy; `load_adult_arrays`
imports the guides' `uci` utilities (Keras, pandas) when called.
"""

#: The `sex` values of the MinDiff groups (the guides' frames write them with a leading space).
SENSITIVE_GROUP = "Female"
NONSENSITIVE_GROUP = "Male"


def load_adult_arrays(train_sample=None):
    """The UCI Adult splits as arrays (bundled files, `uci.get_uci_preprocessor`).

    Args:
        train_sample: optional fraction in (0, 1] of the training split, drawn without
            replacement with seed `uci.SAMPLE_SEED`. Default None: all rows.

    Returns:
        A dict: `x` `[N, F]` float32, `y` `[N, 1]` float32 labels 0/1, `sex` `[N]` str
        ("Female"/"Male", stripped), `x_test`, `y_test`, `test_sex` likewise for the test split,
        and `train_frame`: the training rows as the guides' pandas DataFrame (row `i` is `x[i]`).
    """
    from keras_remediation.tools.tutorials_utils import uci

    train_df = uci.get_uci_data("train")
    if train_sample is not None:
        # Distinct rows (the guides' `get_uci_data(sample=...)` draws with replacement).
        train_df = train_df.sample(frac=train_sample, replace=False, random_state=uci.SAMPLE_SEED)
    test_df = uci.get_uci_data("test")
    preprocessor = uci.get_uci_preprocessor()
    x, y = uci.df_to_arrays(train_df, preprocessor)
    x_test, y_test = uci.df_to_arrays(test_df, preprocessor)
    # The guides' frames keep the file's leading space (" Female"); the reports use clean names.
    return {
        "x": x, "y": y, "sex": train_df["sex"].str.strip().to_numpy(),
        "x_test": x_test, "y_test": y_test, "test_sex": test_df["sex"].str.strip().to_numpy(),
        "train_frame": train_df,
    }
