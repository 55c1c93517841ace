import pytest

# The helpers in tests/support assert too: pytest explains their failures as it does a test's own.
pytest.register_assert_rewrite("tests.support")
