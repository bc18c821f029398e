import numpy as np
import tensorflow as tf

from pipeline.dataset import make_dataset

N = 1_000


def _split():
    # Every image is filled with its own label-like id, so batches show what went where.
    ids = np.arange(N)
    images = np.broadcast_to(ids[:, None, None, None], (N, 28, 28, 1)).astype(np.float32)
    return images, ids.astype(np.int64)


def _epoch(dataset):
    images, labels = zip(*((i.numpy(), y.numpy()) for i, y in dataset), strict=True)
    return np.concatenate(images), np.concatenate(labels)


def test_unshuffled_keeps_order_and_batch_sizes():
    dataset = make_dataset(*_split(), batch_size=300)
    assert [len(y) for _, y in dataset] == [300, 300, 300, 100]
    images, labels = _epoch(dataset)
    np.testing.assert_array_equal(labels, np.arange(N))
    np.testing.assert_array_equal(images[:, 0, 0, 0], labels)


def test_shuffle_is_a_seeded_permutation_each_epoch():
    dataset = make_dataset(*_split(), batch_size=128, shuffle_buffer=200, seed=7)
    first_images, first = _epoch(dataset)
    _, second = _epoch(dataset)
    assert sorted(first.tolist()) == list(range(N)) == sorted(second.tolist())
    np.testing.assert_array_equal(first_images[:, 27, 27, 0], first)  # pairs stay together
    assert not np.array_equal(first, second)  # reshuffled every epoch
    _, again = _epoch(make_dataset(*_split(), batch_size=128, shuffle_buffer=200, seed=7))
    np.testing.assert_array_equal(first, again)


def test_index_shuffle_orders_like_a_record_shuffle():
    # The same seeded shuffle over the examples themselves (the streaming way) gives the
    # same order, so feeding from memory changes no result.
    _, labels = _epoch(make_dataset(*_split(), batch_size=100, shuffle_buffer=50, seed=3))
    records = tf.data.Dataset.from_tensor_slices(_split()[1]).shuffle(50, seed=3)
    np.testing.assert_array_equal(labels, [r.numpy() for r in records])
