"""One module per subcommand of the `wirefuse` CLI (see wirefuse.cli)."""
