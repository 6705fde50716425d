"""paperbot's outside: the Slack app, delivery, the scheduler and the ``paperbot`` command."""
