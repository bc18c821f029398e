from tools.table import WIDTH, markdown, short_names, table


def test_keys_are_shortened_where_no_other_key_shares_the_last_part():
    keys = ["train.epochs", "train.seed", "preprocess.seed", "preprocess.augment_copies"]
    assert short_names(keys) == {
        "train.epochs": "epochs",
        "train.seed": "train.seed",
        "preprocess.seed": "preprocess.seed",
        "preprocess.augment_copies": "augment_copies",
    }


def test_columns_line_up_and_no_line_is_wider_than_a_terminal():
    lines = table([["a", "bb"], ["ccc", "d"], ["e", "x" * 300]])
    assert lines[:2] == ["a    bb", "ccc  d"]
    assert len(lines[2]) == WIDTH and lines[2].startswith("e    xxx")


def test_a_markdown_table_has_its_rule_and_keeps_a_cell_whole():
    assert markdown(["a", "b"], [["1", "x | y"]]).splitlines() == [
        "| a | b |",
        "|---|---|",
        "| 1 | x \\| y |",
    ]
