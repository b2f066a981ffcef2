"""Open, self-hostable Odoo SaaS platform."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("saas-server")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"
