"""PDF reports: a project's overview dashboard or a chosen set of insights as a PDF, built on demand
(`POST /export/report.pdf`) or emailed on a schedule by the alerting leader.

    spec.py       the report a caller asks for (parsed from JSON, every input bounded)
    content.py    its numbers, from the same analytics functions the GraphQL resolvers call
    charts.py     line and bar charts as reportlab drawings
    render.py     the PDF document: title, range, KPIs, a chart and a table per item (fonts.py: its fonts)
    builder.py    spec to PDF bytes under a time budget, rendering off the event loop
    schedule.py   when a scheduled report runs next, and which range it covers (project timezone, DST-safe)
    routes.py     the HTTP endpoint
    types.py, queries.py, mutations.py   GraphQL for report schedules
"""
