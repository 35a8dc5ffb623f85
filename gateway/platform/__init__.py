"""What every feature stands on: settings, the database and its schema, errors, logging,
the clock, the runtime."""
