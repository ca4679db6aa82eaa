"""Demo dataset (filled in by `flask demo load`)."""
import click

demo_cli = click.Group("demo", help="Demo dataset.")
