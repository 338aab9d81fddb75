"""closeloop: closed-loop referrals between agencies, worked from Slack and email."""
