from components.preprocess import protocol
from pipeline.stats import SplitStats


def test_the_outcome_reads_back_what_the_pipeline_wrote(tmp_path):
    split = SplitStats(3, 6, (1, 2, 0, 0, 0, 0, 0, 0, 0, 0), (0.1,), (0.3,))
    rgb = SplitStats(4, 4, (1, 1, 1, 1), (0.1, 0.2, 0.3), (0.3, 0.2, 0.1))
    outcome = protocol.Outcome({"train": split, "test": rgb}, ["train: something"])
    mark = protocol.StartMark(str(tmp_path))
    assert not mark.left()
    mark.leave()
    protocol.write_outcome(outcome, str(tmp_path))
    assert protocol.read_outcome(str(tmp_path)) == outcome
    assert not mark.left()  # what only the launcher reads is gone: stats.json stays
    assert [p.name for p in tmp_path.iterdir()] == ["stats.json"]
