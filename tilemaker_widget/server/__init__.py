"""The jupyter-server extension: HTTP transport for the API (`tilemaker_widget.api`)."""
