"""Demo dataset: a Flask-free generator (generator.py) and its `flask demo` commands (cli.py)."""
