"""One module per `kcore bench` scenario, each exposing `run(ctx: Context) -> None`."""
