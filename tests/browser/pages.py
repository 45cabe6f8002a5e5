"""Test pages: a customer's shop page that installs the snippet with the README's loader snippet."""

import json

# Chromium's headless user agent says "HeadlessChrome", which ingest rightly marks as a bot (no person,
# no session); the tests stand for a visitor's ordinary Chrome.
VISITOR_USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36"
)

QUEUED = "(JSON.parse(localStorage.getItem('trackmint_queue') || '{}').messages || [])"
"""JavaScript: the messages the snippet keeps in localStorage until the bridge has acknowledged them."""


def shop_page(script_url: str, write_key: str, **init_options: object) -> str:
    """A page with a button, a sign-up form and the loader snippet; `init_options` go to trackmint.init."""
    return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Shop</title>
  <script>
    window.trackmint = window.trackmint || [];
    trackmint.push(["init", {json.dumps(write_key)}, {json.dumps(init_options)}]);
  </script>
  <script async src="{script_url}"></script>
</head>
<body>
  <main id="main">
    <h1>Shop</h1>
    <a id="home" href="#top">Home</a>
    <div class="actions"><button id="buy" class="btn primary">  Buy
      now </button></div>
    <form id="signup" name="signup" action="/thanks" method="post" onsubmit="event.preventDefault()">
      <input name="email" value="ada@example.com">
      <input name="plan" value="pro">
      <input type="password" name="pw" value="hunter2" autocomplete="new-password">
      <input name="card_number" value="4111111111111111">
      <input name="cvc" value="123">
      <input name="api_token" value="tok_secret">
      <input type="hidden" name="csrf" value="csrf-value">
      <button type="submit" id="signup-submit">Sign up</button>
    </form>
    <p data-trackmint-ignore><button id="private">Not tracked</button></p>
  </main>
</body>
</html>
"""
