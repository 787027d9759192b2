"""The web UI: server-rendered pages over the same services as the API.

Pages are Jinja2 templates; forms work without JavaScript, and htmx (pinned in
``vendor.py``) swaps parts of a page where that helps. No business rule lives
here: a page reads through a domain's repository or service and writes through
its service, exactly as the API route beside it does.
"""
