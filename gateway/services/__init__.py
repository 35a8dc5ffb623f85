"""Services: one use case each, calling the core and the adapters inside a transaction."""
