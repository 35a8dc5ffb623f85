"""The person's safeguarding picture as the reader may see it (core.safeguarding.picture):
their open safeguarding actions and their restrictions in force, each read through the
reader's own services, so consent and the agreements decide what is in it and every
record read is in the access log like any other read."""

from __future__ import annotations

from collections.abc import Mapping

from core.codes import safeguarding as codes
from core.fhir.identifiers import is_valid_nhs_number
from core.safeguarding.picture import OpenAction, SafeguardingPicture
from gateway.safeguarding.restrictions import RestrictionService
from gateway.safeguarding.service import ActionView, SafeguardingService


class PictureReader:
    def __init__(
        self,
        actions: SafeguardingService,
        restrictions: RestrictionService,
        organisation_names: Mapping[str, str],
    ) -> None:
        self._actions = actions
        self._restrictions = restrictions
        self._names = dict(organisation_names)

    def of(self, nhs_number: str | None) -> SafeguardingPicture:
        """The picture of the person with `nhs_number`; empty for a person known only by
        a local identifier (safeguarding records name people by NHS number)."""
        if nhs_number is None or not is_valid_nhs_number(nhs_number):
            return SafeguardingPicture()
        actions = self._actions.find(patient=nhs_number, state="open")
        return SafeguardingPicture(
            actions=tuple(self._open_action(view) for view in actions),
            restrictions=self._restrictions.in_force(nhs_number, self._names),
        )

    def _open_action(self, view: ActionView) -> OpenAction:
        row = view.row
        kind = codes.ACTION_KINDS.get(row.kind)
        what = kind.display if kind is not None else row.kind
        description = view.task.get("description")
        if isinstance(description, str) and description:
            what = f"{what}: {description}"
        owner = self._names.get(row.owner_ods, row.owner_ods)
        team = [p.get("text") for p in view.task.get("performerType", []) if isinstance(p, Mapping)]
        if team and team[0]:
            owner = f"{owner} ({team[0]})"
        return OpenAction(
            reference=f"Task/{row.task_id}",
            what=what,
            owner=owner,
            status=row.status,
            due=row.deadline,
            overdue=row.overdue_at(view.now),
        )
