"""What people type: the `nb2pipe` command (cli/, with every rich table and view) and the
IPython extension (ipython.py, `%load_ext nb2pipe`). Nothing imports these but the entry
points."""
