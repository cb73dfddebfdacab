"""HTTP middleware; the order lives in settings.MIDDLEWARE."""
