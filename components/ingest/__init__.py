"""Ingest: a tfds dataset (from the offline mirror or downloaded) or a folder of labelled
images, written as TFRecords.

- `stage`: the stage's entry and `ingest()`;
- `source`: the tfds builder and its examples;
- `mirror`: the mirror's IDX files, checked before tfds reads them;
- `folder`: a folder of labelled images instead (`data.dataset: folder`).
"""
