"""``flask --app wsgi export evaluation --out DIR``: the evaluator's Frictionless Data Package.

Writes ``DIR/datapackage.json`` and ``DIR/data/<resource>.csv`` (see
``crm.services.evaluation_export``); ``frictionless validate DIR/datapackage.json`` checks it.
A folder that already holds files is refused unless ``--overwrite`` is given (then the package's
own files are replaced; anything else in the folder is left alone).
"""
from pathlib import Path

import click
from flask.cli import AppGroup

from crm.cli.common import as_cli_admin
from crm.services.evaluation_export import build_package

export_cli = AppGroup("export", help="Export data for others (the evaluator's data package).")


@export_cli.command("evaluation")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write datapackage.json and data/*.csv to (created if missing).")
@click.option("--overwrite", is_flag=True, help="Write into a folder that already holds files.")
@as_cli_admin
def evaluation(out_dir: Path, overwrite: bool):
    """The evaluation data package: municipalities and stage history, plans, activities, fidelity
    reviews with item scores and aggregate outcomes, without personal data or free text."""
    if out_dir.exists() and any(out_dir.iterdir()) and not overwrite:
        raise click.ClickException(f"{out_dir} is not empty; give --overwrite to replace the package in it.")
    package = build_package()
    try:
        for path, data in package.files.items():
            target = out_dir / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    except OSError as exc:
        raise click.ClickException(f"Cannot write {out_dir}: {exc.strerror or exc}") from exc
    rows = sum(package.row_counts.values())
    click.echo(f"Wrote the evaluation data package ({len(package.row_counts)} resources, {rows} rows) "
               f"to {out_dir / 'datapackage.json'}.", err=True)
