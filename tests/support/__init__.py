"""Helpers the tests share: servers, the browser, notebook runs, the figures report."""
