"""Steps of the browser journeys (tests/e2e/test_journeys.py): each one person's action in the UI."""
