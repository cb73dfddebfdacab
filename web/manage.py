#!/usr/bin/env python
"""Django's manage.py for running the web service from source; same as ``courier-web``."""

from courier_web.__main__ import main

if __name__ == "__main__":
    main()
