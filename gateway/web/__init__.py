"""The HTTP edge every feature's routes share: request context, bodies, responses, errors
as OperationOutcomes, connection limits."""
