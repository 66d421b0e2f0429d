"""`python -m lowcap.cli` runs the `lowcap` command."""

from lowcap.cli.main import main

main()
