"""Tests for the MNIST DVC pipeline."""
