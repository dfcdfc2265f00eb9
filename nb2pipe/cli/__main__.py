"""`python -m nb2pipe.cli`, as the `nb2pipe` script."""

from nb2pipe.cli import main

main()
