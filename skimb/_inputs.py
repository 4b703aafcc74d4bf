"""Input checks for the classifier: one place that turns what users pass into
what the network takes, with errors that name the problem."""

from __future__ import annotations

from collections.abc import Iterator
from numbers import Number

import numpy as np
import scipy.sparse as sp
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import (
    _check_sample_weight,
    check_array,
    column_or_1d,
    validate_data,
)


def input_ndim(X) -> int:
    """The number of dimensions of ``X``, an array or nested lists (a list
    of rows of different lengths has 1)."""
    if hasattr(X, "ndim"):
        return X.ndim
    return np.ndim(np.asarray(X, dtype=object))


def _samples(X) -> list | None:
    """The samples of a list, tuple or 1-D object array (a pandas Series of
    arrays included), as a list; None for other input."""
    listed = isinstance(X, (list, tuple)) or (
        getattr(X, "ndim", None) == 1
        # (pandas' own dtypes are not NumPy's, nor objects)
        and isinstance(getattr(X, "dtype", None), np.dtype)
        and X.dtype.kind == "O"
    )
    return list(X) if listed and len(X) else None


def sequence_list(X) -> list | None:
    """``X`` as a list of per-sample 2-D arrays, if it is a list, tuple or
    1-D object array of ``(n_timesteps_i, n_features)`` sequences."""
    samples = _samples(X)
    if samples is not None and np.ndim(samples[0]) == 2:
        return samples
    return None


def check_same_length(n_X: int, n_y: int) -> None:
    """Refuse ``X`` and ``y`` of different numbers of samples."""
    if n_X != n_y:
        raise ValueError(
            f"X and y have inconsistent numbers of samples: {n_X} and {n_y}."
        )


def check_not_ragged_rows(X) -> None:
    """Refuse a list of 1-D rows of different lengths, which reads as
    neither a table nor sequences, naming the form sequences take."""
    samples = _samples(X) if input_ndim(X) == 1 else None
    if samples is not None and np.ndim(samples[0]) == 1:
        raise ValueError(
            "X is a list of 1-D arrays of different lengths; each sequence "
            "must be a 2-D (n_timesteps_i, n_features) array: for one feature "
            "per step, give each as x.reshape(-1, 1)."
        )


def real_steps(X: np.ndarray, mask_value: float) -> np.ndarray:
    """Which steps of padded 3-D ``X`` are real: padding is a step whose
    features all equal ``mask_value``, wherever it is (Keras' masking rule),
    so a sequence is its other steps, in order, padded at the start or at
    the end alike."""
    if np.issubdtype(X.dtype, np.floating):
        # In X's precision: -0.1 as a float64 is no float32 value at all.
        mask_value = X.dtype.type(mask_value)
    return ~np.all(X == mask_value, axis=-1)


def _masked(X: np.ndarray, mask_value: float) -> np.ndarray:
    """Padded 3-D ``X`` (``mask_value`` steps, or NaN steps after a list's
    shorter sequences) with its real steps first and NaN padding after."""
    real = real_steps(X, mask_value) & ~np.isnan(X).all(axis=-1)
    if not real.any(axis=1).all():
        raise padding_only(int(np.flatnonzero(~real.any(axis=1))[0]), mask_value)
    return _packed(X, real)


def padding_only(row: int, mask_value: float) -> ValueError:
    """The error for a sequence whose every step is ``mask_value``."""
    return ValueError(
        f"Sequence {row} of X has no step that is not mask_value="
        f"{mask_value}: every sequence needs at least one real step."
    )


def _packed(X: np.ndarray, real: np.ndarray) -> np.ndarray:
    """A new array of ``X``'s sequences with their real steps first, in
    order, and padding steps of NaN after them (the padding the networks
    mask): start padding reads as end padding."""
    order = np.argsort(~real, axis=1, kind="stable")
    packed = np.take_along_axis(X, order[:, :, None], axis=1)
    padding = ~np.take_along_axis(real, order, axis=1)
    packed[padding] = np.nan
    return packed


def check_sequence(sequence, i: int) -> np.ndarray:
    """Sequence ``i`` of a list ``X`` as an array of numbers (its own
    dtype), refusing what no network reads: sparse matrices, values that
    are no numbers, NaN or infinity, and ranks other than a
    ``(n_timesteps_i, n_features)`` array's with one step or more."""
    if sp.issparse(sequence):
        raise TypeError(
            f"Sequence {i} of X is a sparse matrix; the networks take dense "
            "arrays: convert each sequence with .toarray() first."
        )
    try:
        array = np.asarray(sequence)
        if array.dtype.kind not in "biuf":
            array = array.astype(np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"Sequence {i} of X cannot be read as numbers: {error}"
        ) from None
    if array.ndim != 2 or len(array) == 0:
        raise ValueError(
            "Each sequence of a list X must be a 2-D (n_timesteps_i, "
            f"n_features) array with at least one step; sequence {i} has "
            f"shape {array.shape}."
        )
    if not np.isfinite(array).all():
        raise ValueError(f"Sequence {i} of X contains NaN or infinity.")
    return array


def _pad_sequences(
    sequences: list, *, length: int | None, n_features: int | None, fitted: bool
):
    """Check each sequence and pad them into one float32 array whose steps
    after each sequence's end are NaN (the padding skimb's networks mask)."""
    arrays = [
        check_sequence(sequence, i).astype(np.float32, copy=False)
        for i, sequence in enumerate(sequences)
    ]
    widths = {a.shape[1] for a in arrays}
    if len(widths) > 1 or (n_features is not None and widths != {n_features}):
        expected = n_features if n_features is not None else arrays[0].shape[1]
        bad = next(i for i, a in enumerate(arrays) if a.shape[1] != expected)
        raise ValueError(
            f"Every sequence must have {expected} features per step; sequence "
            f"{bad} has {arrays[bad].shape[1]}."
        )
    longest = max(len(a) for a in arrays)
    if length is not None and longest > length:
        # A network reads a fixed number of steps, the longest training
        # sequence's unless n_timesteps says more (so that another fold's
        # test sequences, or later data, may be longer).
        where = (
            f"the {length} the network was fitted on (fit with n_timesteps "
            "set to the longest sequence expected, e.g. under cross-validation, "
            "where a test fold can hold a longer one than the training folds)"
            if fitted
            else f"n_timesteps={length}"
        )
        raise ValueError(
            f"A sequence of X has {longest} time steps, more than {where}."
        )
    length = longest if length is None else length
    return pad_sequences(arrays, length=length, value=np.nan, dtype=np.float32)


def pad_sequences(sequences, *, length: int, value: float, dtype) -> np.ndarray:
    """``(t_i, f)`` arrays as one ``(n, length, f)`` array, each followed by
    steps of ``value``."""
    X = np.full((len(sequences), length, sequences[0].shape[1]), value, dtype)
    for i, sequence in enumerate(sequences):
        X[i, : len(sequence)] = sequence
    return X


def _check_no_missing_objects(X) -> None:
    """Refuse a DataFrame whose object columns hold missing values, naming
    them: scikit-learn's conversion fails on pandas.NA with "float()
    argument must be ... not 'NAType'", naming neither X nor the column
    (a nullable numeric column gets its "Input X contains NaN")."""
    select = getattr(X, "select_dtypes", None)
    if select is None:
        return
    # "string" too: pandas' StringDtype columns (pandas.NA) and pandas 3's
    # text columns, which "object" takes in only for now, with a warning.
    missing = select(include=["object", "string"]).isna().any()
    if missing.any():
        columns = missing.index[missing.to_numpy()].tolist()
        raise ValueError(
            f"Input X contains missing values (NaN, None or pandas.NA) in "
            f"columns {columns[:5]}: drop or impute them before fitting "
            "(for example with sklearn.impute.SimpleImputer)."
        )


def _check_numeric_columns(X) -> None:
    """Refuse a DataFrame with columns that are not numbers, naming them:
    scikit-learn's conversion says "could not convert string to float:
    'x'", naming neither the column nor what to do."""
    select = getattr(X, "select_dtypes", None)
    if select is None:
        return
    bad = []
    for column in select(exclude=["number", "bool"]).columns:
        try:
            np.asarray(X[column], dtype=np.float64)
        except (TypeError, ValueError):
            bad.append(column)
    if bad:
        raise ValueError(
            f"X has columns that are not numbers: {bad[:5]}"
            f"{' ...' if len(bad) > 5 else ''}. The networks take numbers: "
            "encode them first (for example sklearn.preprocessing.OneHotEncoder "
            "in a ColumnTransformer, in a Pipeline before the classifier)."
        )


def check_features(estimator, X, *, reset: bool) -> np.ndarray:
    """Validate ``X`` and return it as float32 in the network's input shape.

    2-D input goes through scikit-learn's ``validate_data`` (feature count
    and feature names); 3-D input is checked against the fitted
    ``(n_timesteps, n_features)``.  With ``n_timesteps`` set, a 2-D table of
    flattened sequences (as samplers return them) is reshaped, as a view.
    Sequences of different lengths (a list of 2-D arrays, or padded 3-D
    input with ``mask_value`` steps) come back padded with steps of NaN,
    which the network masks.  The caller's array is never written to.
    """
    if isinstance(X, Iterator):
        raise TypeError(
            f"X is an iterator ({type(X).__name__}), which can be read only "
            "once: pass an array, a DataFrame or a list of sequences (or "
            "skimb.data.Shards to fit on, or predict, data larger than memory)."
        )
    sequences = sequence_list(X)
    if sequences is not None:
        fitted = None if reset else estimator.input_shape_
        if fitted is not None and len(fitted) != 2:
            raise ValueError(
                f"X is a list of sequences, but {type(estimator).__name__} was "
                f"fitted on a table of {fitted[0]} features (2-D X): pass a "
                "2-D array (n_samples, n_features)."
            )
        X = _pad_sequences(
            sequences,
            length=estimator.n_timesteps if fitted is None else fitted[0],
            n_features=None if fitted is None else fitted[1],
            fitted=fitted is not None,
        )
        mask_value = getattr(estimator, "mask_value", None)
        if mask_value is not None:
            # A list's sequences may hold mask_value padding too: it is
            # padding in every form of X.
            X = _masked(X, mask_value)
        return _fitted_shape(
            estimator, X, reset=reset, variable_length=True, sequences=True
        )
    if sp.issparse(X):
        raise TypeError(
            "Sparse input is not supported: the networks take dense arrays. "
            "Convert X with X.toarray() first."
        )
    _check_no_missing_objects(X)
    _check_numeric_columns(X)
    ndim = input_ndim(X)
    if ndim == 1 and len(X) == 0:
        raise ValueError("X is empty: it holds no samples.")
    check_not_ragged_rows(X)
    if ndim not in (2, 3):
        raise ValueError(
            "X must be 2-D (n_samples, n_features) or 3-D "
            f"(n_samples, n_timesteps, n_features); got a {ndim}-D input. "
            "Reshape your data, e.g. X.reshape(1, -1) for a single sample."
        )
    # Imported here: the network module loads Keras, and the sampler tools
    # import this module's sequence helpers without it.
    from skimb._networks import SEQUENCE_ARCHITECTURES

    architecture = estimator.architecture
    n_timesteps = estimator.n_timesteps
    if ndim == 2:
        # A user's own network (model=) takes flattened sequences back as
        # sequences when n_timesteps is set, as skimb's sequence networks do.
        own_network = getattr(estimator, "model", None) is not None
        as_sequences = architecture in SEQUENCE_ARCHITECTURES or (
            own_network and n_timesteps is not None
        )
        if as_sequences and n_timesteps is None:
            # Before scikit-learn's count of features, which would compare
            # the columns with the features per step of fitted sequences.
            raise ValueError(
                f"architecture={architecture!r} needs 3-D X (n_samples, "
                "n_timesteps, n_features), or 2-D X of flattened sequences "
                f"with n_timesteps set; got 2-D X of shape {np.shape(X)}."
            )
        fitted = None if reset else getattr(estimator, "input_shape_", None)
        if not as_sequences and fitted is not None and len(fitted) == 2:
            # scikit-learn's count of features would compare the columns
            # with the features of one step.
            raise ValueError(
                f"X is 2-D of shape {np.shape(X)}, but {type(estimator).__name__} "
                f"was fitted on sequences of shape {fitted} (3-D X): pass X of "
                f"shape (n_samples, {fitted[0]}, {fitted[1]})."
            )
        if (
            as_sequences
            and fitted is not None
            and len(fitted) == 2
            and (estimator.n_features_in_ == fitted[1])
        ):
            # Fitted on 3-D X, whose n_features_in_ counts the features of a
            # step, not the columns of a flattened sequence: the reshape and
            # _fitted_shape check the shape against (n_timesteps, n_features).
            X = check_array(X, dtype=np.float32, ensure_all_finite=True, input_name="X")
        else:
            X = validate_data(
                estimator, X, reset=reset, dtype=np.float32, ensure_all_finite=True
            )
        if as_sequences:
            if X.shape[1] % n_timesteps:
                raise ValueError(
                    f"X has {X.shape[1]} columns, which is not a multiple of "
                    f"n_timesteps={n_timesteps}."
                )
            X = X.reshape(len(X), n_timesteps, X.shape[1] // n_timesteps)
    else:
        X = check_array(
            X,
            allow_nd=True,
            dtype=np.float32,
            ensure_all_finite=True,
            input_name="X",
            estimator=estimator,
        )
        if n_timesteps is not None and X.shape[1] != n_timesteps:
            raise ValueError(
                f"X has {X.shape[1]} time steps but n_timesteps={n_timesteps}."
            )
    mask_value = getattr(estimator, "mask_value", None)
    if mask_value is not None and X.ndim == 3:
        X = _masked(X, mask_value)
    return _fitted_shape(
        estimator,
        X,
        reset=reset,
        variable_length=mask_value is not None and X.ndim == 3,
        sequences=ndim == 3,
    )


def _fitted_shape(estimator, X, *, reset: bool, variable_length: bool, sequences):
    """Record (``reset``) or check the sample shape of ``X``; ``sequences``:
    the caller gave sequences, whose features per step are the features."""
    if X.ndim == 3 and 0 in X.shape[1:]:
        # Before the statistics, which would divide by no value.
        raise ValueError(
            f"X has samples of shape {tuple(X.shape[1:])}: a sequence needs at "
            "least one time step and one feature."
        )
    if reset:
        if sequences:
            estimator.n_features_in_ = X.shape[2]
            if hasattr(estimator, "feature_names_in_"):
                del estimator.feature_names_in_
        estimator.input_shape_ = tuple(X.shape[1:])
        estimator.variable_length_ = variable_length
        return X
    # Models fitted before variable lengths existed have no such attribute.
    # Sequences of the fitted length (a list of them) need no mask.
    if (
        variable_length
        and not getattr(estimator, "variable_length_", False)
        and np.isnan(X).any()
    ):
        raise ValueError(
            f"{type(estimator).__name__} was fitted on sequences of one "
            "length, so its network has no mask for padded steps: fit it on "
            "a list of sequences, or with mask_value set, to predict on "
            "sequences of different lengths."
        )
    if tuple(X.shape[1:]) != estimator.input_shape_:
        raise ValueError(
            f"X has samples of shape {tuple(X.shape[1:])}, but "
            f"{type(estimator).__name__} was fitted on samples of shape "
            f"{estimator.input_shape_}."
        )
    return X


def is_missing(label) -> bool:
    if label is None:
        return True
    try:
        return bool(label != label)  # NaN, and pandas' NA and NaT
    except TypeError:  # pandas.NA cannot be made a bool
        return True


def check_labels(y, n_samples: int) -> np.ndarray:
    """Validate classification targets: 1-D, same length as X, no NaN."""
    if y is None:
        raise ValueError(
            "requires y to be passed, but the target y is None: a classifier "
            "needs labels to fit."
        )
    y = column_or_1d(y, warn=True)
    if (
        y.dtype == object
        and len(y)
        and all(isinstance(label, Number) and not is_missing(label) for label in y)
    ):
        # Numbers held as objects (a pandas object column), which
        # type_of_target calls 'unknown': as the numbers they are.
        y = np.asarray(y.tolist())
    if y.dtype == object:
        # Missing labels among strings: NumPy would fail to sort them with
        # "'<' not supported between 'float' and 'str'".
        missing = [i for i, label in enumerate(y) if is_missing(label)]
        if missing:
            raise ValueError(
                f"y has {len(missing)} missing labels (NaN or None), at rows "
                f"{missing[:5]}{' ...' if len(missing) > 5 else ''}: drop those "
                "rows or give them a class."
            )
        strings = np.array([isinstance(label, str) for label in y])
        if strings.any() and not strings.all():
            # NumPy cannot sort them either ("'<' not supported ...").
            raise ValueError(
                "y mixes strings and other labels (for example "
                f"{y[np.argmax(strings)]!r} and {y[np.argmin(strings)]!r}): give "
                "every label the same type, e.g. y.astype(str)."
            )
    check_same_length(n_samples, len(y))
    target_type = type_of_target(y, input_name="y")
    if target_type not in ("binary", "multiclass"):
        raise ValueError(
            f"Unknown label type: {target_type!r}. y must hold class labels "
            "(integers or strings), not continuous values."
        )
    return y


def check_sample_weight(sample_weight, n_samples: int) -> np.ndarray:
    """``sample_weight`` as a new float64 array of one finite, non-negative
    weight per sample (ones for None); the caller's is not written to."""
    shape = None if sample_weight is None else np.asarray(sample_weight).shape
    if shape is not None and len(shape) > 1:
        raise ValueError(
            f"sample_weight must be 1-D, one weight per sample; got shape {shape}."
        )
    # Only the number of rows of the array it is checked against is read.
    return _check_sample_weight(
        sample_weight,
        np.empty((n_samples, 0)),
        dtype=np.float64,
        ensure_non_negative=True,
    )


def check_known_labels(y, classes, *, name: str = "y", among: str = "the classes"):
    """Raise if ``y`` holds labels outside ``classes``, naming them."""
    unknown = np.setdiff1d(y, classes)
    if unknown.size:
        raise ValueError(
            f"{name} has labels {unknown.tolist()[:10]} that are not among "
            f"{among} {np.asarray(classes).tolist()}."
        )
