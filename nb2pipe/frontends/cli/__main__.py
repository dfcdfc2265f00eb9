"""`python -m nb2pipe.frontends.cli`, as the `nb2pipe` script."""

from nb2pipe.frontends.cli import main

main()
