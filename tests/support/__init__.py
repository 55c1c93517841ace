"""What the test modules share: fixtures live in tests/conftest.py, everything else here, one
module per kind of helper. No test module imports another test module."""
