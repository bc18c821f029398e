import fnmatch

from pipeline import schema


def test_each_shard_file_matches_its_splits_pattern_and_no_other():
    names = [schema.split_file(split, n, 3) for split in schema.PROCESSED_SPLITS for n in range(3)]
    for split in schema.PROCESSED_SPLITS:
        matched = [name for name in names if fnmatch.fnmatch(name, schema.split_pattern(split))]
        assert matched == [schema.split_file(split, n, 3) for n in range(3)]


def test_shard_files_sort_in_shard_order():
    names = [schema.split_file("train", n, 12) for n in range(12)]
    assert sorted(names) == names


def test_example_keys_sort_in_source_order_and_copies_never_collide_with_them():
    keys = [schema.example_key("train", n) for n in (0, 9, 10, 999, 59_999)]
    assert sorted(keys) == keys
    copies = {schema.copy_key(key, copy) for key in keys for copy in (1, 2, 10)}
    assert len(copies) == 15 and not copies & set(keys)
