"""What the test modules share: helpers, test servers and fixtures.

`tests/` is on sys.path (``pythonpath`` in pyproject.toml), so a test module imports
``from support.twins import load_twin``. The fixtures are pytest plugins, registered
once in tests/conftest.py (``pytest_plugins``), which also has pytest rewrite the
asserts of every module here.
"""
