"""Knowledge tables the analysis uses: which calls mutate, which are read-only, which are
process-wide settings, and which distribution provides an imported module."""

from __future__ import annotations

import ast
import builtins
import sys

#: Methods that change their object in place (SPEC section 2).
MUTATING_METHODS = frozenset(
    """fit partial_fit fit_transform fit_predict fit_resample set_params set_output
    append extend insert remove pop popitem clear update sort reverse add discard setdefault
    difference_update intersection_update symmetric_difference_update appendleft extendleft
    popleft rotate resize fill itemset put setflags __setitem__ __delitem__ add_module
    zero_grad step backward load_state_dict compile train eval cuda cpu to
    set_index_inplace""".split()
)

#: Methods known not to change their object: calls to them keep parallel branches parallel.
READ_ONLY_METHODS = frozenset(
    """describe head tail copy predict predict_proba predict_log_proba decision_function score
    transform inverse_transform groupby agg aggregate apply mean sum std var min max median
    count value_counts unique nunique isna isnull notna notnull dropna fillna drop rename merge
    join astype to_numpy to_dict to_list tolist to_csv to_parquet to_json to_pickle to_string
    to_markdown items keys values get query filter sort_values sort_index reset_index set_index
    pivot pivot_table melt corr cov round abs clip reshape ravel flatten sample split strip
    lower upper format startswith endswith replace index get_params get_feature_names_out any
    all argmax argmin idxmax idxmin cumsum cumprod shift diff rolling resample plot hist dot
    transpose select_dtypes nlargest nsmallest info memory_usage equals isin between where
    mask assign map applymap iterrows itertuples explode duplicated drop_duplicates to_frame
    squeeze select collect savefig show save summary score_samples staged_predict kneighbors
    get_support get_booster feature_importances_ issubset issuperset union intersection
    difference symmetric_difference most_common""".split()
)

#: Functions that change their first argument in place (matched on the last dotted part).
MUTATING_FUNCTIONS = frozenset(
    """shuffle heappush heappop heapify heapreplace heappushpop insort insort_left
    insort_right copyto fill_diagonal place putmask setattr delattr""".split()
)

#: Calls that change process-wide state (matched on the dotted name's ending).
SETTING_CALLS = (
    "random.seed", "seed", "set_option", "reset_option", "filterwarnings", "simplefilter",
    "set_config", "rc", "rcdefaults", "style.use", "set_theme", "sns.set", "set_style",
    "set_context", "set_palette", "manual_seed", "set_seed", "rcParams.update", "matplotlib.use",
    "mpl.use", "set_printoptions", "basicConfig", "setLevel", "set_default_dtype",
    "set_num_threads", "environ.update", "environ.setdefault", "path.append", "path.insert",
    "seterr", "disable_warnings", "enable_eager_execution", "set_visible_devices",
)  # fmt: skip

# ---- display settings (nb2pipe/compiler/display.py): they change no result ----
#: Calls (qualified names) that only change how a library shows things -> the library.
DISPLAY_CALLS = {
    "numpy.set_printoptions": "numpy",
    **dict.fromkeys(("matplotlib.pyplot.style.use", "matplotlib.style.use", "matplotlib.rc",
                     "matplotlib.pyplot.rc", "matplotlib.rcParams.update",
                     "matplotlib.pyplot.rcParams.update", "seaborn.set", "seaborn.set_theme",
                     "seaborn.set_style", "seaborn.set_context", "seaborn.set_palette",
                     "seaborn.set_color_codes"), "plotting"),
}  # fmt: skip
#: Objects whose items or attributes are display settings when assigned -> the library.
DISPLAY_TARGETS = {
    "pandas.options.display": "pandas",
    "matplotlib.rcParams": "plotting",
    "matplotlib.pyplot.rcParams": "plotting",
}

# ---- the global random streams (nb2pipe/compiler/randomness.py) ----
#: Functions of numpy.random / random that do not draw from the global stream.
NOT_DRAWING = frozenset(
    """default_rng RandomState Generator SeedSequence Random SystemRandom
    get_state getstate PCG64 PCG64DXSM MT19937 Philox SFC64 BitGenerator""".split()
)
SEEDS = frozenset({"seed", "set_state", "setstate"})
#: scikit-learn classes and functions with a `random_state` parameter (1.9, introspected),
#: and the estimators whose fit draws from numpy's global stream without one (libsvm's
#: SVR, NuSVR and OneClassSVM; GraphicalLasso[CV]): tests/compiler/test_randomness.py fits
#: every estimator and checks.
SKLEARN_RANDOM = frozenset(
    """AdaBoostClassifier AdaBoostRegressor AffinityPropagation
    BaggingClassifier BaggingRegressor BayesianGaussianMixture BernoulliRBM BisectingKMeans
    ClassifierChain DecisionTreeClassifier DecisionTreeRegressor DictionaryLearning
    DummyClassifier ElasticNet ElasticNetCV EllipticEnvelope ExtraTreeClassifier
    ExtraTreeRegressor ExtraTreesClassifier ExtraTreesRegressor FactorAnalysis FastICA
    GaussianMixture GaussianProcessClassifier GaussianProcessRegressor
    GaussianRandomProjection GradientBoostingClassifier GradientBoostingRegressor
    GraphicalLasso GraphicalLassoCV GroupKFold
    GroupShuffleSplit HalvingGridSearchCV HalvingRandomSearchCV
    HistGradientBoostingClassifier HistGradientBoostingRegressor IsolationForest
    IterativeImputer KBinsDiscretizer KFold KMeans KernelPCA Lars Lasso LassoCV LassoLars
    LatentDirichletAllocation LinearSVC LinearSVR LocallyLinearEmbedding LogisticRegression
    LogisticRegressionCV MDS MLPClassifier MLPRegressor MinCovDet MiniBatchDictionaryLearning
    MiniBatchKMeans MiniBatchNMF MiniBatchSparsePCA MultiTaskElasticNet MultiTaskElasticNetCV
    MultiTaskLasso MultiTaskLassoCV NMF NeighborhoodComponentsAnalysis NuSVC NuSVR Nystroem
    OneClassSVM OutputCodeClassifier PCA ParameterSampler PartialDependenceDisplay
    PassiveAggressiveClassifier PassiveAggressiveRegressor PatchExtractor Perceptron
    PolynomialCountSketch QuantileTransformer RANSACRegressor RBFSampler
    RandomForestClassifier RandomForestRegressor RandomTreesEmbedding RandomizedSearchCV
    RegressorChain RepeatedKFold RepeatedStratifiedKFold Ridge RidgeClassifier SGDClassifier
    SGDOneClassSVM SGDRegressor SVC SVR ShuffleSplit SkewedChi2Sampler SparsePCA
    SparseRandomProjection SpectralBiclustering SpectralClustering SpectralCoclustering
    SpectralEmbedding StratifiedGroupKFold StratifiedKFold StratifiedShuffleSplit TSNE
    TargetEncoder TheilSenRegressor TruncatedSVD TunedThresholdClassifierCV
    affinity_propagation dict_learning dict_learning_online estimate_bandwidth
    extract_patches_2d fast_mcd fastica k_means kmeans_plusplus load_files
    locally_linear_embedding make_biclusters make_blobs make_checkerboard make_circles
    make_classification make_friedman1 make_friedman2 make_friedman3 make_gaussian_quantiles
    make_hastie_10_2 make_low_rank_matrix make_moons make_multilabel_classification
    make_regression make_s_curve make_sparse_coded_signal make_sparse_spd_matrix
    make_sparse_uncorrelated make_spd_matrix make_swiss_roll mutual_info_classif
    mutual_info_regression non_negative_factorization permutation_importance
    permutation_test_score quantile_transform randomized_svd resample ridge_regression
    shuffle silhouette_score smacof spectral_clustering spectral_embedding
    train_test_split""".split()
)
#: ... of which these draw only with shuffle=True.
SHUFFLE_ONLY = frozenset("GroupKFold KFold StratifiedGroupKFold StratifiedKFold".split())
#: seaborn functions that jitter with numpy's global stream.
SEABORN_RANDOM = frozenset("stripplot catplot regplot lmplot dogplot".split())
#: Libraries known not to touch numpy's or random's global stream (besides the above).
RANDOM_SAFE = frozenset(sys.stdlib_module_names) - {"random"} | {
    "numpy", "pandas", "matplotlib", "mpl_toolkits", "seaborn", "sklearn", "IPython",
    "joblib", "yaml", "tqdm", "pyarrow", "nb2pipe", "PIL", "requests", "plotly", "rich",
}  # fmt: skip
#: Libraries with their own global generator, which the pipeline cannot carry.
OWN_GENERATOR = {"torch": "torch", "tensorflow": "tensorflow", "keras": "keras"}
#: Their seeds (matched on the qualified name's ending).
OWN_SEEDS = ("manual_seed", "manual_seed_all", "set_seed", "set_random_seed", "seed_everything")


# ---- values that cannot be stored between steps (nb2pipe/compiler/hazards.py) ----
_FILE = ("an open file", "pass its path and open it in the step that reads it")
_DB = ("a database connection", "connect in each step that queries, or pass the query's result")
_DMATRIX = (
    "an xgboost DMatrix (it holds a C pointer)",
    "pass the arrays and build the DMatrix in the step that trains (save the model with "
    "save_model)",
)
_SYNC = ("a lock, pool or socket of this process", "create it in the step that uses it")
#: Calls (qualified names) whose results pickle cannot store: (what it is, how to fix it).
UNSTORABLE_CALLS: dict[str, tuple[str, str]] = {
    **dict.fromkeys(("builtins.open", "io.open", "gzip.open", "bz2.open", "lzma.open",
                     "tarfile.open", "zipfile.ZipFile", "tempfile.TemporaryFile",
                     "tempfile.NamedTemporaryFile", "csv.reader", "csv.writer",
                     "csv.DictReader", "csv.DictWriter", "h5py.File"), _FILE),
    **dict.fromkeys(("sqlite3.connect", "psycopg2.connect", "psycopg.connect",
                     "pymysql.connect", "mysql.connector.connect", "pyodbc.connect",
                     "duckdb.connect", "sqlalchemy.create_engine", "pymongo.MongoClient",
                     "redis.Redis"), _DB),
    **dict.fromkeys(("xgboost.DMatrix", "xgboost.QuantileDMatrix", "xgboost.DeviceQuantileDMatrix"),
                    _DMATRIX),
    **dict.fromkeys(("threading.Lock", "threading.RLock", "threading.Thread",
                     "multiprocessing.Pool", "concurrent.futures.ThreadPoolExecutor",
                     "concurrent.futures.ProcessPoolExecutor", "socket.socket"), _SYNC),
}  # fmt: skip
GENERATOR = ("a generator", "make it a list, or create the generator in the step that uses it")


#: Names IPython defines in a notebook: not "undefined", but they do not exist in a pipeline.
IPYTHON_NAMES = frozenset({"display", "get_ipython", "_", "__", "___", "In", "Out", "exit", "quit"})

BUILTIN_NAMES = frozenset(dir(builtins)) | {"__name__", "__doc__", "__builtins__", "__spec__"}

#: Import name -> distribution name, where they differ.
DISTRIBUTIONS = {
    "sklearn": "scikit-learn",
    "yaml": "pyyaml",
    "PIL": "pillow",
    "cv2": "opencv-python",
    "skimage": "scikit-image",
    "bs4": "beautifulsoup4",
    "dateutil": "python-dateutil",
    "dotenv": "python-dotenv",
    "jwt": "pyjwt",
    "attr": "attrs",
    "Crypto": "pycryptodome",
    "mpl_toolkits": "matplotlib",
    "pkg_resources": "setuptools",
    "IPython": "ipython",
    "docx": "python-docx",
    "sentence_transformers": "sentence-transformers",
    "google.protobuf": "protobuf",
    "OpenSSL": "pyopenssl",
    "serial": "pyserial",
    "usb": "pyusb",
    "fitz": "pymupdf",
    "lightgbm": "lightgbm",
    "xgboost": "xgboost",
    "tensorflow": "tensorflow",
    "torch": "torch",
    "umap": "umap-learn",
    "Levenshtein": "python-levenshtein",
    "magic": "python-magic",
    "nb2pipe": "nb2pipe",
}


def dotted(node: ast.AST) -> str | None:
    """'np.random.seed' for the expression np.random.seed; None if not a dotted name."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def root_name(node: ast.AST) -> str | None:
    """The variable an attribute/subscript chain starts from: df for df.loc[0, 'a']."""
    while isinstance(node, ast.Attribute | ast.Subscript | ast.Starred):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _matches(name: str, patterns: tuple[str, ...]) -> bool:
    return any(name == p or name.endswith("." + p) for p in patterns)


def is_setting(stmt: ast.stmt, modules: set[str] | frozenset[str] = frozenset()) -> bool:
    """A statement that changes process-wide state (seeds, options, environment)."""
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        name = dotted(stmt.value.func)
        return bool(name) and "." in name and _matches(name, SETTING_CALLS)
    targets: list[ast.expr] = []
    if isinstance(stmt, ast.Assign):
        targets = stmt.targets
    elif isinstance(stmt, ast.AugAssign | ast.AnnAssign):
        targets = [stmt.target]
    for t in targets:
        if isinstance(t, ast.Subscript):
            name = dotted(t.value) or ""
            if name.endswith(("environ", "rcParams")):
                return True
        if isinstance(t, ast.Attribute):
            root = root_name(t)
            if root and root in modules:
                return True
    return False


def distribution(module: str) -> str:
    """The distribution to install for an imported top-level module."""
    for key in (module, module.split(".")[0]):
        if key in DISTRIBUTIONS:
            return DISTRIBUTIONS[key]
    return module.split(".")[0].lower().replace("_", "-")


def is_import_block(stmt: ast.stmt) -> bool:
    """`try: import ujson as json / except ImportError: import json`: an import, as a unit."""
    if not isinstance(stmt, ast.Try) or not stmt.handlers:
        return False
    simple = (ast.Import, ast.ImportFrom, ast.Pass)
    parts = stmt.body + stmt.orelse + stmt.finalbody + [s for h in stmt.handlers for s in h.body]
    for s in parts:
        if isinstance(s, ast.Assign) and isinstance(s.value, ast.Constant):
            continue
        if not isinstance(s, simple):
            return False
    for h in stmt.handlers:
        names = (
            [dotted(t) for t in (h.type.elts if isinstance(h.type, ast.Tuple) else [h.type])]
            if h.type
            else []
        )
        if h.type is not None and not set(names) <= {"ImportError", "ModuleNotFoundError"}:
            return False
    return any(isinstance(s, ast.Import | ast.ImportFrom) for s in stmt.body)


def is_import(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Import | ast.ImportFrom) or is_import_block(stmt)
