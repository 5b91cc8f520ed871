"""`python -m automl`: the command line."""
from automl.cli import main

raise SystemExit(main())
