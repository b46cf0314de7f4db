"""`python -m incentives`: the command line."""

from .cli.main import main

main()
