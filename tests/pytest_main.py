"""Entry point that lets Bazel's py_test run a pytest file: `main` of every py_test in BUILD."""

import sys

import pytest

if __name__ == "__main__":
    sys.exit(pytest.main(sys.argv[1:]))
