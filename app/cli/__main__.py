"""`python -m app.cli`: the same as the `shixian` script."""

from app.cli import main

main()
