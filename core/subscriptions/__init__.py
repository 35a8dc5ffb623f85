"""FHIR R4 Subscriptions (rest-hook) as values: what a Subscription asks for (its
criteria, channel and status) and where the gateway may call back."""
