"""The notes site's routers: ``auth`` (register, log in, log out) and ``notes``."""
