"""The web adapter: FastAPI API and routes, Jinja2 pages, sign-in cookies and CSRF."""
