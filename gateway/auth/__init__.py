"""Who is calling: SMART Backend Services tokens, scopes, rate limits, end-user context."""
