"""An exporter's registration in the browser (being built)."""
