"""Deposits and payment gateways: customers fund their balance, credited exactly once."""
