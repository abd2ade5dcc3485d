"""kettle notes: a small multi-user notes site, the example app of kettle.

``examples.notes.app`` holds ``create_app()`` and the module-level ``app`` that
``kettle run examples.notes.app:app`` serves; see README.md beside this file.
"""
