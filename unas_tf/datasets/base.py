"""What a data set is to a run, as one object, and the registry that finds it by its spec.

Searches, retraining, export and studies ask the data set object (found by `config.dataset`)
for their batches, class count, serving preprocessing and class names, and never compare its
name. A spec is either a registered name ("digits", "cifar10", "cifar100", "imagenet2012", or a
user's own `Dataset` subclass registered with `register`) or a way in for a user's images,
PREFIX:ARGUMENT:
  tfds:NAME[:CONFIG]        any tensorflow-datasets image-classification set prepared in data_dir
  folder:PATH               one sub-folder of images per class
  python:MODULE:FUNCTION    a function returning `python_builder.ImageData`
The built-in modules are imported on the first look-up, so that importing this module imports
no TensorFlow.

The search (UNAS Sec. 3) updates the supernet weights on the search-train part and scores
architectures on the search-val part (L_val of L_gen, UNAS Eq. 8): the last 10% of the training
split (UNAS App. A.2 for CIFAR, App. A.3 for ImageNet). Retraining uses the whole training split
and reports on the test split the search never saw; with a `val_fraction` it holds out the
examples a search calls search-val instead, as one ordered pass to score each epoch on.

Every batch is a dict {"image": float32 [B, S, S, 3], "label": int32 [B]} of a static batch size,
so a traced step sees one shape. Training pipelines are infinite and deterministic given `seed`,
and their iterators can be saved in a `tf.train.Checkpoint` and restored into a fresh pipeline to
resume at the exact next batch (`pipeline`).
"""

import abc
import importlib
from typing import ClassVar, NamedTuple

DEFAULT_VAL_FRACTION = 0.1  # UNAS App. A.2 and A.3: the last 10% of the training split.

# The modules of the data sets that come with the library, imported on the first look-up, in the
# order `names()` lists them.
_BUILT_IN = (
    "unas_tf.datasets.digits",
    "unas_tf.datasets.cifar",
    "unas_tf.datasets.imagenet",
    "unas_tf.datasets.tfds_images",
    "unas_tf.datasets.folder_images",
    "unas_tf.datasets.python_builder",
)
_REGISTRY = {}  # name -> Dataset subclass, made with (data_dir)
_WAYS_IN = {}  # prefix -> Dataset subclass, made with (argument, data_dir)


class DatasetNotPreparedError(ValueError):
    """A tensorflow-datasets data set has not been downloaded and prepared in `data_dir`.

    Launchers show its message as one line, which says how to prepare the data.
    """


class SearchData(NamedTuple):
    """Search-train and search-val batches of one data set.

    Attributes:
      train: infinite, shuffled (augmented) batches that update the supernet weights.
      val: infinite, shuffled, unaugmented batches for the architecture objective (L_val).
      num_classes: number of labels.
      image_size: height and width of every image.
      train_examples: examples in one pass of the search-train split.
      val_examples: examples in the search-val split.
      steps_per_epoch: full batches in one pass of the search-train split.
    """

    train: object
    val: object
    num_classes: int
    image_size: int
    train_examples: int
    val_examples: int
    steps_per_epoch: int


class EvalData(NamedTuple):
    """Batches to retrain a found architecture on the training data and test it.

    Attributes:
      train: infinite, shuffled (augmented) batches of the training data retrained on: all of
        it, or all but the held-out part.
      test: one ordered pass over the test split. The last batch may be smaller, so that every
        test example counts.
      num_classes: number of labels.
      image_size: height and width of every image.
      train_examples: examples retrained on.
      test_examples: examples in the test split.
      steps_per_epoch: full batches in one pass of the examples retrained on.
      val: one ordered, unaugmented pass over the held-out part of the training data (the
        last batch may be smaller), or None when nothing is held out.
      val_examples: examples held out; 0 when none are.
    """

    train: object
    test: object
    num_classes: int
    image_size: int
    train_examples: int
    test_examples: int
    steps_per_epoch: int
    val: object = None
    val_examples: int = 0


class SplitSizes(NamedTuple):
    """Examples of a data set's training and test splits (ImageNet's test: its validation)."""

    train: int
    test: int


def held_out_examples(num_training, val_fraction):
    """How many of `num_training` examples a val part of `val_fraction` takes."""
    return round(val_fraction * num_training)


class Dataset(abc.ABC):
    """A data set: its splits as batches, classes, normalisation, augmentation and serving.

    Subclasses registered by name set `name` and take `(data_dir)`; ways in for a user's images
    set `prefix` and take `(argument, data_dir)`. `spec` is what `config.dataset` says.
    """

    name: ClassVar[str]
    # Whether `eval_data` takes a cutout square (in-memory sets; ImageNet streams JPEG crops).
    supports_cutout: ClassVar[bool] = True

    def __init__(self, data_dir=None, spec=None):
        self.data_dir = data_dir
        self.spec = spec or self.name

    @property
    @abc.abstractmethod
    def num_classes(self):
        """The number of labels, 0 .. num_classes - 1."""

    def class_names(self):
        """The label names in label order, or None where the data set has none to serve."""
        return None

    @abc.abstractmethod
    def split_sizes(self, image_size):
        """The `SplitSizes` at `image_size`, or None if not known before the run reads the data.

        Config checks bound batch sizes with them before any work; a user's images are read
        (and checked) here, so that bad data is refused before a workdir is touched.

        Raises:
          ValueError: the data cannot be used; the message names config.dataset or the path.
        """

    def in_memory_bytes(self, image_size):
        """Bytes the data set keeps in memory at `image_size`, for the memory check."""
        del image_size
        return 0

    @abc.abstractmethod
    def search_data(
        self, batch_size, image_size, seed, val_fraction=None, augment=True, augment_val=False
    ):
        """Builds the search-train and search-val pipelines (`search_data` below)."""

    @abc.abstractmethod
    def eval_data(self, batch_size, image_size, seed, augment=True, cutout=0, val_fraction=0.0):
        """Builds the retraining and test pipelines (`eval_data` below)."""

    @abc.abstractmethod
    def serving_input_size(self, image_size):
        """The height and width of the uint8 images served; None for any size."""

    def serving_channels(self):
        """The channels of the uint8 images served (3 unless the data set is grey)."""
        return 3

    @abc.abstractmethod
    def serving_preprocess(self, image_size):
        """The test-time transform as a function of uint8 batches [N, H, W, C] -> float32
        [N, image_size, image_size, 3], TensorFlow ops only (traced into a SavedModel)."""

    def record(self, image_size):
        """JSON-ready facts a run stores about its data (`record`): spec, classes, statistics."""
        del image_size
        return {"spec": self.spec, "num_classes": self.num_classes, "class_names": None}

    def restore(self, saved):
        """Takes the facts `record` stored, so a resumed run and its export use the same ones."""
        del saved


def register(dataset_class):
    """Class decorator: registers a `Dataset` subclass under its `name`."""
    if dataset_class.name in _REGISTRY:
        raise ValueError(f"data set {dataset_class.name!r} is registered already")
    _REGISTRY[dataset_class.name] = dataset_class
    return dataset_class


def register_way_in(dataset_class):
    """Class decorator: registers a way in for a user's images, PREFIX:ARGUMENT specs."""
    if dataset_class.prefix in _WAYS_IN:
        raise ValueError(f"data set prefix {dataset_class.prefix!r} is registered already")
    _WAYS_IN[dataset_class.prefix] = dataset_class
    return dataset_class


def unregister(name):
    """Removes a registered data set (for tests that define their own)."""
    _REGISTRY.pop(name, None)


def _load_built_in():
    for module in _BUILT_IN:
        importlib.import_module(module)


def names():
    """The names of the registered data sets: the built-ins in `_BUILT_IN`'s order, then others
    in registration order."""
    _load_built_in()

    def rank(name):
        module = _REGISTRY[name].__module__
        return _BUILT_IN.index(module) if module in _BUILT_IN else len(_BUILT_IN)

    return tuple(sorted(_REGISTRY, key=rank))


def _expected():
    ways = ", ".join(f"{cls.prefix}:{cls.argument}" for cls in _WAYS_IN.values())
    return f"one of {list(names())}, or {ways}"


def get(spec, data_dir=None, what="config.dataset"):
    """The data set a spec names: a registered name or PREFIX:ARGUMENT.

    Args:
      spec: the spec, e.g. "digits", "tfds:mnist", "folder:/data/photos".
      data_dir: tensorflow-datasets data directory; None (or "") for its default.
      what: how the message names the spec's origin.

    Raises:
      ValueError: an unknown name or prefix, or an argument the way in refuses; the message
        starts with `what`.
    """
    _load_built_in()
    data_dir = data_dir or None
    if not isinstance(spec, str):
        raise ValueError(f"{what}: expected a string, {_expected()}; got {spec!r}")
    prefix, colon, argument = spec.partition(":")
    if spec in _REGISTRY:
        dataset = _REGISTRY[spec](data_dir)
    elif colon and prefix in _WAYS_IN:
        dataset = _WAYS_IN[prefix](argument, data_dir)
    else:
        raise ValueError(f"{what}: unknown data set {spec!r}; expected {_expected()}")
    return dataset


def of_config(config):
    """The data set of a run's config, `config.dataset` in `config.data_dir`."""
    return get(config.dataset, config.data_dir or None)


def check_pipeline_args(batch_size, image_size):
    """Raises a ValueError for a non-positive batch or image size (Keras's message form)."""
    if batch_size <= 0:
        raise ValueError(
            "Invalid value received for argument `batch_size`. Expected a positive integer. "
            f"Received: batch_size={batch_size}"
        )
    if image_size <= 0:
        raise ValueError(
            "Invalid value received for argument `image_size`. Expected a positive integer. "
            f"Received: image_size={image_size}"
        )


def check_search_val_fraction(val_fraction):
    """The search's val fraction, `DEFAULT_VAL_FRACTION` for None; it must lie in (0, 1)."""
    if val_fraction is None:
        val_fraction = DEFAULT_VAL_FRACTION
    if not 0 < val_fraction < 1:
        raise ValueError(
            "Invalid value received for argument `val_fraction`. Expected a fraction in (0, 1). "
            f"Received: val_fraction={val_fraction}"
        )
    return val_fraction


def check_eval_args(dataset, cutout, val_fraction):
    """Raises a ValueError for a cutout the data set cannot take or a val fraction not in [0, 1)."""
    if cutout < 0 or (cutout and not dataset.supports_cutout):
        raise ValueError(
            "Invalid value received for argument `cutout`. Expected 0, or a positive square side "
            f"for an in-memory data set (not {dataset.spec}). Received: cutout={cutout}, "
            f"name={dataset.spec!r}"
        )
    if not 0 <= val_fraction < 1:
        raise ValueError(
            "Invalid value received for argument `val_fraction`. Expected a fraction in [0, 1) "
            f"(0: hold nothing out). Received: val_fraction={val_fraction}"
        )


def search_data(
    name,
    batch_size,
    image_size,
    seed,
    data_dir=None,
    val_fraction=None,
    augment=True,
    augment_val=False,
):
    """Builds the search-train and search-val pipelines of a data set.

    Which of them is augmented matters to L_gen (UNAS Eq. 8): its gap |L_val - L_train| compares
    the two, and augmented train batches beside clean val batches make L_train > L_val, so the
    term can reward a worse L_val. The released code transforms both alike (`search_run`'s
    `search_augment` key picks).

    Args:
      name: a data set spec (`get`).
      batch_size: examples per batch (per step, over all replicas).
      image_size: height and width of the output images.
      seed: integer fixing the example order, the augmentation and (digits) the split.
      data_dir: tensorflow-datasets data directory; None for its default.
      val_fraction: fraction of the training data held out as search-val; None for
        `DEFAULT_VAL_FRACTION`.
      augment: whether to randomly augment the search-train images.
      augment_val: whether to randomly augment the search-val images (their own stream).

    Returns:
      A `SearchData`.

    Raises:
      ValueError: an unknown `name`, a non-positive `batch_size` / `image_size`, or a
        `val_fraction` outside (0, 1) or leaving a part empty.
      DatasetNotPreparedError: the tensorflow-datasets data is not in `data_dir`.
    """
    dataset = get(name, data_dir, what="name")
    check_pipeline_args(batch_size, image_size)
    val_fraction = check_search_val_fraction(val_fraction)
    return dataset.search_data(batch_size, image_size, seed, val_fraction, augment, augment_val)


def eval_data(
    name, batch_size, image_size, seed, data_dir=None, augment=True, cutout=0, val_fraction=0.0
):
    """Builds the pipelines that retrain on the training data and test on the test split.

    Args:
      name: a data set spec (`get`).
      batch_size: examples per batch (per step, over all replicas).
      image_size: height and width of the output images.
      seed: integer fixing the example order and the augmentation of the training data.
      data_dir: tensorflow-datasets data directory; None for its default.
      augment: whether to randomly augment the training images.
      cutout: side of the square zeroed at a random centre of every augmented training image,
        after normalisation (DARTS's Cutout; UNAS App. B.1 uses 16 on CIFAR); 0 for none.
        In-memory data sets only.
      val_fraction: fraction of the training data held out of retraining and returned as
        `val`: the examples `search_data` with the same `seed` and fraction calls search-val.
        0 retrains on all of it.

    Returns:
      An `EvalData`.

    Raises:
      ValueError: an unknown `name`, a non-positive `batch_size` / `image_size`, a negative
        `cutout`, cutout on a streamed set, or a `val_fraction` outside [0, 1) or leaving a
        part empty.
      DatasetNotPreparedError: the tensorflow-datasets data is not in `data_dir`.
    """
    dataset = get(name, data_dir, what="name")
    check_pipeline_args(batch_size, image_size)
    check_eval_args(dataset, cutout, val_fraction)
    return dataset.eval_data(batch_size, image_size, seed, augment, cutout, val_fraction)
