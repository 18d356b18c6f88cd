"""Tests of the SDK (smmpanel.client) and the smm command line."""
