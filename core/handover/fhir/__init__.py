"""The handover and escalation datasets as FHIR R4 resources, and back.

One module per resource: `service_request` (the request, its routing and urgency),
`flags` (one Flag per key risk), `communication` (the handover or escalation itself, in
sections), `provenance` (who sent it, and the hash of the dataset as received). `resources`
assembles them; `dataset` maps them back, so a receiver that pulls FHIR gets the same
dataset a receiver of the dataset API does.
"""
