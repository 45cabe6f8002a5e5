"""CSV exports of query results over plain HTTP, under `/export/...`.

`GET /export/events.csv` and `GET /export/persons.csv` stream every matching row in constant memory
(`streaming.py`); `POST /export/<name>.csv` (trends, funnel, retention, activeUsers, sessions, topValues,
backtest) run the GraphQL field of that name with the posted variables and flatten its answer (`analytics.py`).
Callers authenticate like GraphQL (`Authorization: Bearer <access token>`), or, for a browser link, with a
short-lived download token (`downloads.py`); the routes are in `routes.py`.
"""
