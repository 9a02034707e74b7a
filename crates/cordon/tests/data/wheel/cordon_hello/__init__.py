"""A tiny pure-Python package, installed from a local wheel by cordon's workload tests."""


def greet(name):
    return f"hello, {name}"
