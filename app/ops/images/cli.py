"""`trader images build`: the lab's container images as docker-archive files (no registry)."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

images_cli = typer.Typer(
    help="The lab's container images, built from Debian packages and PyPI wheels.", no_args_is_help=True
)
console = Console(stderr=True)


@images_cli.command("build")
def build_command(
    only: Annotated[
        list[str] | None,
        typer.Option("--only", help="Build only this image (repeatable); default: every image."),
    ] = None,
) -> None:
    """Build the images whose recipe changed (cached otherwise); write manifest.json next to them."""
    from app.ops.images.build import build, images_home
    from app.ops.images.recipes import recipes
    from app.ops.lab.image import LabError

    names = list(recipes())
    if only and (unknown := [n for n in only if n not in names]):
        console.print(
            f"[red]images build:[/red] unknown --only {', '.join(unknown)}; choose from {', '.join(names)}"
            + (" (Grafana has no lab image: no Debian package, no registry)" if "grafana" in unknown else "")
        )
        raise typer.Exit(2)
    started = time.monotonic()
    try:
        with console.status("checking the image cache") as status:
            built = build(only or None, report=lambda msg: status.update(msg))
    except LabError as exc:  # ImageError, or a failed build step (named, with its log)
        console.print(f"[red]images build failed:[/red] {exc}")
        raise typer.Exit(1) from None
    table = Table("image", "tag", "size", "state")
    for image in built.values():
        state = "cached" if image.cached else "built"
        table.add_row(image.name, image.tag, f"{image.bytes / 2**20:.0f} MiB", state)
    console.print(table)
    # Paths on their own lines, never wrapped, so they can be pasted.
    for image in built.values():
        console.print(f"{image.name}: {image.archive}", soft_wrap=True)
    console.print(
        f"{len(built)} image(s) in {time.monotonic() - started:.0f} s; "
        f"manifest: {images_home() / 'manifest.json'}\n"
        "load one on a Docker host with: docker load -i <archive>",
        soft_wrap=True,
    )
