"""What `load` tells about the data it returns."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """Shape, classes and size of one loaded split.

    Attributes:
        input_shape: tuple. Shape `(height, width, channels)` of one image,
            as the model receives it.
        classes: int. Number of classes; labels are in `[0, classes)`.
        class_names: tuple of str, or `None` when the source does not name
            its classes (arrays, IDX files).
        num_examples: int. Number of examples in the split.
        split: str. `"train"`, `"validation"` or `"test"`.
        source: str. The TFDS name, the path, or `"arrays"`.

    Example:

    >>> _, info = keras_gnap.datasets.load("mnist", with_info=True)
    >>> info.input_shape, info.classes
    ((28, 28, 1), 10)
    """

    input_shape: tuple
    classes: int
    class_names: tuple | None
    num_examples: int
    split: str
    source: str
