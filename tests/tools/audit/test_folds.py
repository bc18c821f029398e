import dataclasses

import numpy as np
import pytest

from pipeline import codec, dataset, schema, tfrecord, transform
from pipeline.errors import PipelineError
from tests.support.records import PETS, default_params, tinted_examples
from tools.audit import folds


def _split(tmp_path, keys, images, labels, data=PETS) -> dataset.SplitInput:
    """Processed training records of `images` (uint8), as preprocess writes them."""
    file = str(tmp_path / schema.split_file(schema.TRAIN))
    scaled = transform.scale_pixels(images)
    tfrecord.write_tfrecords(file, map(codec.encode_example, keys, scaled, labels))
    return dataset.SplitInput([file], len(keys), data)


def _with_copies(keys, images, labels, copies: int):
    """Each example followed by `copies` augmented copies of it (the same image here)."""
    keys = [k for key in keys for k in (key, *(schema.copy_key(key, c + 1) for c in range(copies)))]
    return keys, np.repeat(images, copies + 1, axis=0), np.repeat(labels, copies + 1)


def test_an_augmented_copy_is_in_its_sources_fold_and_the_seed_moves_folds(tmp_path):
    split = _split(tmp_path, *_with_copies(*tinted_examples(PETS, schema.TRAIN, 200), copies=2))
    assigned = folds.assign(split, 5, seed=42)
    assert assigned.of.shape == (600,)
    by_source = assigned.of.reshape(200, 3)
    assert (by_source == by_source[:, :1]).all()  # never trained on while its source is out
    assert sorted(set(assigned.of.tolist())) == [0, 1, 2, 3, 4]
    assert assigned.sources_per_class.tolist() == [50, 50, 50, 50]  # copies aside
    assert not np.array_equal(folds.assign(split, 5, seed=7).of, assigned.of)


def test_more_folds_than_a_class_has_examples_is_one_line_naming_the_most(tmp_path):
    keys, images, labels = tinted_examples(PETS, schema.TRAIN, 40)  # 10 of each class
    split = _split(tmp_path, keys, images, labels)
    with pytest.raises(PipelineError) as raised:
        folds.assign(split, 11, seed=42)
    assert str(raised.value) == (
        "--folds 11: class 'cat' has 10 training examples (copies aside); use --folds 10 or fewer"
    )
    folds.assign(split, 10, seed=42)  # as many as the class has: each fold holds one out


def test_an_empty_split_is_one_line():
    with pytest.raises(PipelineError, match="the train split is empty; re-run preprocess"):
        folds.assign(dataset.SplitInput([], 0, PETS), 5, seed=42)


def test_out_of_fold_probabilities_find_the_flipped_labels(tmp_path):
    keys, images, labels = tinted_examples(PETS, schema.TRAIN, 400)
    flipped = np.array([7, 101, 250, 333])
    labels = labels.copy()
    labels[flipped] = (labels[flipped] + 2) % PETS.num_classes
    split = _split(tmp_path, keys, images, labels)
    params = dataclasses.replace(
        default_params().train, hidden_layer_size=32, epochs=8, batch_size=20, buffer_size=400
    )
    assigned = folds.assign(split, 2, seed=params.seed)
    gathered = folds.out_of_fold(split, assigned, 2, params)
    ranked = gathered.rank()
    assert set(flipped.tolist()) <= set(ranked.indices.tolist())
    assert len(ranked.indices) <= 2 * len(flipped)
    assert np.array_equal(ranked.given, labels[ranked.indices])
