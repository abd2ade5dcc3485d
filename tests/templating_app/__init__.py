"""A tiny site package for the templating tests: its ``templates/`` is the app's folder."""
