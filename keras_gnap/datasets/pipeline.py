"""The tf.data pipelines behind `load`, where TensorFlow is installed.

TensorFlow is imported inside the functions, which only `load` calls and
only when TensorFlow is installed, so that this module imports without it.
"""

from keras_gnap.datasets.augment import random_crop_and_flip

# The shuffle buffer of a streamed source holds at most this many bytes of
# images, so that large images do not fill the memory twice.
_SHUFFLE_BUFFER_BYTES = 256 * 2**20


def from_arrays(images, labels, *, batch_size, shuffle, augment, seed):
    """Pipeline over images that are already in memory.

    Only indices are shuffled and batched; each batch is then gathered
    from the in-memory tensors in one op, which is much cheaper than
    shuffling and batching the images one by one.

    Args:
        images: uint8 or float32 array of shape `(N, H, W, C)`.
        labels: int32 array of shape `(N,)`.
        batch_size: int. Examples per batch.
        shuffle: bool. Whether to reshuffle every epoch.
        augment: bool. Whether to apply `random_crop_and_flip`.
        seed: int. Seed of the shuffling and augmentation.

    Returns:
        A batched, prefetched `tf.data.Dataset` of `(images, labels)`.
    """
    import tensorflow as tf

    images = tf.convert_to_tensor(images)
    labels = tf.convert_to_tensor(labels, dtype=tf.int32)
    num_examples = int(labels.shape[0])
    indices = tf.data.Dataset.range(num_examples)
    if shuffle:
        indices = indices.shuffle(
            num_examples, seed=seed, reshuffle_each_iteration=True
        )

    def gather(batch_indices):
        return tf.gather(images, batch_indices), tf.gather(
            labels, batch_indices
        )

    batches = indices.batch(batch_size).map(
        gather, num_parallel_calls=tf.data.AUTOTUNE
    )
    return _finish(batches, augment=augment, seed=seed)


def from_examples(
    examples,
    *,
    num_examples,
    batch_size,
    shuffle,
    augment,
    seed,
    cache,
):
    """Pipeline over a stream of single `(image, label)` examples.

    Args:
        examples: `tf.data.Dataset` of uint8 images of a fixed shape and
            int32 labels.
        num_examples: int. Number of examples in the stream.
        batch_size: int. Examples per batch.
        shuffle: bool. Whether to reshuffle every epoch.
        augment: bool. Whether to apply `random_crop_and_flip`.
        seed: int. Seed of the shuffling and augmentation.
        cache: bool. Whether to keep the decoded examples in memory after
            the first epoch.

    Returns:
        A batched, prefetched `tf.data.Dataset` of `(images, labels)`.
    """
    if cache:
        examples = examples.cache()
    if shuffle:
        image_spec = examples.element_spec[0]
        image_bytes = image_spec.shape.num_elements() * image_spec.dtype.size
        buffer = min(num_examples, _SHUFFLE_BUFFER_BYTES // image_bytes)
        examples = examples.shuffle(
            max(buffer, 1), seed=seed, reshuffle_each_iteration=True
        )
    return _finish(examples.batch(batch_size), augment=augment, seed=seed)


def _normalize(images):
    import tensorflow as tf

    if images.dtype == tf.uint8:
        return tf.cast(images, tf.float32) / 255.0
    return tf.cast(images, tf.float32)


def _finish(batches, *, augment, seed):
    """Scales (and augments) whole batches, then prefetches."""
    import tensorflow as tf

    if augment:
        # One stateless seed pair per batch, from a stream that is
        # reproducible for a given seed yet differs from epoch to epoch.
        seeds = tf.data.Dataset.random(
            seed=seed, rerandomize_each_iteration=True
        ).batch(2)

        def scale_and_augment(batch, batch_seed):
            images, labels = batch
            return random_crop_and_flip(_normalize(images), batch_seed), labels

        dataset = tf.data.Dataset.zip(batches, seeds).map(
            scale_and_augment, num_parallel_calls=tf.data.AUTOTUNE
        )
    else:
        dataset = batches.map(
            lambda images, labels: (_normalize(images), labels),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    return dataset.prefetch(tf.data.AUTOTUNE)
