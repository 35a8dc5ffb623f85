"""The `gateway` command and its subcommands, for operators."""
