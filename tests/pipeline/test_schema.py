from pipeline import schema


def test_split_file_names():
    assert schema.split_file("train") == "train-00000-of-00001.tfrecord"
    assert schema.split_file("test", 2, 4) == "test-00002-of-00004.tfrecord"
