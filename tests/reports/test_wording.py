"""The report's wording of numbers: no "1.37 to 1.37", no "-0.00"."""

import pandas as pd

from reports.compare import _trail
from reports.wording import number, span


def test_a_range_whose_ends_read_the_same_is_one_number():
    assert span(1.371, 1.368) == "1.37" and span(1.2, 3.456) == "1.20 to 3.46"
    assert span(512, 970, "g") == "512 to 970" and span(512, 512, "g") == "512"
    assert number(-0.001) == "0.00" and number(-0.001, "+.2f") == "+0.00" and number(-0.5) == "-0.50"


def test_the_others_trail_the_best_in_words_that_agree_with_the_numbers():
    assert _trail(pd.Series([-1.0, -2.5])) == "the others trail by 1.00 to 2.50 points"
    assert _trail(pd.Series([-1.0, -1.001])) == "the others trail by 1.00 points"
    assert _trail(pd.Series([0.001, -0.002])) == "the others are level with it (0.00 points)"
    # ahead of the best on the seeds both ran (the best is best by its mean over all its seeds)
    assert _trail(pd.Series([0.4, -1.0])) == "the others differ from it by -1.00 to +0.40 points"
