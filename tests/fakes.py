"""Obviously fake secret values shared by the tests."""
FAKE_TOKEN = "FAKE-TEST-TOKEN-not-a-real-token-0001"
FAKE_APP_SECRET = "fake-app-secret-for-tests-0001"
FAKE_PIN = "918273"
