from tests.fixtures.browser import browser, live_server

__all__ = ["browser", "live_server"]
