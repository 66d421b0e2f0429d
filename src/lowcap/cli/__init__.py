"""The `lowcap` command line."""
