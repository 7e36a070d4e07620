"""The ``dossier`` command line (Typer): thin commands over ``app``; errors become exit codes in
``cli.main`` only."""
