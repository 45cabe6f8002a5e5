"""Leader election among alerting replicas: the shared advisory-lock leadership of storage/leadership.py.

Kept as this module so alerting's imports stay put; the campaign itself is shared with the destinations service.
"""

from storage.leadership import Leadership

__all__ = ["Leadership"]
