from itertools import pairwise

from safety_case.matrix import ACCEPTABILITY, Consequence, Likelihood, matrix_rows, rating

# DCB0129 Implementation Guidance's risk matrix, typed out from the guidance: likelihood
# rows, consequence columns minor, significant, considerable, major, catastrophic.
GUIDANCE = {
    "very high": (3, 4, 4, 5, 5),
    "high": (2, 3, 3, 4, 5),
    "medium": (2, 2, 3, 3, 4),
    "low": (1, 2, 2, 3, 4),
    "very low": (1, 1, 2, 2, 3),
}
COLUMNS = ("minor", "significant", "considerable", "major", "catastrophic")


def test_every_cell_is_the_guidances() -> None:
    for likelihood, row in GUIDANCE.items():
        for consequence, expected in zip(COLUMNS, row, strict=True):
            assert rating(Likelihood(likelihood), Consequence(consequence)) == expected, (
                likelihood,
                consequence,
            )


def test_the_rating_is_a_lookup_not_a_product() -> None:
    assert rating(Likelihood.VERY_HIGH, Consequence.CATASTROPHIC) == 5
    assert rating(Likelihood.VERY_LOW, Consequence.CATASTROPHIC) == 3
    assert rating(Likelihood.MEDIUM, Consequence.MAJOR) == rating(Likelihood.LOW, Consequence.MAJOR)


def test_a_worse_likelihood_or_consequence_never_lowers_the_rating() -> None:
    likelihoods = list(reversed(Likelihood))  # very low ... very high
    for likelihood in likelihoods:
        row = [rating(likelihood, consequence) for consequence in Consequence]
        assert row == sorted(row)
    for consequence in Consequence:
        column = [rating(likelihood, consequence) for likelihood in likelihoods]
        assert column == sorted(column)


def test_the_printed_matrix_is_the_one_applied_and_every_rating_has_its_meaning() -> None:
    for likelihood, ratings in matrix_rows():
        assert ratings == tuple(rating(likelihood, c) for c in Consequence)
    assert set(ACCEPTABILITY) == {1, 2, 3, 4, 5}
    assert ACCEPTABILITY[5] == "Unacceptable level of risk"
    assert ACCEPTABILITY[1] == "Acceptable, no further action required"


def test_consequences_are_ordered_least_to_worst() -> None:
    assert [c.value for c in Consequence] == list(COLUMNS)
    assert all(
        rating(Likelihood.HIGH, a) <= rating(Likelihood.HIGH, b) for a, b in pairwise(Consequence)
    )
