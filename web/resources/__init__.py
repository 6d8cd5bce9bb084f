"""One module per resource group; each exposes `register(app, runtime)`."""
