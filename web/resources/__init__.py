"""One module per resource group: classes that take their handles in `__init__`; `web/app.py` routes them."""
