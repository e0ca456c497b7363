"""CMS webhooks: verifying deliveries, reading them as entry changes, and keeping entries durably."""
