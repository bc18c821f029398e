"""Preprocess: an Apache Beam pipeline that scales, splits, augments and checks the records.

- `stage`: the stage's entry and `preprocess()`;
- `transforms`: the Beam pipeline (read, split off validation, write, check);
- `keys`: what an example's key decides (validation, hash buckets);
- `shards`: the writers, a split's scaled shards with augmented copies;
- `augment`: elastic distortions of digits;
- `checks`: the data checks and statistics, computed inside the pipeline;
- `runner`: Beam runner settings checked before the run, and running it to the end.
"""
