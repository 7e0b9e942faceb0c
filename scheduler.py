"""The APScheduler daemon: crawls per source cron, daily report, rechecks (issue 7)."""
