"""Every code system, and every code, the gateway uses outside FHIR core, by domain.

Each code names its source. Standard systems (DICOM, HL7 terminology, IHE BALP) are used
only with codes they define; where no standard code fits, the code lives in a CodeSystem
the gateway owns, under ``https://fhir.mh-gateway.example.org/CodeSystem/<name>``, and its
identifier systems under ``https://fhir.mh-gateway.example.org/Id/<name>``.
"""


def catalogue() -> dict[str, object]:
    """Every name the domain modules define: the whole catalogue, for listing it."""
    from core.codes import (  # noqa: PLC0415 (each imports this package)
        audit,
        common,
        handover,
        restrictions,
        safeguarding,
        sharing,
    )

    return {
        **vars(common),
        **vars(audit),
        **vars(sharing),
        **vars(handover),
        **vars(safeguarding),
        **vars(restrictions),
    }
