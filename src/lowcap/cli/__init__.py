"""The `lowcap` command line."""


def main() -> None:
    """The `lowcap` console script. The command's modules load when it runs, not when this
    package is imported: a figure worker, started by `spawn`, imports the parent's script
    again, and from here that costs nothing (from `lowcap.cli.main` it cost every worker
    torch and scikit-learn, about 3.5 s of CPU)."""
    from lowcap.cli.main import main as run

    run()
