"""The selection stage: every trial as a table row, diagnosed and measured; the choice rule; test figures."""
