"""Local fakes of the services closeloop talks to, for tests."""
