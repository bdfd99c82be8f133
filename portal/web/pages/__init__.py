"""The page groups under `/web`, one module each; `portal.web.router` mounts them all."""
