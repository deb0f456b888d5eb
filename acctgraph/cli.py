"""The ``acctgraph`` command line: each command parses arguments and makes one library call."""

from __future__ import annotations

import sys

import click

from acctgraph import __version__
from acctgraph.errors import AcctGraphError


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="acctgraph")
def cli() -> None:
    """acctgraph: find the operations behind fake accounts.

    Reads account and exchange tables, links accounts through what they share
    (payment, devices, IPs, email shapes, prompt templates, bursts), finds
    operator clusters and writes evidence an investigator can cite.

    \b
    Example:
      acctgraph simulate --preset tiny --seed 1 --out world/
    """


def main() -> None:
    """Console entry point: run the CLI, turning acctgraph errors into exit status 2."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except AcctGraphError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except OSError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
