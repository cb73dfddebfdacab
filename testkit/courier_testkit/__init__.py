"""Test support shared by the components' own test suites (never by their code).

Web and worker never import each other; their component tests may both use
what is here. Each component's pytest configuration puts this folder on the
path (``pythonpath = ["../testkit"]``).
"""
