"""Tests of the embedded emulator (dynamigrate.emulator)."""
