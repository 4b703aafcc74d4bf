"""ImbalancedKerasClassifier: a Keras network as a scikit-learn classifier."""

from __future__ import annotations

from dataclasses import replace
from functools import partial

import numpy as np
from scipy.special import log_softmax
from sklearn.utils.validation import check_is_fitted

from skimb._fitting import (
    Setting,
    fit_decision_for,
    fit_networks,
    make_setting,
    moments_for,
    streamed_moments,
    train_epoch,
    untrained_network,
)
from skimb._inference import forward, log_probabilities
from skimb._inputs import (
    check_features,
    check_known_labels,
    check_labels,
    check_sample_weight,
)
from skimb._networks import ends_in_softmax
from skimb._params import (
    PARAMETER_CONSTRAINTS,
    changed_params,
    check_combinations,
    check_network_settings,
    network_settings,
)
from skimb._prepare import prepare_targets
from skimb._random import seed_from
from skimb._scikeras import ScikerasFixes
from skimb._splits import check_streamed_splits, network_splits
from skimb._state import restored_on_error
from skimb.calibration import estimate_prior, shift_prior
from skimb.class_weight import prior_counts
from skimb.data import Shards
from skimb.decision import (
    FittedDecision,
    decide,
    prior_frequencies,
    prior_shift_offsets,
    rule_offsets,
)
from skimb.metrics import macro_f1
from skimb.sampling import check_resampling

# What a fit counts of y; partial_fit adds each call's to them.
_COUNTED = (
    "classes_",
    "class_counts_",
    "_weight_totals",
    "train_class_counts_",
    "class_weight_",
    "weighted_class_counts_",
)


class ImbalancedKerasClassifier(ScikerasFixes):
    """A Keras network for imbalanced multi-class data, as a scikit-learn classifier.

    The estimator builds a dense, LSTM, GRU or 1-D convolutional network,
    standardises its inputs inside the network, trains it with the imbalance
    strategy given by ``loss`` and ``class_weight``, keeps a stratified
    validation split (or, when classes are small, cross-fits several networks
    on stratified folds: ``cv``), stops early on validation macro-F1 and turns
    probabilities into classes with the rule given by ``decision``.

    ``is_classifier`` is true, so ``cross_val_score`` and ``GridSearchCV``
    stratify their folds; ``score`` is macro-F1, not accuracy.

    Parameters
    ----------
    architecture : {"dense", "lstm", "gru", "conv1d"}, default="dense"
        ``"dense"`` for tables (a 3-D input is flattened); the others read
        sequences ``(n_samples, n_timesteps, n_features)``.
    units : int or "auto", default="auto"
        Width of each hidden layer (units, recurrent units or filters).
        ``"auto"``: 128 for ``"dense"``, 64 for the sequence networks.
    n_layers : int or "auto", default="auto"
        Number of hidden layers; ``0`` with ``"dense"`` is a linear model;
        ``"lstm"`` and ``"gru"`` need at least 1 recurrent layer.
        ``"auto"``: 2 for ``"dense"``, 1 for the sequence networks.
    dropout : float, default=0.1
        Dropout after each hidden layer (on the inputs of recurrent layers).
    recurrent_dropout : float, default=0.0
        Dropout on the recurrent state of LSTM and GRU layers.
    activation : str, default="relu"
        Activation of dense and convolutional hidden layers.
    kernel_size : int, default=3
        Width of the convolutions: those of ``"conv1d"`` (at least 1), and of
        the convolutional layer that ``"lstm"`` and ``"gru"`` put in front of
        their recurrent layers (``0``: no such layer).
    bidirectional : bool, default=True
        ``"lstm"`` and ``"gru"`` read each sequence in both directions, with
        ``units // 2`` (at least 1) recurrent units per direction.
        ``kernel_size=0, bidirectional=False`` is the plain recurrent network.
    flat_path : bool, default=True
        Sequence networks (``"lstm"``, ``"gru"``, ``"conv1d"``) add to their
        logits those of a linear layer on the whole flattened, standardised
        window (with weight decay), so that they contain the linear model of
        the flattened sequence that users would otherwise fit beside them.
    pooling : bool, default=True
        ``"lstm"`` and ``"gru"`` also pool the features of their front
        convolution over time (mean and maximum), beside the recurrent
        state; ``"conv1d"`` pools with the maximum as well as the mean.
    n_timesteps : int, optional
        Sequence length.  With it, a sequence network also accepts 2-D
        ``X`` of flattened sequences ``(n_samples, n_timesteps * n_features)``,
        which is what imbalanced-learn samplers return.  With sequences of
        different lengths, the length they are padded to: set it to the
        longest sequence expected where later data (a test fold under
        cross-validation) may hold longer ones than the training data.
    mask_value : float, optional
        Sequences of different lengths, padded: a time step whose features
        all equal ``mask_value`` is padding, wherever it is (Keras' masking
        rule), which the network masks in every layer that reads along
        time; each sequence is read as its other steps, in order, so padding
        at the start or at the end gives the same predictions.  A finite
        number.  A list of ``(n_timesteps_i, n_features)`` arrays needs no
        ``mask_value``: it is padded and masked as it is (with
        ``mask_value`` set, its sequences' ``mask_value`` steps are padding
        too).
    standardize : bool or "auto", default="auto"
        Standardise each feature inside the network with the mean and
        variance of the training split (of the first call of
        ``partial_fit``), so raw features work as they are; a feature
        constant there is centred only, as ``StandardScaler`` does.
        ``"auto"``: for skimb's networks, not for your own ``model`` (it
        sees ``X`` as you give it, as under scikeras, so the
        preprocessing it was designed for is kept).
    loss : {"crossentropy", "focal", "class_balanced", "logit_adjusted", \
"ldam"}, Keras loss name or keras loss, default="logit_adjusted"
        The loss strategy (see :mod:`skimb.losses`); class counts and priors are
        those of the ``y`` given to ``fit`` (``train_class_counts_``).
        ``"focal"``: focal loss (Lin et al., 2017).  ``"class_balanced"``: focal
        loss (crossentropy when ``gamma=0``) weighted by the effective number of
        samples with ``beta`` (Cui et al., 2019).  ``"logit_adjusted"``:
        crossentropy on logits shifted by ``tau * log(prior)`` (Menon et al.,
        2021); the network's own logits then give balanced predictions.
        ``"ldam"``: label-distribution-aware margins scaled by ``ldam_scale``
        (Cao et al., 2019), optionally with ``drw``.  A Keras loss object or
        function is used as given (a function wrapped as ``Model.compile``
        wraps one): it receives one-hot targets (integer labels for
        ``SparseCategoricalCrossentropy`` and
        ``sparse_categorical_crossentropy``) and class probabilities, or
        logits if it was built with ``from_logits=True``.  Keras' names of
        its multi-class losses (``"categorical_crossentropy"``,
        ``"sparse_categorical_crossentropy"``,
        ``"categorical_focal_crossentropy"``, ``"categorical_hinge"``) are
        Keras' functions of those names, as in scikeras.  A model file holds
        a function of your own by name: register it
        (``keras.saving.register_keras_serializable``) to load it.  The default, with
        ``decision="macro_f1"``, scored best over the problems of the strategy
        benchmark (see the Benchmarks page of the documentation).  Whatever
        the loss, :meth:`predict_proba` undoes its adjustment (see
        ``class_prior``).
    gamma : float, default=2.0
        Focusing parameter of ``loss="focal"`` and ``loss="class_balanced"``.
    class_weight : None, "balanced", "effective" or dict, default=None
        Per-class weights, computed in ``fit`` from the labels it receives
        (so after any resampling) and multiplied into ``sample_weight``.
        ``"balanced"`` is ``n_samples / (n_classes * n_c)``; ``"effective"``
        is the effective number of samples of Cui et al. (2019) with ``beta``;
        a dict maps labels to weights.  A weight is a cost on that class's
        errors, the same under every loss: training sees each class as often
        as its count times its mean weight (``weighted_class_counts_``), and
        the logit adjustment, the class-balanced weights and ``drw`` are
        computed from those weighted counts, so that ``"balanced"`` never
        corrects twice.  The built-in losses (the logit-adjusted one with
        ``tau > 0``) take each class's mean weight as an offset on the
        logits rather than a factor on the loss, which teaches what the
        weighted loss would teach (exactly for crossentropy and the
        logit-adjusted loss, approximately for focal and LDAM), without the
        noisy gradients of large weights on few samples.  On skimb's own
        networks crossentropy, focal and LDAM (its margins of the unweighted
        counts) then train exactly as without weights, with logits shifted
        by the log of the weights (but for ``drw``, whose weights are of the
        weighted counts, and an optimizer's weight decay on the bias); the
        logit-adjusted loss with ``tau=1`` trains as without weights too.
        The weights act through early stopping and the decision rule.  The
        class-balanced loss's own weights are of the weighted counts
        (uniform with balanced weights).  On a network of your own,
        crossentropy, focal, class-balanced and LDAM multiply the weights
        in, LDAM's margins of the weighted counts; so does a Keras loss of
        your own.
        :meth:`predict_proba` takes the weights out again (it is the
        posterior of the data, not of the weighted data); the
        ``"posterior"`` rule puts them back as costs, so a larger weight
        moves predictions towards its class.  Per-class means of
        ``sample_weight`` act the same way.
    beta : float, default=0.999
        Effective-number parameter, in ``[0, 1)``, of
        ``class_weight="effective"``, ``loss="class_balanced"`` and ``drw``.
    tau : float, default=1.0
        Strength of the prior adjustment of ``loss="logit_adjusted"`` and of
        ``decision="prior_corrected"``.
    ldam_scale : float, default=10.0
        Scale of the margins of ``loss="ldam"``, in logit units.
    drw : int, optional
        With ``loss="ldam"``: the epoch from which the loss re-weights
        classes by the effective number with ``beta`` (deferred re-weighting,
        Cao et al., 2019); ``None`` never re-weights.
    decision : {"argmax", "prior_corrected", "posterior", "macro_f1"}, \
default="macro_f1"
        How :meth:`predict` turns probabilities into a class (see
        :mod:`skimb.decision`): ``"argmax"``, the network's own prediction,
        as its loss trained it (balanced under the logit-adjusted loss);
        ``"prior_corrected"`` subtracts ``tau * log(prior)`` from the
        network's log-probabilities, with the prior of the weighted classes
        (``weighted_class_counts_``); ``"posterior"``
        undoes the loss's logit adjustment and ``batch_sampler``'s
        resampling, so the argmax is that of the posterior under the class
        frequencies of ``y``, weighted by ``class_weight`` (weights are
        costs, so they still move predictions; exact for the crossentropy
        and logit-adjusted losses, an approximation for the others);
        ``"macro_f1"`` starts from ``"posterior"`` and adds per-class offsets
        tuned on the validation split to maximise its macro-F1, averaged over
        bootstrap resamples of the split (it keeps ``"posterior"`` without a
        validation split, or when a class has fewer than 5 validation
        samples, and ``decision_rule_`` then says ``"posterior"``; where
        the tuned offsets score below the posterior rule's or argmax's on
        the split, it keeps the better of those, as ``"macro_f1"``).
        :meth:`predict_proba` is not changed by the rule;
        :meth:`decision_function` is.
    class_prior : None, "balanced" or array-like of shape (n_classes,), \
default=None
        The class frequencies :meth:`predict_proba` is the posterior under,
        and :meth:`predict` decides for: ``None``, those of the ``y`` given
        to ``fit``; ``"balanced"``, equal frequencies (the probabilities of
        a balanced prior); or frequencies in the order of ``classes_`` (for
        example the ones before a sampler in front of the estimator
        resampled ``y``, or those expected where the model is used).  The
        probabilities are moved by Bayes' rule from the training data's
        frequencies, after the loss's adjustment and ``batch_sampler``'s
        resampling are undone and a temperature is fitted on the held-out
        predictions (:mod:`skimb.calibration`).  Moved far (some class
        twice or half as frequent), :meth:`predict` decides on these
        probabilities, the decision rule's offsets on top (so
        ``"posterior"`` without class or sample weights is their argmax);
        without a shift on the network's own, and in between for a smaller
        move (:func:`skimb.decision.prior_shift_offsets`).
        :meth:`fit_class_prior` estimates the frequencies of unlabelled data
        instead (label shift).
    optimizer : {"adam", "adamw", "nadam", "rmsprop", "sgd"}, default="adam"
        Keras optimizer, by name.
    learning_rate : float or "auto", default="auto"
        Learning rate of the optimizer.  ``"auto"``: 1e-3 for networks
        trained on up to 4,096 rows (32 batches of 128), and
        ``1e-3 * sqrt(4096 / n)`` for ``n`` rows beyond, so that
        large data, whose epochs hold more steps, do not over-fit between
        two checks of early stopping.  A network that :meth:`partial_fit`
        or :meth:`initialize` builds trains at 1e-3 (it does not stop
        early); :meth:`partial_fit` after :meth:`fit` goes on at the rate
        of the fit.
    batch_size : int or "auto", default="auto"
        Mini-batch size (rows of each network per step).  ``"auto"``: the
        first network's training rows divided by 32, between 32 and 128: batches
        of 32 on small data (enough gradient steps before early stopping can
        stop), of 128 on large data (fewer, cheaper steps per epoch).
    epochs : int, default=300
        Maximum number of epochs (early stopping usually ends sooner).
    validation_fraction : float, default=0.1
        Fraction of the training data held out, stratified and shuffled, to
        monitor validation loss and macro-F1 and to tune the decision rule;
        every class of 2 or more rows has a row on each side, where the
        fraction rounds its share to none.  ``0`` trains on everything.  Not
        used when ``cv`` cross-fits.
    cv : int, "auto", None or a cross-validation splitter, default="auto"
        Cross-fitting: an int ``k >= 2`` trains ``k`` networks, each holding
        out one fold of a stratified ``k``-fold split for its validation
        metrics and early stopping; the decision rule is tuned on their
        out-of-fold log-probabilities (every sample of ``y``, where a single
        split holds ``validation_fraction`` of them), and the model predicts
        with the mean of their log-probabilities.  It costs ``k`` fits and
        pays where classes are small: on the benchmark's 5,000-row table it
        lifts macro-F1 from 93.5% to 95.4% of the Bayes-optimal (see
        docs/benchmarks.rst).  ``None`` trains one network.  ``"auto"``:
        ``5`` (or the size of the rarest class, when smaller) when the rarest
        class has fewer than 1,000 samples and ``validation_fraction > 0``,
        ``None`` otherwise.  A splitter (scikit-learn's ``split`` and
        ``get_n_splits``, such as ``StratifiedGroupKFold``) trains one
        network per split, on its training rows, held out on its test rows;
        a group-wise one reads the ``groups`` given to :meth:`fit`, so that
        rows of one recording or patient never both train and validate a
        network.  Every network must train on every class, and no row may
        be held out by two networks.
    early_stopping : bool, default=True
        Stop when the validation score ``monitor`` has not improved for
        ``patience`` epochs and restore the weights of the best epoch.
        Needs ``validation_fraction > 0`` or cross-fitting.
    patience : int, default=30
        Epochs without improvement before early stopping.
    monitor : {"val_macro_f1", "oof_macro_f1", "val_loss"}, \
default="oof_macro_f1"
        What early stopping follows: each network's validation macro-F1;
        ``"oof_macro_f1"``, the macro-F1 of the out-of-fold predictions of
        all the cross-fitted networks together (every sample of ``y``, so
        ``k`` times the rare samples of one fold), on which the networks stop
        together; or each network's validation loss (downwards).
    batch_sampler : {"over", "under", "smote"}, imbalanced-learn sampler or \
            None, default=None
        Redraw the training batches at every epoch with this sampler, from
        the training split only (the validation split is never resampled):
        ``"over"`` is ``RandomOverSampler``, ``"under"``
        ``RandomUnderSampler``, ``"smote"`` ``SMOTE`` with five neighbours,
        fewer where the rarest class of a network's training rows has five
        rows or fewer; a sampler instance is cloned and reseeded every epoch
        (and keeps its own ``k_neighbors``).  Over- and under-sampling
        (without ``shrinkage``) select rows without copying ``X``; a sampler
        that synthesises rows gives them their class weight.  See :mod:`skimb.sampling`.
    callbacks : list of keras.callbacks.Callback, optional
        Extra callbacks; they run after the validation metrics are added to
        the logs, so they can monitor ``"val_macro_f1"``.  With cross-fitting
        the networks train together and the callbacks see, once an epoch,
        the mean of their logs; their ``model`` is the model ``fit`` returns
        (the networks averaged), with the training's optimizer.
    random_state : int, RandomState instance or None, default=None
        Seed for the split, the initial weights, dropout and shuffling: the
        same seed gives the same predictions.
    verbose : int, default=0
        Keras progress output: 0 silent, 1 progress bar, 2 one line per epoch.
    model : keras.Model, callable or None, default=None
        Your own network instead of skimb's, as scikeras' ``model``: a
        ``keras.Model`` (compiled or not, subclassed or not), cloned with
        fresh weights for every network trained (adapted preprocessing
        layers, and frozen layers, with weights but none trainable, keep
        theirs; one it cannot give them is refused), or a function that
        returns one.  The function
        may take ``meta``, a dict with scikeras' ``n_features_in_``,
        ``n_classes_``, ``classes_``, ``target_type_`` and ``X_shape_``, and
        ``input_shape_`` (the shape of one sample), and its own keyword
        hyper-parameters, which are estimator parameters named
        ``model__<name>`` (``model__units=32``): ``get_params``,
        ``set_params``, ``clone``, ``GridSearchCV`` and
        :class:`~skimb.OptunaSearchCV` see them.  The network takes one input
        of the shape of a sample of ``X`` and gives one score per class; a
        final softmax is turned back into log-probabilities, so that every
        loss, class weight, batch sampler, decision rule, cross-fitting and
        early stopping applies; ``standardize=True`` standardises its input.
        The parameters that shape skimb's own networks (``architecture``,
        ``units``, ``n_layers``, ``dropout``, ...) must keep their defaults
        beside it, and ``model__<name>`` ones need it: ``fit`` refuses
        either, which would be ignored.  The
        network is trained with this estimator's ``loss`` and ``optimizer``:
        a loss or optimizer it was compiled with is not used (pass your own
        Keras loss as ``loss=`` to keep it).  ``None``: skimb's networks, by
        ``architecture``.
    devices : None, "all", int or list of str, default=None
        The devices each fit trains on, data-parallel: every training batch
        is split across them along its rows, with the weights replicated,
        so a step is the step of one device on the whole batch (up to the
        order of float additions).  ``"all"``, a number (the first of
        :func:`keras.distribution.list_devices`) or a list of names
        (``["gpu:0", "gpu:1"]``).  Several devices need Keras' JAX backend;
        ``None`` is one device, Keras' default.  Prediction runs on one
        device.  See :doc:`/scaling`.
    jit_compile : bool, default=False
        Whether TensorFlow compiles the training epoch with XLA (as in
        :meth:`keras.Model.compile`).  On a CPU, XLA runs an epoch of the
        default ``"lstm"`` network 1.1 to 2.5 times faster, for up to 3 s
        more of compilation per fit; the fits are not the same, and on the
        benchmark suite's sequences they scored lower more often than not
        (:doc:`/benchmarks`, "XLA for recurrent networks"), so it is not
        the default.  On a GPU Keras refuses XLA for recurrent layers (their
        cuDNN kernels have none) and trains without it, with a warning.
        ``False`` leaves ``model_``'s own ``predict`` and ``evaluate`` to
        Keras' rule.  On JAX every epoch is compiled by XLA whatever the
        value.
    **model_params
        ``model__<name>`` hyper-parameters of the build function.  Any other
        name is kept (``get_params``, ``clone``) and refused by ``fit``, as
        ``set_params`` refuses it.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Number of columns of 2-D ``X``, or features per time step of 3-D ``X``.
    feature_names_in_ : ndarray of str
        Column names, when ``X`` was a DataFrame with string column names.
    input_shape_ : tuple of int
        Shape of one sample as the network takes it.
    variable_length_ : bool
        Whether the network masks padded steps: ``X`` was a list of
        sequences, or ``mask_value`` was set.
    class_weight_ : ndarray of shape (n_classes,)
        The per-class weights of the last ``fit`` or ``partial_fit`` call.
    weighted_class_counts_ : ndarray of shape (n_classes,)
        ``train_class_counts_`` times each class's mean training weight
        (``class_weight_`` times ``sample_weight``): the class frequencies
        the loss sees, behind its prior adjustment, margins or weights (the
        logit-adjusted loss and crossentropy see them through offsets on
        the logits).
    class_counts_ : ndarray of shape (n_classes,)
        Number of samples of each class in the ``y`` of the last ``fit``,
        plus those of the ``partial_fit`` calls since (or of every
        ``partial_fit`` call, without a ``fit``).
    train_class_counts_ : ndarray of shape (n_classes,)
        The class counts behind the loss's prior, margins or weights and the
        prior correction: ``class_counts_``, or as ``batch_sampler``
        resamples them (approximately for cleaning and combined samplers:
        :func:`skimb.sampling.resampled_class_counts`).
    posterior_offsets_ : ndarray of shape (n_classes,)
        Offsets added to the network's log-probabilities to undo the loss's
        adjustment, the class weights and ``batch_sampler``'s resampling:
        the posterior under the class frequencies of ``y``, before the
        temperature.
    temperature_ : float
        The temperature the network's log-probabilities are divided by,
        fitted with ``calibration_bias_`` on the held-out (or out-of-fold)
        predictions to minimise their log-loss; ``1.0`` without held-out
        data.
    calibration_bias_ : ndarray of shape (n_classes,)
        Per-class biases added after the temperature, which keep the mean
        held-out probability of each class at its frequency (bias-corrected
        temperature scaling, :mod:`skimb.calibration`); zeros without
        held-out data.
    loss_weights_ : ndarray of shape (n_classes,)
        The per-class weights the loss applied on its own, which
        :meth:`predict_proba` undoes: ``"class_balanced"``'s, and those
        ``drw`` switches to where the networks kept were trained with them
        (from epoch ``drw`` on); ones otherwise.
    class_prior_ : ndarray of shape (n_classes,)
        The class frequencies :meth:`predict_proba` is the posterior under:
        ``class_prior``, those of ``y``, or :meth:`fit_class_prior`'s
        estimate.
    decision_offsets_ : ndarray of shape (n_classes,)
        Offsets added to :meth:`predict_log_proba` before the argmax: the
        rule's, set on the network's own log-probabilities; where
        ``class_prior_`` is not the training data's, on the calibrated
        posterior under it (:func:`skimb.decision.prior_shift_offsets`).
    decision_rule_ : str
        The rule behind ``decision_offsets_``: ``decision``, or
        ``"posterior"`` where ``"macro_f1"`` had too few validation samples
        to tune on (a ``"macro_f1"`` rule whose tuned offsets scored below
        the posterior rule's or argmax's keeps those offsets, and its name).
    n_networks_ : int
        Number of networks trained: the folds of ``cv`` (the splits of a
        splitter), or 1.
    model_ : keras.Model
        The trained network (with cross-fitting, one model averaging the
        ``n_networks_`` networks); it outputs logits, or probabilities for a
        Keras loss that takes probabilities.
    history_ : dict of str to list of float
        Per-epoch ``loss`` and, with validation, ``val_loss``,
        ``val_macro_f1``, ``val_balanced_accuracy``, ``val_g_mean`` and
        ``val_recall_<class>`` for each class; with cross-fitting, those of
        the first network, and ``oof_macro_f1``, the macro-F1 of all the
        networks' out-of-fold predictions together.  ``loss`` is Keras'
        training loss, which with one network includes the network's weight
        penalties (the L2 penalty of the sequence networks' flat path) and
        with several does not; ``val_loss`` never does.
    histories_ : list of dict
        ``history_`` of each of the ``n_networks_`` networks.
    best_epoch_ : int or None
        Index of the epoch whose weights were kept by early stopping (of the
        first network, with cross-fitting), or by a Keras
        ``EarlyStopping(restore_best_weights=True)`` in ``callbacks``, which
        restores its own after skimb's.

    Examples
    --------
    >>> from sklearn.model_selection import cross_val_score
    >>> from skimb import ImbalancedKerasClassifier
    >>> from skimb.datasets import make_imbalanced_classification
    >>> X, y = make_imbalanced_classification(1000, random_state=0)
    >>> clf = ImbalancedKerasClassifier(epochs=5, random_state=0)
    >>> clf.fit(X, y).predict(X[:3]).shape
    (3,)
    >>> clf.loss, clf.decision
    ('logit_adjusted', 'macro_f1')
    >>> sorted(clf.history_)[:4]
    ['loss', 'oof_macro_f1', 'val_balanced_accuracy', 'val_g_mean']
    """

    _parameter_constraints: dict = PARAMETER_CONSTRAINTS
    # partial_fit's compiled epoch, which does not pickle: the next call
    # after loading compiles again.  And the settings the network was built
    # with, for partial_fit's check of set_params: a model file's copy of a
    # model= network would compare unequal to the loaded parameter; the
    # first call after loading records them again (and validates the
    # parameters, which partial_fit validates only when they change).
    _TRANSIENT = ("_program", "_built_with", "_validated")

    # scikeras' __init__ stores its own parameter set (and **kwargs); this
    # estimator has explicit parameters only, so it does not call it.
    def __init__(
        self,
        architecture: str = "dense",
        *,
        units: int | str = "auto",
        n_layers: int | str = "auto",
        dropout: float = 0.1,
        recurrent_dropout: float = 0.0,
        activation: str = "relu",
        kernel_size: int = 3,
        bidirectional: bool = True,
        flat_path: bool = True,
        pooling: bool = True,
        n_timesteps: int | None = None,
        mask_value: float | None = None,
        standardize: bool | str = "auto",
        loss="logit_adjusted",
        gamma: float = 2.0,
        class_weight: None | str | dict = None,
        beta: float = 0.999,
        tau: float = 1.0,
        ldam_scale: float = 10.0,
        drw: int | None = None,
        decision: str = "macro_f1",
        class_prior=None,
        optimizer: str = "adam",
        learning_rate: float | str = "auto",
        batch_size: int | str = "auto",
        epochs: int = 300,
        validation_fraction: float = 0.1,
        cv: int | str | None = "auto",
        early_stopping: bool = True,
        patience: int = 30,
        monitor: str = "oof_macro_f1",
        batch_sampler=None,
        callbacks: list | None = None,
        random_state: int | np.random.RandomState | None = None,
        verbose: int = 0,
        model=None,
        devices: None | str | int | list = None,
        jit_compile: bool = False,
        **model_params,
    ):
        self.architecture = architecture
        self.units = units
        self.n_layers = n_layers
        self.dropout = dropout
        self.recurrent_dropout = recurrent_dropout
        self.activation = activation
        self.kernel_size = kernel_size
        self.bidirectional = bidirectional
        self.flat_path = flat_path
        self.pooling = pooling
        self.n_timesteps = n_timesteps
        self.mask_value = mask_value
        self.standardize = standardize
        self.loss = loss
        self.gamma = gamma
        self.class_weight = class_weight
        self.beta = beta
        self.tau = tau
        self.ldam_scale = ldam_scale
        self.drw = drw
        self.decision = decision
        self.class_prior = class_prior
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.epochs = epochs
        self.validation_fraction = validation_fraction
        self.cv = cv
        self.early_stopping = early_stopping
        self.patience = patience
        self.monitor = monitor
        self.batch_sampler = batch_sampler
        self.callbacks = callbacks
        self.random_state = random_state
        self.verbose = verbose
        self.model = model
        self.devices = devices
        self.jit_compile = jit_compile
        # Stored as they come, checked in fit (scikit-learn's convention).
        for name, value in model_params.items():
            setattr(self, name, value)

    # ------------------------------------------------------------------ fit

    def fit(
        self, X, y=None, sample_weight=None, groups=None
    ) -> ImbalancedKerasClassifier:
        """Train a new network on ``X, y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or \
                (n_samples, n_timesteps, n_features), or :class:`skimb.data.Shards`
            Training data; no NaN or infinite values.  :class:`~skimb.data.Shards`
            (files on disk, labels included) are streamed a window at a time
            and never held whole in memory.
        y : array-like of shape (n_samples,)
            Class labels; None with :class:`~skimb.data.Shards`, which hold them.
        sample_weight : array-like of shape (n_samples,), optional
            Per-sample weights, multiplied by the class weights.  Only their
            ratios count: the loss sees them rescaled to mean 1.  The
            caller's array is not modified.  Not with
            :class:`~skimb.data.Shards`.
        groups : array-like of shape (n_samples,), optional
            Each row's group (the recording, patient or session it comes
            from), for a group-wise splitter given as ``cv``
            (``StratifiedGroupKFold``, ``GroupKFold``): no network then
            validates on a group it trained on.  Only with such a ``cv``.

        Returns
        -------
        self
        """
        # A fit that fails (or is interrupted) leaves the estimator as it
        # was: the checks set classes_, the counts and n_features_in_ before
        # any training, which would pair a former fit's network with this
        # fit's classes.
        with restored_on_error(self):
            return self._fit(X, y, sample_weight, groups)

    def _fit(self, X, y, sample_weight, groups) -> ImbalancedKerasClassifier:
        """:meth:`fit`, which undoes what this sets where it raises."""
        self._validate_params()
        params = self._python_params()
        check_combinations(params)
        streamed = isinstance(X, Shards)
        if streamed:
            y_encoded, weights = self._check_shard_labels(X, y, sample_weight)
        else:
            X, y_encoded, weights = self._check_training_data(
                X, y, sample_weight, classes=None
            )
        seed = seed_from(self.random_state)
        splits = network_splits(
            self.cv,
            y_encoded,
            classes=self.classes_,
            validation_fraction=self.validation_fraction,
            seed=seed,
            groups=groups,
            X=None if streamed else X,
        )
        check_resampling(
            self.batch_sampler,
            y_encoded,
            trains=[train for train, _ in splits],
            classes=self.classes_,
        )
        if streamed:
            check_streamed_splits(splits, n_rows=len(y_encoded), cv=self.cv)
            X, moments = self._checked_stream(X, params=params, splits=splits)
        else:
            moments = [moments_for(params, X[train]) for train, _ in splits]
        fitted = fit_networks(
            self._setting(),
            X,
            y_encoded=y_encoded,
            weights=weights,
            splits=splits,
            moments=moments,
            seed=seed,
        )
        self.model_, self.n_networks_ = fitted.model, len(fitted.histories)
        self._built_with = network_settings(self.get_params(deep=False))
        # A new network: the next partial_fit compiles its own epoch.
        vars(self).pop("_program", None)
        self.histories_ = fitted.histories
        self.history_, self.best_epoch_ = fitted.histories[0], fitted.best_epochs[0]
        self._set_decision(fitted.decision)
        return self

    def _check_shard_labels(self, shards: Shards, y, sample_weight) -> tuple:
        """``fit(Shards)``'s labels, read from the files (without the
        features), and the sample weights, as :meth:`_check_targets` gives
        them."""
        if y is not None or sample_weight is not None:
            raise ValueError(
                "fit(Shards) reads the labels from the shards' "
                f"{shards.target!r}; pass neither y nor sample_weight "
                "(weight classes with class_weight)."
            )
        labels = shards.labels()
        return self._check_targets(labels, None, n_samples=len(labels), classes=None)

    def _checked_stream(self, shards: Shards, *, params: dict, splits: list) -> tuple:
        """The shards as the networks read them, a window at a time, and each
        network's feature moments, from one pass that checks every window."""
        # The pass's first window sets the sample shape that every later one
        # is checked against (windows are prepared one after another, in
        # order, in the reading thread).
        first = iter([True])
        moments = streamed_moments(
            shards.windows(
                prepare=lambda raw: check_features(self, raw, reset=next(first, False))
            ),
            params=params,
            splits=splits,
            n_rows=len(shards),
        )
        return shards.stream(partial(check_features, self, reset=False)), moments

    def partial_fit(
        self, X, y, classes=None, sample_weight=None
    ) -> ImbalancedKerasClassifier:
        """Train the network for one epoch on ``X, y``, without validation.

        The first call builds the network; it needs ``classes`` unless ``y``
        holds every class.  The class counts, and the class weights, loss
        adjustment and ``predict_proba``'s prior drawn from them, are those
        of every row given so far (this call's, the earlier calls' and a
        ``fit``'s before them, its validation rows included), not of this
        call's ``y`` alone.

        A call that raises counts none of its rows, but one interrupted
        during its epoch (a callback's exception, ``KeyboardInterrupt``)
        leaves the network trained on some of them.  ``set_params`` between
        calls may change the class weights and the loss's settings (and the
        loss, for another that takes logits as well), not what the network
        was built and compiled with (the parameters of skimb's networks,
        ``model`` and its ``model__`` parameters, ``n_timesteps``,
        ``standardize``, ``optimizer``, ``learning_rate``): the call refuses
        that, as it would train the old network on (but for the first call
        after unpickling or loading, which records them).  To move the
        learning rate, pass a ``keras.callbacks.LearningRateScheduler`` in
        ``callbacks``.

        Parameters
        ----------
        X : array-like
            Training data, shaped as for :meth:`fit` (arrays, not
            :class:`~skimb.data.Shards`: pass one window at a time).
        y : array-like of shape (n_samples,)
            Class labels.
        classes : array-like of shape (n_classes,), optional
            All the classes, on the first call.
        sample_weight : array-like of shape (n_samples,), optional
            Per-sample weights; the loss sees them rescaled by the mean
            weight of every row counted so far (this call's included), and
            the class counts as given.

        Returns
        -------
        self
        """
        first_call = not hasattr(self, "model_")
        params = self.get_params(deep=False)
        # Every call whose parameters changed since the last: set_params
        # between calls may set any value.  Not every call: the check costs
        # about 1 ms, a fifth of a small chunk's epoch on JAX.
        validated = getattr(self, "_validated", None)
        if validated is None or changed_params(validated, params):
            self._validate_params()
            self._validated = params
        if not first_call:
            check_network_settings(getattr(self, "_built_with", None), params)
        if isinstance(X, Shards):
            raise TypeError(
                "partial_fit takes arrays, not Shards: fit(Shards) streams "
                "them, or pass partial_fit one window's arrays at a time."
            )
        if (
            not first_call
            and classes is not None
            and not np.array_equal(np.unique(classes), self.classes_)
        ):
            # scikit-learn's partial_fit convention.
            raise ValueError(
                f"classes={np.unique(classes).tolist()} is not the same as on "
                f"the first call to partial_fit or fit ({self.classes_.tolist()})."
            )
        # Every call: set_params between calls may break a rule between
        # parameters that the training relies on (drw with another loss).
        check_combinations(params, validates=False)
        # After initialize, the network exists but has counted no row.
        trained = hasattr(self, "history_")
        # A call that fails (or is interrupted) counts none of its rows, so
        # that calling it again does not count them twice; a first call
        # leaves no fitted attribute (the checks set n_features_in_ and the
        # input's shape before training).  A later call's network is not
        # rolled back: one interrupted mid-epoch has trained on some of them
        # (a copy of the weights and optimizer state on every call would
        # cost more than a small chunk's epoch); the docstring says so.
        with restored_on_error(self, None if first_call else _COUNTED):
            X, y_encoded, weights = self._check_training_data(
                X, y, sample_weight, classes=classes, reset=first_call, add=trained
            )
            check_resampling(
                self.batch_sampler,
                y_encoded,
                trains=[np.arange(len(y_encoded))],
                classes=self.classes_,
            )
            setting = self._setting()
            self.model_, self.history_, self._program = train_epoch(
                setting,
                None if first_call else self.model_,
                X,
                y_encoded=y_encoded,
                weights=weights,
                seed=seed_from(self.random_state),
                history=self.history_ if trained else None,
                # The last call's compiled epoch, which this one goes on
                # with where the network and the loss's kind are the same.
                program=getattr(self, "_program", None),
            )
        self.best_epoch_ = None
        if not hasattr(self, "_built_with"):
            # The first call, or the first since loading a copy, which does
            # not hold them: what the network was built with is as now.
            self._built_with = network_settings(params)
        if not trained:
            self.n_networks_ = 1
            self.histories_ = [self.history_]
        else:
            # After a cross-fitted fit, the averaged model trains on.
            self.histories_[0] = self.history_
        last_epoch = len(self.history_["loss"]) - 1
        self._set_decision(fit_decision_for(setting, last_epochs=[last_epoch]))
        return self

    def _check_training_data(
        self, X, y, sample_weight, *, classes, reset=True, add=False
    ):
        X = check_features(self, X, reset=reset)
        y_encoded, weights = self._check_targets(
            y, sample_weight, n_samples=len(X), classes=classes, reset=reset, add=add
        )
        return X, y_encoded, weights

    def _check_targets(
        self, y, sample_weight, *, n_samples, classes, reset=True, add=False
    ):
        """The encoded labels and the sample weights (class weights
        included); sets the classes and their counts and weights (``add``:
        the counts and weights of ``y`` added to those counted so far)."""
        targets = prepare_targets(
            y,
            sample_weight,
            n_samples=n_samples,
            classes=classes if reset else self.classes_,
            class_weight=self.class_weight,
            beta=self.beta,
            batch_sampler=self.batch_sampler,
            earlier=(self.class_counts_, self._sample_weight_totals()) if add else None,
        )
        # class_prior needs the classes: checked here, before any training
        # and before the estimator changes.
        prior_frequencies(self.class_prior, targets.class_counts, targets.classes)
        self.classes_ = targets.classes
        self.class_counts_ = targets.class_counts
        self._weight_totals = targets.sample_weight_totals
        self.train_class_counts_ = targets.train_class_counts
        self.class_weight_ = targets.class_weight
        self.weighted_class_counts_ = targets.weighted_class_counts
        return targets.y_encoded, targets.weights

    def _sample_weight_totals(self) -> np.ndarray:
        """Each class's sum of sample weights over the rows counted so far."""
        if hasattr(self, "_weight_totals"):
            return self._weight_totals
        # A model saved before these totals were kept: its weighted counts
        # hold each class's mean weight, sample weight times class weight.
        mean = self.weighted_class_counts_ / prior_counts(self.train_class_counts_)
        per_sample = np.divide(
            mean,
            self.class_weight_,
            out=np.ones(len(mean)),
            where=self.class_weight_ > 0,
        )
        return self.class_counts_ * per_sample

    def _python_params(self) -> dict:
        """``get_params(deep=False)`` with NumPy scalars as Python ones:
        Keras refuses ``units=np.int64(8)``, and a grid given as a NumPy
        array (``GridSearchCV``, ``ParameterGrid``) hands out such values."""
        return {
            name: value.item() if isinstance(value, np.generic) else value
            for name, value in self.get_params(deep=False).items()
        }

    def _setting(self) -> Setting:
        """The parameters and what the fit knows of ``y``, as the fitting
        functions take them."""
        return make_setting(
            self._python_params(),
            classes=self.classes_,
            class_weight=self.class_weight_,
            class_counts=self.class_counts_,
            train_class_counts=self.train_class_counts_,
            weighted_class_counts=self.weighted_class_counts_,
            input_shape=self.input_shape_,
            n_features_in=self.n_features_in_,
            variable_length=self.variable_length_,
            read_features=partial(check_features, self, reset=False),
        )

    def _set_decision(self, fitted: FittedDecision) -> None:
        """Set the posterior's offsets and temperature, the class prior and
        ``decision_offsets_`` from a fitted decision rule."""
        self.posterior_offsets_ = fitted.posterior_offsets
        self.temperature_ = fitted.temperature
        self.calibration_bias_ = fitted.calibration_bias
        self.decision_offsets_, self.decision_rule_ = fitted.offsets, fitted.rule
        self.loss_weights_ = fitted.loss_weights
        self.class_prior_ = self._train_prior()  # the prior the rule is set for
        self._set_class_prior(
            prior_frequencies(self.class_prior, self.class_counts_, self.classes_)
        )

    def _train_prior(self) -> np.ndarray:
        """The class frequencies of the training data."""
        return prior_frequencies(None, self.class_counts_, self.classes_)

    def _shift_offsets(self, class_prior: np.ndarray) -> np.ndarray:
        """The decision offsets of a move from the training data's class
        prior to ``class_prior`` (:func:`skimb.decision.prior_shift_offsets`)."""
        return prior_shift_offsets(
            self._train_prior(), class_prior, calibration_bias=self.calibration_bias_
        )

    def _set_class_prior(self, class_prior: np.ndarray) -> None:
        """Move ``class_prior_`` to ``class_prior``, and the decision rule's
        offsets with it."""
        self.decision_offsets_ = (
            self.decision_offsets_
            - self._shift_offsets(self.class_prior_)
            + self._shift_offsets(class_prior)
        )
        self.class_prior_ = class_prior

    def _rule_offsets(self, decision: str) -> tuple[np.ndarray, str]:
        """Another rule's offsets on :meth:`predict_log_proba`, under this
        fit's calibration and class prior (the benchmarks compare rules on
        one fit)."""
        counts = self._setting().counts
        # The weights the fit's posterior undid (models saved before they
        # were kept: those of the parameters).
        counts = replace(
            counts, loss_weights=getattr(self, "loss_weights_", counts.loss_weights)
        )
        offsets, rule = rule_offsets(
            decision,
            counts,
            posterior_offsets=self.posterior_offsets_,
            temperature=self.temperature_,
            calibration_bias=self.calibration_bias_,
            tau=self.tau,
        )
        return offsets + self._shift_offsets(self.class_prior_), rule

    # -------------------------------------------------------------- predict

    def _log_proba(self, X: np.ndarray) -> np.ndarray:
        """The network's own log-probabilities."""
        # The network ends in a softmax only for losses that take probabilities.
        return log_probabilities(
            forward(self.model_, X),
            probabilities=ends_in_softmax(self.model_),
        )

    def _log_posterior(self, X: np.ndarray) -> np.ndarray:
        """Calibrated log-posteriors under the class frequencies of ``y``."""
        scaled = (self._log_proba(X) + self.posterior_offsets_) / self.temperature_
        return log_softmax(scaled + self.calibration_bias_, axis=1)

    def _checked_log_posterior(self, X) -> np.ndarray:
        """:meth:`_log_posterior` of checked ``X``; of :class:`Shards`, a
        window at a time."""
        check = partial(check_features, self, reset=False)
        if isinstance(X, Shards):
            windows = X.windows(prepare=check)
            return np.concatenate([self._log_posterior(w) for _, w in windows])
        return self._log_posterior(check(X))

    def predict_log_proba(self, X) -> np.ndarray:
        """Logarithm of the class probabilities.

        Parameters
        ----------
        X : array-like, shaped as in :meth:`fit`, or :class:`skimb.data.Shards`

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``.
        """
        check_is_fitted(self, "model_")
        # From the training data's class frequencies to class_prior_.
        train = self._train_prior()
        log_posterior = self._checked_log_posterior(X)
        return shift_prior(log_posterior, from_prior=train, to_prior=self.class_prior_)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities: the posterior under ``class_prior_``.

        The network's log-probabilities, with the adjustment of the loss,
        the class weights and ``batch_sampler``'s resampling undone
        (``posterior_offsets_``), divided by ``temperature_``, shifted by
        ``calibration_bias_`` and moved to
        ``class_prior_`` (the class frequencies of ``y`` unless
        ``class_prior`` or :meth:`fit_class_prior` says otherwise).

        Parameters
        ----------
        X : array-like, shaped as in :meth:`fit`

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``.
        """
        return np.exp(self.predict_log_proba(X))

    def fit_class_prior(
        self, X, *, max_iter: int = 1000, tol: float = 1e-8
    ) -> ImbalancedKerasClassifier:
        """Estimate the class frequencies of unlabelled ``X`` (label shift).

        Where new data has other class frequencies than the training data
        (but each class looks the same), the frequencies are estimated by
        expectation-maximisation on the calibrated posteriors (Saerens et
        al., 2002; :func:`skimb.calibration.estimate_prior`) and become
        ``class_prior_``: :meth:`predict_proba` is then the posterior under
        them and :meth:`predict` decides for them, the decision rule's
        offsets applying on top.  The next ``fit``, ``partial_fit`` or
        ``initialize`` restores ``class_prior``.

        Parameters
        ----------
        X : array-like, shaped as in :meth:`fit`
            Unlabelled rows of the new data (a few hundred or more).
        max_iter : int, default=1000
            Most EM steps.
        tol : float, default=1e-8
            Stop when no frequency moves by more than this.

        Returns
        -------
        self

        Examples
        --------
        >>> from skimb import ImbalancedKerasClassifier
        >>> from skimb.datasets import make_imbalanced_classification
        >>> X, y = make_imbalanced_classification(600, random_state=0)
        >>> clf = ImbalancedKerasClassifier(epochs=5, random_state=0).fit(X, y)
        >>> clf.fit_class_prior(X[y == 0]).class_prior_.argmax()
        np.int64(0)
        """
        check_is_fitted(self, "model_")
        log_posterior = self._checked_log_posterior(X)
        prior = estimate_prior(
            log_posterior,
            train_prior=self._train_prior(),
            max_iter=max_iter,
            tol=tol,
        )
        self._set_class_prior(prior)
        return self

    def predict(self, X) -> np.ndarray:
        """Predicted class labels.

        Parameters
        ----------
        X : array-like, shaped as in :meth:`fit`

        Returns
        -------
        ndarray of shape (n_samples,)
            The class with the largest :meth:`decision_function`.
        """
        log_proba = self.predict_log_proba(X)  # checks the estimator is fitted
        return self.classes_[decide(log_proba, self.decision_offsets_)]

    def decision_function(self, X) -> np.ndarray:
        """Log-probabilities plus the decision rule's per-class offsets.

        Each column is an increasing function of that class's probability,
        so per-class rankings (ROC and PR curves) are those of
        :meth:`predict_proba`; :meth:`predict` takes the argmax.

        Parameters
        ----------
        X : array-like, shaped as in :meth:`fit`

        Returns
        -------
        ndarray of shape (n_samples, n_classes), or (n_samples,) for two classes
            With two classes, scikit-learn's convention: the second column
            minus the first, positive where :meth:`predict` gives
            ``classes_[1]``.
        """
        scores = self.predict_log_proba(X) + self.decision_offsets_
        if len(self.classes_) == 2:
            return scores[:, 1] - scores[:, 0]
        return scores

    def score(self, X, y=None, sample_weight=None) -> float:
        """Macro-averaged F1 score of ``predict(X)`` against ``y``.

        Unlike most scikit-learn classifiers, the default score is macro-F1,
        not accuracy, because accuracy rewards always predicting the
        majority class.  It is ``f1_score(y, predict(X), average="macro")``,
        as ``scoring="f1_macro"`` gives: over the classes in ``y`` or
        predicted.

        Parameters
        ----------
        X : array-like, or :class:`skimb.data.Shards`
            Test data.
        y : array-like of shape (n_samples,)
            True labels, each one of ``classes_``; None with
            :class:`~skimb.data.Shards`, read from them.
        sample_weight : array-like of shape (n_samples,), optional
            Sample weights.

        Returns
        -------
        float
        """
        if isinstance(X, Shards) and y is None:
            y = X.labels()
        y = check_labels(y, len(X) if hasattr(X, "__len__") else np.shape(X)[0])
        check_is_fitted(self, "model_")
        check_known_labels(y, self.classes_, among="the classes seen in fit")
        # Over the classes in y or predicted, as scoring="f1_macro" (the
        # same figure under cross_val_score's scoring=None): a class neither
        # in these rows nor predicted for them is no error.
        if sample_weight is not None:
            # As fit checks them: f1_score takes negative weights.
            sample_weight = check_sample_weight(sample_weight, len(y))
        return macro_f1(y, self.predict(X), sample_weight=sample_weight)

    # scikeras' own build path; here it builds the network without training.
    def initialize(self, X, y) -> ImbalancedKerasClassifier:
        """Validate ``X, y`` and build the untrained network.

        Parameters
        ----------
        X : array-like
            Arrays, not :class:`~skimb.data.Shards` (their first window
            builds the same architecture, standardised on that window).
        y : array-like of shape (n_samples,)

        Returns
        -------
        self
        """
        # As fit: a call that fails leaves the estimator as it was.
        with restored_on_error(self):
            return self._initialize(X, y)

    def _initialize(self, X, y) -> ImbalancedKerasClassifier:
        """:meth:`initialize`, which undoes what this sets where it raises."""
        self._validate_params()
        check_combinations(self.get_params(deep=False), validates=False)
        if isinstance(X, Shards):
            raise TypeError(
                "initialize takes arrays, not Shards: it builds the network "
                "from X's shape and y's classes; pass their first window."
            )
        X, _, _ = self._check_training_data(X, y, None, classes=None)
        setting = self._setting()
        self.model_ = untrained_network(setting, X, seed_from(self.random_state))
        self._built_with = network_settings(self.get_params(deep=False))
        # The new network has trained on nothing: a former fit's record
        # would make the next partial_fit count its rows again and go on
        # from that fit's epochs (its seeds, drw's schedule).
        for name in ("_program", "history_", "histories_", "best_epoch_"):
            vars(self).pop(name, None)
        self.n_networks_ = 1
        self._set_decision(fit_decision_for(setting))
        return self
