"""Keep a public, anonymous, read-only portal harmless.

The layers, each usable and testable on its own:

- `connection`: every SQLite connection the portal serves from refuses writes, ATTACH, extension
  loading, state-changing PRAGMAs and functions that leak memory addresses, and caps how much one
  query may return;
- `guard`: an ASGI wrapper in front of Datasette that refuses malformed or oversized requests
  with the project's JSON error, adds the security headers to every response and never lets a
  redirect leave the site;
- `errors`: Datasette errors caused by request input are answered as 400, not 500;
- `bulkhead` (with `sqlpool`, `sqlworker`, `admission` and `streams`): visitor SQL runs in worker processes of its own,
  killed at the deadline, within one time budget per request and a few requests per client, with
  bounded results and responses.
"""
