"""The DCB0129 risk matrix: likelihood and consequence to a risk rating of 1 to 5.

The categories, the matrix and the acceptability wording are those of NHS Digital's
DCB0129 Implementation Guidance (Amd 24/2018; acceptability from its Table 10
"Example Risk Acceptability Definitions"). The rating is a lookup, not a product.
"""

from __future__ import annotations

from enum import Enum

SOURCE = (
    "DCB0129 Clinical Risk Management: its Application in the Manufacture of Health IT "
    "Systems, Specification and Implementation Guidance (Amd 24/2018), NHS Digital: "
    "https://digital.nhs.uk/data-and-information/information-standards/"
    "information-standards-and-data-collections-including-extractions/"
    "publications-and-notifications/standards-and-collections/"
    "dcb0129-clinical-risk-management-its-application-in-the-manufacture-of-health-it-systems"
)


class Likelihood(Enum):
    """How likely the harm is, with the guidance's interpretation of each category."""

    VERY_HIGH = "very high"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    VERY_LOW = "very low"


class Consequence(Enum):
    """How bad the harm is, least to worst as the columns of the matrix."""

    MINOR = "minor"
    SIGNIFICANT = "significant"
    CONSIDERABLE = "considerable"
    MAJOR = "major"
    CATASTROPHIC = "catastrophic"


LIKELIHOOD_MEANING: dict[Likelihood, str] = {
    Likelihood.VERY_HIGH: "Certain or almost certain; highly likely to occur",
    Likelihood.HIGH: "Not certain but very possible; reasonably expected to occur in the "
    "majority of cases",
    Likelihood.MEDIUM: "Possible",
    Likelihood.LOW: "Could occur but in the great majority of occasions will not",
    Likelihood.VERY_LOW: "Negligible or nearly negligible possibility of occurring",
}

CONSEQUENCE_MEANING: dict[Consequence, str] = {
    Consequence.CATASTROPHIC: "Death or permanent life-changing incapacity, multiple patients",
    Consequence.MAJOR: "Death or permanent life-changing incapacity of one patient; severe "
    "injury or severe psychological trauma, multiple patients",
    Consequence.CONSIDERABLE: "Severe injury or severe psychological trauma of one patient; "
    "minor injury with long recovery or significant psychological trauma, multiple patients",
    Consequence.SIGNIFICANT: "Minor injury with long recovery or significant psychological "
    "trauma of one patient; minor injury, minor psychological upset or inconvenience, "
    "multiple patients",
    Consequence.MINOR: "Minor injury, minor psychological upset or inconvenience of one "
    "patient; any negligible consequence",
}

_COLUMNS = list(Consequence)

# One row per likelihood, one column per consequence (minor ... catastrophic).
_MATRIX: dict[Likelihood, tuple[int, int, int, int, int]] = {
    Likelihood.VERY_HIGH: (3, 4, 4, 5, 5),
    Likelihood.HIGH: (2, 3, 3, 4, 5),
    Likelihood.MEDIUM: (2, 2, 3, 3, 4),
    Likelihood.LOW: (1, 2, 2, 3, 4),
    Likelihood.VERY_LOW: (1, 1, 2, 2, 3),
}

ACCEPTABILITY: dict[int, str] = {
    5: "Unacceptable level of risk",
    4: "Mandatory elimination of hazard or addition of control measure to reduce risk to "
    "an acceptable level",
    3: "Undesirable level of risk. Attempts should be made to eliminate the hazard or "
    "implement control measures to reduce risk to an acceptable level. Shall only be "
    "acceptable when further risk reduction is impractical",
    2: "Acceptable where cost of further reduction outweighs benefits gained or where "
    "further risk reduction is impractical",
    1: "Acceptable, no further action required",
}

# A residual risk at or above this rating may not be carried into a released safety case.
UNACCEPTABLE_FROM = 4


def rating(likelihood: Likelihood, consequence: Consequence) -> int:
    """The matrix's risk rating for this likelihood and consequence."""
    return _MATRIX[likelihood][_COLUMNS.index(consequence)]


def matrix_rows() -> list[tuple[Likelihood, tuple[int, ...]]]:
    """The matrix as printed: likelihood rows, very high first."""
    return [(likelihood, _MATRIX[likelihood]) for likelihood in Likelihood]
