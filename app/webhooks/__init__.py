"""Change notifications (webhooks): subscriptions of API tokens, the event outbox and its delivery."""
